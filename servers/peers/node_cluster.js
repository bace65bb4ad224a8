// Node's cluster, as a peer to measure servers.cluster against: a primary and N workers on one port.
//
//   node servers/peers/node_cluster.js [--port 8000] [--host 127.0.0.1] [--workers 2]
//
// Node's `cluster` module with its default scheduling, which on Linux is round-robin: the primary
// accepts every connection and hands it to the next worker over IPC, as servers.cluster's rr
// policy does. corelab.lessons.connections.primary_cost_bench starts it to measure what that costs the primary per
// connection. Each worker answers GET / as servers/app.py's `/` does: "hello from pid N\n",
// text/plain, with an X-Worker-Pid header naming the worker. Anything else is a JSON 404.
//
// Nothing is left behind: SIGTERM/SIGINT to the primary stops the workers and then the primary;
// a worker whose primary has gone (even by SIGKILL) loses its IPC channel and exits, and corelab
// starts the whole cluster in its own process group (plumbing.procs.ManagedProcess) and kills
// that group when it stops it. Loopback only unless --host says otherwise.
"use strict";

const cluster = require("node:cluster");
const http = require("node:http");
const process = require("node:process");
const { parseArgs } = require("node:util");

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8000" },
    host: { type: "string", default: "127.0.0.1" },
    workers: { type: "string", default: "2" },
  },
});
const port = Number(values.port);
const workers = Number(values.workers);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(workers) || workers < 1) {
  console.error("usage: node_cluster.js [--port 0..65535] [--host ADDR] [--workers N>=1]");
  process.exit(2);
}

if (cluster.isPrimary) {
  const policy = cluster.schedulingPolicy === cluster.SCHED_RR ? "round-robin" : "shared (the OS decides)";
  console.log(`primary ${process.pid} starting ${workers} workers (${policy}) on http://${values.host}:${port}`);
  let listening = 0;
  let stopping = false;
  cluster.on("listening", () => {
    listening += 1;
    if (listening === workers) console.log("node cluster ready");
  });
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) {
      // A peer for measurements, not a supervisor: a worker that dies stops the run, loudly.
      console.error(`worker ${worker.process.pid} exited (${signal || code}); stopping`);
      stop(1);
    } else if (Object.keys(cluster.workers).length === 0) {
      process.exit(0);
    }
  });
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    for (const worker of Object.values(cluster.workers)) worker.kill("SIGTERM");
    // Never wait long: a worker that ignores SIGTERM gets SIGKILL with the group from corelab anyway.
    setTimeout(() => process.exit(code), 3000).unref();
    if (Object.keys(cluster.workers).length === 0) process.exit(code);
  };
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
  for (let i = 0; i < workers; i += 1) cluster.fork();
} else {
  const server = http.createServer((req, res) => {
    const pid = String(process.pid);
    if (req.method === "GET" && (req.url === "/" || req.url.startsWith("/?"))) {
      const body = `hello from pid ${pid}\n`;
      // A length, not chunks, as aiohttp sends it: the same bytes on the wire for the same answer.
      res.writeHead(200, {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": Buffer.byteLength(body),
        "X-Worker-Pid": pid,
      });
      res.end(body);
    } else if (req.url === "/health" || req.url.startsWith("/health?")) {
      res.writeHead(200, { "Content-Type": "application/json", "X-Worker-Pid": pid });
      res.end(JSON.stringify({ pid: process.pid, uptime_s: process.uptime() }));
    } else {
      res.writeHead(404, { "Content-Type": "application/json", "X-Worker-Pid": pid });
      res.end(JSON.stringify({ error: "Not Found" }));
    }
  });
  server.listen(port, values.host);
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
