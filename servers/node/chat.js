// The kit's chat protocol (servers/chat.py) on Node's Socket.IO: the same events and payloads, so
// corelab's python-socketio clients, the Locust chat users and the browser page drive either one.
//
// - on connect the server emits `welcome` {worker: pid};
// - the client emits `join` {room} (acknowledged with {room, worker});
// - the client emits `chat` {room, text, seq, sent_ms}; everyone in the room gets `chat` with the
//   same fields plus `from` (the sender's id) and `worker` (the pid that delivered it).
// Bad events get an `error` event {event, error} naming the problem, never a crash.
//
// Each worker keeps its own sessions and rooms in memory, as in the articles: "WebSocket
// connections handled by one worker cannot receive messages pushed by another". sticky.js adds
// the two fixes they teach: @socket.io/sticky and the Redis adapter.
"use strict";

const PID = process.pid;
const MAX_ROOM_CHARS = 64;
const MAX_TEXT_CHARS = 2000;

class BadEvent extends Error {}

// Python's len() counts code points; a JS string's length counts UTF-16 units.
const chars = (s) => Array.from(s).length;
const head = (s, n) => Array.from(String(s)).slice(0, n).join("");
// The quoting of Python's repr() of a string, so the messages read as servers/chat.py's do.
const pyRepr = (s) => (s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replaceAll("'", "\\'")}'`);
const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

function room(data) {
  if (!isObject(data)) throw new BadEvent('join needs an object {"room": name}');
  const name = data.room;
  if (typeof name !== "string" || name.trim() === "") throw new BadEvent('"room" must be a non-empty string');
  if (chars(name) > MAX_ROOM_CHARS) throw new BadEvent(`"room" must be at most ${MAX_ROOM_CHARS} characters`);
  return name;
}

function chatMessage(data) {
  if (!isObject(data)) throw new BadEvent('chat needs an object {"room", "text", "seq", "sent_ms"}');
  const name = room(data);
  const { text, seq, sent_ms: sentMs } = data;
  if (typeof text !== "string") throw new BadEvent('"text" must be a string');
  if (chars(text) > MAX_TEXT_CHARS) throw new BadEvent(`"text" must be at most ${MAX_TEXT_CHARS} characters`);
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
    throw new BadEvent('"seq" must be a whole number >= 0');
  }
  if (typeof sentMs !== "number" || !Number.isFinite(sentMs)) {
    throw new BadEvent('"sent_ms" must be a number (milliseconds since the epoch)');
  }
  return { room: name, text, seq, sent_ms: sentMs };
}

// Socket.IO on `httpServer`, speaking the kit's protocol; null where the npm packages are missing
// (then only the HTTP endpoints serve: what the primary-cost benchmark needs).
function attachChat(httpServer, { adapter = null } = {}) {
  let Server;
  try {
    ({ Server } = require("socket.io"));
  } catch {
    console.error("socket.io is not installed (python -m servers.node.packages): serving HTTP only");
    return null;
  }
  // serveClient: the kit serves its own vendored client at /static/socket.io.min.js.
  const io = new Server(httpServer, { serveClient: false });
  // Every answer names the process that gave it, Socket.IO's included (servers/app.py's middleware).
  io.engine.on("headers", (headers) => {
    headers["X-Worker-Pid"] = String(PID);
  });
  if (adapter) {
    io.adapter(adapter);
    stampDeliveringWorker(io);
  }

  io.on("connection", (socket) => {
    const reject = (event, problem) => socket.emit("error", { event, error: problem });
    socket.emit("welcome", { worker: PID });

    socket.on("join", (data, ack) => {
      const reply = typeof ack === "function" ? ack : () => {};
      let name;
      try {
        name = room(data);
      } catch (err) {
        if (!(err instanceof BadEvent)) throw err;
        reject("join", err.message);
        return reply({ error: err.message });
      }
      socket.join(name);
      return reply({ room: name, worker: PID });
    });

    socket.on("chat", (data, ack) => {
      const reply = typeof ack === "function" ? ack : () => {};
      let message;
      try {
        message = chatMessage(data);
        if (!socket.rooms.has(message.room)) throw new BadEvent(`join room ${pyRepr(message.room)} before sending to it`);
      } catch (err) {
        if (!(err instanceof BadEvent)) throw err;
        reject("chat", err.message);
        return reply({ error: err.message });
      }
      io.to(message.room).emit("chat", { ...message, from: socket.id, worker: PID });
      return reply({ ok: true });
    });

    socket.onAny((event) => {
      if (event === "join" || event === "chat") return;
      const name = head(event, 40);
      reject(name, `unknown event ${pyRepr(name)}: use join or chat`);
    });
  });
  return io;
}

// With an adapter, a message built once by the sender's worker is delivered by every worker to
// its own room members; "worker" then names the deliverer, as the kit's Redis manager stamps it
// (servers/chat.py, DeliveringWorkerRedisManager). The in-memory adapter encodes each broadcast
// once, locally and for what arrives from Redis alike, so the stamp goes on there. `_encode` is
// socket.io-adapter's, not a documented API: tests/test_node.py checks the stamp.
function stampDeliveringWorker(io) {
  const adapter = io.of("/").adapter;
  const encode = adapter._encode;
  if (typeof encode !== "function") return;
  adapter._encode = function stamped(packet, opts) {
    const data = packet && packet.data;
    if (Array.isArray(data) && data[0] === "chat" && isObject(data[1])) {
      packet = { ...packet, data: ["chat", { ...data[1], worker: PID }, ...data.slice(2)] };
    }
    return encode.call(this, packet, opts);
  };
}

// On a stop or a rolling restart: end every session without Socket.IO's or engine.io's goodbye, so
// that each client reconnects, to a worker that serves (servers/chat.py's GoingAway does the same).
// A client told "close" stays away; a transport that just ends looks like a network failure, and
// the client comes back by itself. So a WebSocket is closed, and a pending long-poll is answered
// with a no-op: the client's next poll finds no session (400) and reconnects. `transport`,
// `discard` and `onClose` are engine.io's internals: tests/test_node.py stops servers with clients.
function endChatSessions(io) {
  if (!io) return;
  for (const client of Object.values(io.engine.clients)) {
    try {
      const transport = client.transport;
      if (transport.name === "polling") {
        if (transport.writable) transport.send([{ type: "noop" }]);
        transport.discard(); // closing it then sends no "close" packet
      }
      client.onClose("transport close");
    } catch (err) {
      console.error(`ending a chat session: ${err.message}`);
    }
  }
}

module.exports = { attachChat, endChatSessions };
