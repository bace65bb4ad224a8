// The kit's one application (servers/app.py), in Node: the same endpoints, answers, headers and
// 400s, so the same Locust scenarios, corelab's clients and tests/test_node.py's contract test
// drive the Python app and the articles' Node code alike.
//
//   GET /                          "hello from pid N\n"
//   GET /work?ms=N[&offload=none|thread]   burns N ms (0 < N <= 1000) of CPU (burn.js), on the
//                                  event loop or in a worker_threads pool (work_pool.js)
//   GET /io?ms=N                   waits N ms (0 < N <= 10000) without CPU
//   GET /health                    {pid, uptime_s, rss_bytes, requests_served}
//   GET /chat, /socket.io/         the chat page and Socket.IO (chat.js)
//
// Every answer carries X-Worker-Pid; bad input gets a 400 with {"error": ...} naming the parameter
// and the allowed range, as servers/params.py words it; unknown paths a JSON 404. Node has no
// process pool to match `offload=process`: it is refused with a 400 that names what is allowed.
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { parseArgs } = require("node:util");
const { burnCpu, CLOCK } = require("./burn");
const { attachChat, endChatSessions } = require("./chat");

const PID = process.pid;
const WORK_CAP_MS = 1000;
const IO_CAP_MS = 10000;
const OFFLOAD_MODES = ["none", "thread"];
// How long a draining process waits for its requests before it closes what is left.
const GRACE_MS = 10000;
// A worker that cannot boot exits with this, and its primary stops (servers/cluster/worker.py's code).
const EXIT_BOOT_FAILED = 70;
const EXIT_ADDRESS_UNAVAILABLE = 3;
const STATIC = path.join(__dirname, "..", "static");
const started = performance.now();
let served = 0;
let pool = null;

class BadInput extends Error {}

// --- query parameters, checked as servers/params.py checks them --------------------------------

const head = (s, n = 40) => Array.from(s).slice(0, n).join("");
// What Python's float() accepts: digits with _ between them, a fraction, an exponent, inf, nan.
const DIGITS = "\\d(?:_?\\d)*";
const PY_FLOAT = new RegExp(
  `^[+-]?(?:(?:${DIGITS})?\\.${DIGITS}(?:[eE][+-]?${DIGITS})?|${DIGITS}\\.?(?:[eE][+-]?${DIGITS})?|inf(?:inity)?|nan)$`,
  "i",
);

function pyFloat(raw) {
  const text = raw.trim();
  if (!PY_FLOAT.test(text)) return null;
  const lower = text.toLowerCase().replace(/^[+]/, "");
  if (lower.endsWith("inf") || lower.endsWith("infinity")) return lower.startsWith("-") ? -Infinity : Infinity;
  if (lower.endsWith("nan")) return Number.NaN;
  return Number(text.replaceAll("_", ""));
}

function positiveMs(query, name, cap) {
  const allowed = `'${name}' must be a number of milliseconds greater than 0 and at most ${cap}`;
  const raw = query.get(name);
  if (raw === null) throw new BadInput(`missing query parameter '${name}': ${allowed}`);
  const value = pyFloat(raw);
  if (value === null) throw new BadInput(`'${name}=${head(raw)}' is not a number: ${allowed}`);
  if (!Number.isFinite(value) || value <= 0 || value > cap) {
    throw new BadInput(`'${name}=${head(raw)}' is out of range: ${allowed}`);
  }
  return value;
}

function choice(query, name, allowed) {
  const raw = query.get(name) ?? allowed[0];
  if (!allowed.includes(raw)) throw new BadInput(`'${name}=${head(raw)}' is not allowed: use one of ${allowed.join(", ")}`);
  return raw;
}

// --- answers ------------------------------------------------------------------------------------

function send(res, status, body, contentType, headers = {}) {
  // Counted when the answer is ready, as servers/request_count.py counts: /health excludes itself.
  served += 1;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  // A length, not chunks, as aiohttp sends it: the same bytes on the wire for the same answer.
  res.writeHead(status, {
    "Content-Type": contentType,
    "Content-Length": bytes.length,
    "X-Worker-Pid": String(PID),
    ...headers,
  });
  res.end(bytes);
}

const json = (res, status, value, headers) =>
  send(res, status, JSON.stringify(value), "application/json; charset=utf-8", headers);
const round3 = (x) => Math.round(x * 1000) / 1000;

function staticFile(name, contentType) {
  let body = null;
  return (req, res) => {
    body ??= fs.readFileSync(path.join(STATIC, name));
    send(res, 200, body, `${contentType}; charset=utf-8`);
  };
}

