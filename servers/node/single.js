// One Node process: the articles' starting point. "Node.js runs on a single thread. A 32-core
// machine running a single Node.js process uses one core and leaves 31 idle."
//
//   node servers/node/single.js [--port 8000] [--host 127.0.0.1]     (or PORT=8000)
//
// CPU work on the event loop (/work?ms=N) blocks every other request of this process; with
// /work?ms=N&offload=thread it goes to a worker_threads pool instead (work_pool.js). PM2's cluster
// mode runs this same file once per instance (pm2.config.js). Stops gracefully on SIGTERM/SIGINT.
"use strict";

const { CLOCK, createAppServer, drainOnSignals, exitOnListenError, options } = require("./app");

const { port, host } = options();
const { server, io } = createAppServer();
exitOnListenError(server, `${host}:${port}`);
server.listen(port, host, () => {
  console.log(`node ${process.pid} listening on http://${host}:${port} (${process.version}; CPU burnt by ${CLOCK})`);
});
drainOnSignals(server, io);
