// The Socket.IO chat across workers, as the articles fix it: sticky sessions plus the Redis adapter.
//
//   node servers/node/sticky.js --redis-url redis://127.0.0.1:6379/0 [--port 8000] [--workers N]
//
// "Sticky sessions make sure a user's requests always land on the same worker, so the connection
// (and the handshake) never breaks mid-way. The Redis adapter makes sure that when a worker needs
// to push a message to a user sitting on a different worker, the message can still reach them
// through the shared pub/sub bus." Both, the way Socket.IO's own docs set them up:
//
// - the primary listens itself and hands each connection to a worker with @socket.io/sticky's
//   setupMaster: by the engine.io session id in its first request when it has one, else the next
//   worker in turn (round-robin, not the package's default least-connection, which would send
//   every plain HTTP request to the first worker);
// - each worker's Socket.IO uses @socket.io/redis-adapter over the `redis` client: an emit to a
//   room is published on Redis, and every worker delivers it to its own members of that room.
//
// Without Redis a worker cannot boot: it exits, and the primary stops saying why (cluster.js's rule).
"use strict";

const cluster = require("node:cluster");
const http = require("node:http");
const { setupMaster, setupWorker } = require("@socket.io/sticky");
const {
  CLOCK,
  EXIT_BOOT_FAILED,
  createAppServer,
  drainOnSignals,
  exitOnListenError,
  options,
} = require("./app");

const { port, host, workers: NUM_WORKERS, redisUrl } = options();
const REDIS_BOOT_MS = 5000;

if (!redisUrl) {
  console.error("error: sticky.js needs --redis-url URL (python -m servers.node sticky starts a Redis itself)");
  process.exit(2);
}

if (cluster.isPrimary) {
  console.log(`Primary ${process.pid} starting ${NUM_WORKERS} workers, sticky sessions, Redis adapter`);
  process.env.CORELAB_WORKERS = String(NUM_WORKERS);
  // One pub/sub channel per cluster, so two clusters sharing a Redis keep their rooms apart.
  process.env.CORELAB_CHAT_CHANNEL ??= `corelab-chat-${process.pid}`;

  const httpServer = http.createServer();
  setupMaster(httpServer, { loadBalancingMethod: "round-robin" });
  // Sockets travel to the workers over IPC with the first chunk of their data.
  cluster.setupPrimary({ serialization: "advanced" });
  exitOnListenError(httpServer, `${host}:${port}`);

  const booted = new Set();
  let listening = false;
  let ready = false;
  let stopping = false;
  // Workers whose process has not exited yet. Not cluster.workers: the primary's worker.disconnect()
  // drops a worker from that at once, while the worker still finishes its requests.
  const alive = new Set();
  cluster.on("fork", (worker) => alive.add(worker));
  let exitCode = 0;
  const announce = () => {
    if (!ready && listening && booted.size >= NUM_WORKERS) {
      ready = true;
      console.log("node sticky ready");
    }
  };
  httpServer.listen(port, host, () => {
    listening = true;
    announce();
  });

  for (let i = 0; i < NUM_WORKERS; i += 1) cluster.fork();

  cluster.on("message", (worker, msg) => {
    if (msg && msg.act === "ready") {
      booted.add(worker.id);
      announce();
    } else if (msg && msg.type === "sticky:connection" && msg.ack) {
      // setupMaster's own listener, registered first, has just learnt the session: say so.
      worker.send({ act: "session-known", id: msg.data });
    }
  });

  cluster.on("exit", (worker, code, signal) => {
    alive.delete(worker);
    if (stopping) {
      if (alive.size === 0) process.exit(exitCode);
      return;
    }
    if (!booted.has(worker.id)) {
      console.error(`worker ${worker.process.pid} exited (${signal || code}) before it was ready: stopping`);
      stop(EXIT_BOOT_FAILED);
      return;
    }
    booted.delete(worker.id);
    console.log(`Worker ${worker.process.pid} died (${signal || code}). Restarting...`);
    cluster.fork();
  });

  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    httpServer.close();
    for (const worker of alive) {
      if (worker.isConnected()) worker.send("shutdown");
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
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-adapter");

  // The primary hands this worker connections as soon as it is forked, before Redis answers and
  // setupWorker() listens for them: hold those until then, or their clients wait forever.
  const early = [];
  const hold = (msg, socket) => early.push([msg, socket]);
  process.on("message", hold);

  const boot = async () => {
    const bootStarted = Date.now();
    const pubClient = createClient({
      url: redisUrl,
      socket: {
        // At boot, give up after a few seconds (the worker cannot serve the chat); later, Redis
        // going away is an outage to ride out: retry for as long as it takes.
        reconnectStrategy: (retries) =>
          !ready && Date.now() - bootStarted > REDIS_BOOT_MS ? new Error("Redis unreachable") : Math.min(50 * retries, 500),
      },
    });
    const subClient = pubClient.duplicate();
    let ready = false;
    let lastComplaint = 0;
    for (const client of [pubClient, subClient]) {
      client.on("error", (err) => {
        // Once a second at most: a reconnecting client reports every attempt.
        if (Date.now() - lastComplaint > 1000) console.error(`worker ${process.pid}: Redis: ${err.message}`);
        lastComplaint = Date.now();
      });
    }
    await Promise.all([pubClient.connect(), subClient.connect()]);
    ready = true;
    const adapter = createAdapter(pubClient, subClient, { key: process.env.CORELAB_CHAT_CHANNEL });
    // The worker's own HTTP server never listens: the primary hands it connections.
    const { server, io } = createAppServer({ adapter });
    setupWorker(io);
    awaitSessionRouting(io);
    process.off("message", hold);
    for (const [msg, socket] of early.splice(0)) process.emit("message", msg, socket);
    drainOnSignals(server, io);
    process.send({ act: "ready" });
    console.log(`Worker ${process.pid} ready (CPU burnt by ${CLOCK})`);
  };
  // @socket.io/sticky learns which worker holds a session from a message the worker sends when
  // the session opens, while the handshake's answer is already on its way to the client: a client
  // that sends its next request at once (every Socket.IO client does, over long-polling) can reach
  // the primary first and be routed to another worker, which knows no such session (measured here:
  // 1 to 5 of 6 raw handshakes failed on a loaded 2-core machine). So a new session's id is made
  // here, told to the primary, and only used for the answer once the primary says it knows it.
  function awaitSessionRouting(io) {
    const waiting = new Map();
    process.on("message", (msg) => {
      if (msg && msg.act === "session-known" && waiting.has(msg.id)) {
        waiting.get(msg.id)();
        waiting.delete(msg.id);
      }
    });
    const makeId = io.engine.generateId.bind(io.engine);
    io.engine.generateId = (req) => {
      const id = makeId(req);
      return new Promise((resolve) => {
        waiting.set(id, () => resolve(id));
        process.send({ type: "sticky:connection", data: id, ack: true });
        // The primary is gone or busy: answer anyway after a moment, as the package alone would.
        setTimeout(() => waiting.delete(id) && resolve(id), 1000).unref();
      });
    };
  }

  boot().catch((err) => {
    console.error(`worker ${process.pid} cannot boot: ${err.message} (${redisUrl})`);
    process.exit(EXIT_BOOT_FAILED);
  });
}