const routes = {
  "/": (req, res) => send(res, 200, `hello from pid ${PID}\n`, "text/plain; charset=utf-8"),

  "/work": async (req, res, query) => {
    const ms = positiveMs(query, "ms", WORK_CAP_MS);
    const offload = choice(query, "offload", OFFLOAD_MODES);
    const t0 = performance.now();
    if (offload === "none") {
      // On the event loop itself: nothing else in this process moves meanwhile.
      burnCpu(ms);
    } else {
      try {
        pool ??= new (require("./work_pool").WorkerPool)();
        await pool.run(ms);
      } catch (err) {
        return json(res, 503, { error: `the thread pool lost a worker (${err.message}); it was replaced` }, { "Retry-After": "1" });
      }
    }
    return json(res, 200, { pid: PID, ms, offload, elapsed_ms: round3(performance.now() - t0) });
  },

  "/io": async (req, res, query) => {
    const ms = positiveMs(query, "ms", IO_CAP_MS);
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, ms));
    return json(res, 200, { pid: PID, ms, elapsed_ms: round3(performance.now() - t0) });
  },

  "/health": (req, res) =>
    json(res, 200, {
      pid: PID,
      uptime_s: round3((performance.now() - started) / 1000),
      rss_bytes: process.memoryUsage.rss(),
      requests_served: served,
    }),

  "/chat": staticFile("chat.html", "text/html"),
  "/static/socket.io.min.js": staticFile("socket.io.min.js", "application/javascript"),
};

async function handle(req, res) {
  const q = req.url.indexOf("?");
  let pathname = q < 0 ? req.url : req.url.slice(0, q);
  try {
    pathname = decodeURIComponent(pathname);
  } catch {
    // left as sent: it matches no route
  }
  const route = Object.hasOwn(routes, pathname) ? routes[pathname] : null;
  if (route === null) return json(res, 404, { error: "Not Found" });
  // aiohttp's web.get() answers GET and HEAD; anything else is a 405 naming them.
  if (req.method !== "GET" && req.method !== "HEAD") {
    return json(res, 405, { error: "Method Not Allowed" }, { Allow: "GET,HEAD" });
  }
  try {
    return await route(req, res, new URLSearchParams(q < 0 ? "" : req.url.slice(q + 1)));
  } catch (err) {
    if (err instanceof BadInput) return json(res, 400, { error: err.message });
    console.error(`${req.method} ${head(req.url, 200)}: ${err.stack || err}`);
    return res.headersSent ? res.destroy() : json(res, 500, { error: "internal error" });
  }
}

// An HTTP server answering the kit's contract, Socket.IO attached unless `chat` is false.
function createAppServer({ chat = true, adapter = null } = {}) {
  const server = http.createServer(handle);
  // A request the parser refuses (a 70 KB request line, 2,000 headers): a JSON 400 and one log line,
  // as aiohttp answers it, instead of Node's bare 400 or 431.
  server.on("clientError", (err, socket) => {
    if (err.code !== "ECONNRESET") console.error(`refused a malformed request: ${err.code || err.message}`);
    if (!socket.writable) return socket.destroy();
    const body = JSON.stringify({ error: `bad request: ${err.code || err.message}` });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Worker-Pid: ${PID}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  const io = chat ? attachChat(server, { adapter }) : null;
  return { server, io };
}

// --- the command line and the life of one serving process --------------------------------------

function options() {
  const { values } = parseArgs({
    strict: false,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      workers: { type: "string" },
      "redis-url": { type: "string" },
    },
  });
  // PORT and HOST as the articles (and PM2's ecosystem file) pass them; the flags win.
  const port = Number(values.port ?? process.env.PORT ?? "8000");
  const host = values.host ?? process.env.HOST ?? "127.0.0.1";
  const workers = Number(values.workers ?? process.env.CORELAB_WORKERS ?? "2");
  if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(workers) || workers < 1) {
    console.error("usage: node <variant>.js [--port 0..65535] [--host ADDR] [--workers N>=1] [--redis-url URL]");
    process.exit(2);
  }
  return { port, host, workers, redisUrl: values["redis-url"] ?? process.env.CORELAB_CHAT_REDIS_URL ?? null };
}

function exitOnListenError(server, where) {
  server.on("error", (err) => {
    if (err.code === "EADDRINUSE") {
      console.error(`error: ${where} is already in use: stop what is listening there or pick another --port`);
      process.exit(EXIT_ADDRESS_UNAVAILABLE);
    }
    console.error(`error: cannot listen on ${where}: ${err.message}`);
    process.exit(EXIT_BOOT_FAILED);
  });
}

// Stop gracefully on SIGTERM or SIGINT, or on the primary's "shutdown" message (the articles'
// rolling restart sends it): stop accepting, let requests in flight finish, end chat sessions so
// their clients reconnect elsewhere, then exit; after GRACE_MS close whatever is left. Requests are
// counted here, not left to server.close()'s callback: a connection handed over by @socket.io/sticky
// is injected into the server and never counted among its connections.
function drainOnSignals(server, io) {
  let draining = false;
  let active = 0;
  const exitWhenIdle = () => {
    if (draining && active === 0) process.exit(0);
  };
  server.on("request", (req, res) => {
    active += 1;
    res.on("close", () => {
      active -= 1;
      exitWhenIdle();
    });
  });
  const drain = () => {
    if (draining) return;
    draining = true;
    endChatSessions(io);
    server.close();
    // Keep-alive connections wait for their next request: close each as soon as it is idle.
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 100).unref();
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, GRACE_MS).unref();
    // Answered long-polls close in a moment: give them that moment before counting.
    setImmediate(exitWhenIdle);
  };
  process.on("SIGTERM", drain);
  process.on("SIGINT", drain);
  process.on("message", (msg) => {
    if (msg === "shutdown") drain();
  });
}

module.exports = {
  CLOCK,
  EXIT_BOOT_FAILED,
  EXIT_ADDRESS_UNAVAILABLE,
  createAppServer,
  drainOnSignals,
  exitOnListenError,
  options,
};
