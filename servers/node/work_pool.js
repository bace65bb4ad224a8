// worker_threads for /work?offload=thread: the articles' fix for CPU work that blocks the event loop.
//
//   "Worker threads allow you to run CPU-heavy tasks in parallel threads. Instead of blocking the
//    event loop, work is offloaded."  "Worker pool — reuse workers instead of spawning per task."
//
// One file, two roles, as the articles write it: loaded by `new Worker(__filename)` it is a pool
// thread that burns what it is sent; required from the main thread it exports WorkerPool. The
// pool is made on the first offloaded request and sized as servers/app.py sizes its pools: this
// process's share of the cores (cores / CORELAB_WORKERS), so N workers do not start N pools of
// every core. A thread that dies fails its one request (503, as the Python pool does) and is replaced.
"use strict";

const os = require("node:os");
const { Worker, isMainThread, parentPort } = require("node:worker_threads");
const { burnCpu } = require("./burn");

if (!isMainThread) {
  // Worker thread: do the CPU-intensive work, then say which task is done.
  parentPort.on("message", ({ id, ms }) => {
    burnCpu(ms);
    parentPort.postMessage({ id });
  });
}

function poolShare() {
  const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  const sharing = Math.max(1, Number.parseInt(process.env.CORELAB_WORKERS || "1", 10) || 1);
  return Math.max(1, Math.floor(cores / sharing));
}

class WorkerPool {
  constructor(size = poolShare()) {
    this.size = size;
    this.idle = [];
    this.busy = new Map(); // thread -> its task
    this.queue = [];
    this.nextId = 0;
    for (let i = 0; i < size; i += 1) this.idle.push(this.spawn());
  }

  spawn() {
    const thread = new Worker(__filename);
    // The pool never keeps the process alive by itself: a draining server exits when its requests are done.
    thread.unref();
    thread.on("message", () => this.finished(thread));
    thread.on("error", (err) => this.lost(thread, err));
    thread.on("exit", (code) => this.lost(thread, new Error(`pool thread exited with code ${code}`)));
    return thread;
  }

  run(ms) {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: (this.nextId += 1), ms, resolve, reject });
      this.dispatch();
    });
  }

  dispatch() {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const thread = this.idle.pop();
      const task = this.queue.shift();
      this.busy.set(thread, task);
      thread.postMessage({ id: task.id, ms: task.ms });
    }
  }

  finished(thread) {
    const task = this.busy.get(thread);
    this.busy.delete(thread);
    this.idle.push(thread);
    if (task) task.resolve();
    this.dispatch();
  }

  lost(thread, err) {
    const wasIdle = this.idle.indexOf(thread);
    if (wasIdle >= 0) this.idle.splice(wasIdle, 1);
    else if (!this.busy.has(thread)) return; // its 'error' came first; this is its 'exit'
    const task = this.busy.get(thread);
    this.busy.delete(thread);
    if (task) task.reject(err);
    this.idle.push(this.spawn());
    this.dispatch();
  }
}

module.exports = { WorkerPool };
