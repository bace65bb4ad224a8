// Node's cluster module as the articles write it: a primary forks one worker per core, all sharing
// one port; it replaces a worker that dies, drains on SIGTERM, and restarts its workers one at a
// time on SIGUSR2 (or SIGHUP, the kit's restart signal) so that the server never goes down.
//
//   node servers/node/cluster.js [--port 8000] [--host 127.0.0.1] [--workers N]
//   NODE_CLUSTER_SCHED_POLICY=rr|none   who picks a connection's worker (see below)
//
// "Load balancing is round-robin on Linux": with rr (Node's default outside Windows) the primary
// accepts every connection and hands it to the next worker, as servers.cluster's rr policy does;
// with none every worker accepts on the shared socket and the kernel picks, as the kit's shared
// policy does. Each worker serves the kit's app (app.js), Socket.IO included but with no sticky
// routing: the long-polling handshake breaks here, which sticky.js fixes.
//
// Nothing is left behind: a worker whose primary is gone (even by SIGKILL) loses its IPC channel
// and Node's cluster makes it exit; `python -m servers.node` starts the primary tied to itself.
"use strict";

const cluster = require("node:cluster");
const {
  CLOCK,
  EXIT_BOOT_FAILED,
  createAppServer,
  drainOnSignals,
  exitOnListenError,
  options,
} = require("./app");

const { port, host, workers: NUM_WORKERS } = options();

if (cluster.isPrimary) {
  const policy = cluster.schedulingPolicy === cluster.SCHED_RR ? "round-robin" : "none: the OS decides";
  console.log(`Primary ${process.pid} starting ${NUM_WORKERS} workers (${policy}) on http://${host}:${port}`);
  // The kit's app sizes its thread pool by how many workers share the cores (servers/app.py).
  process.env.CORELAB_WORKERS = String(NUM_WORKERS);

  const booted = new Set(); // ids of workers that reached 'listening'
  let ready = false;
  let stopping = false;
  // Workers whose process has not exited yet. Not cluster.workers: the primary's worker.disconnect()
  // drops a worker from that at once, while the worker still finishes its requests.
  const alive = new Set();
  cluster.on("fork", (worker) => alive.add(worker));
  let restarting = false;
  let exitCode = 0;

  // Fork workers: one per core.
  for (let i = 0; i < NUM_WORKERS; i += 1) cluster.fork();

  cluster.on("listening", (worker) => {
    booted.add(worker.id);
    if (!ready && booted.size >= NUM_WORKERS) {
      ready = true;
      console.log("node cluster ready");
    }
  });

  // Replace dead workers.
  cluster.on("exit", (worker, code, signal) => {
    alive.delete(worker);
    if (stopping) {
      if (alive.size === 0) process.exit(exitCode);
      return;
    }
    if (!booted.has(worker.id)) {
      // One that cannot even listen would crash again: stop, saying why, rather than loop (gunicorn's rule).
      console.error(`worker ${worker.process.pid} exited (${signal || code}) before it listened: stopping`);
      stop(EXIT_BOOT_FAILED);
      return;
    }
    booted.delete(worker.id);
    if (worker.exitedAfterDisconnect) return; // drained on purpose: the rolling restart replaced it
    console.log(`Worker ${worker.process.pid} died (${signal || code}). Restarting...`);
    cluster.fork();
  });

  // Graceful rolling restart: one worker at a time, the new one listening before the old one goes.
  const rollingRestart = async () => {
    if (restarting || stopping) return console.log("a restart or stop is already under way");
    restarting = true;
    console.log("rolling restart: starting");
    const allWorkers = Object.values(cluster.workers).filter(Boolean);
    for (const worker of allWorkers) {
      if (stopping) break;
      await new Promise((resolve) => {
        // Wait for the new worker to come up before stopping the old one.
        const newWorker = cluster.fork();
        newWorker.once("listening", () => {
          console.log(`New worker ${newWorker.process.pid} is ready`);
          // Now gracefully shut down the old worker.
          worker.once("exit", () => {
            console.log(`Old worker ${worker.process.pid} exited`);
            resolve();
          });
          if (worker.isConnected()) {
            worker.send("shutdown");
            worker.disconnect();
          }
        });
        newWorker.once("exit", resolve); // it died booting: 'exit' above stops the cluster
      });
      // Small delay between worker replacements.
      await new Promise((r) => setTimeout(r, 500));
    }
    restarting = false;
    console.log("rolling restart complete");
  };
  process.on("SIGUSR2", rollingRestart);
  process.on("SIGHUP", rollingRestart);

  // SIGTERM / SIGINT: every worker drains (finishes what it serves, ends chat sessions), then the
  // primary exits. Never waits long: a worker that hangs is killed after the grace period.
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const worker of alive) {
      if (worker.isConnected()) {
        worker.send("shutdown");
        worker.disconnect();
      }
    }
    setTimeout(() => {
      for (const worker of alive) worker.process.kill("SIGKILL");
      process.exit(code);
    }, 12000).unref();
    if (alive.size === 0) process.exit(code);
  };
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
} else {
  // Worker process: serve the kit's app. Workers share the same port: the primary holds it.
  const { server, io } = createAppServer();
  exitOnListenError(server, `${host}:${port}`);
  server.listen(port, host, () => {
    console.log(`Worker ${process.pid} listening on port ${port} (CPU burnt by ${CLOCK})`);
  });
  drainOnSignals(server, io);
}
