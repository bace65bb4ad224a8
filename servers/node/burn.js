// The unit of CPU load, as servers/burn.py defines it: spin until *this thread* has used `ms`
// milliseconds of CPU. The clock is CPU time, not the wall clock, so a request costs the same CPU
// whether or not the core is shared with the load generator, in Python and in Node alike.
//
// Node gives a thread's own CPU time as process.threadCpuUsage() (new in Node 23.9; Node 24 has it, Node 20 not). Older
// Nodes have only process.cpuUsage(), the whole process's: right on the main thread (V8's helper
// threads add a little), wrong in a worker_threads pool where several threads burn at once (the
// process's clock runs N times faster), so a pool thread there falls back to the wall clock, which
// equals its CPU time while it has a core to itself. CLOCK names the clock in use; each process
// prints it at start-up, so a measurement on an older Node says what it measured.
"use strict";

const { isMainThread } = require("node:worker_threads");

const threadClock = typeof process.threadCpuUsage === "function";
const CLOCK = threadClock ? "thread CPU time" : isMainThread ? "process CPU time" : "wall clock";

function cpuMs() {
  if (threadClock) {
    const used = process.threadCpuUsage();
    return (used.user + used.system) / 1000;
  }
  if (isMainThread) {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  }
  return performance.now();
}

function burnCpu(ms) {
  const deadline = cpuMs() + ms;
  let rounds = 0;
  let x = 0;
  while (cpuMs() < deadline) {
    // A few thousand operations between clock reads keep the clock's cost (a system call) negligible,
    // as servers/burn.py reads its clock every 200 rounds of bytecode.
    for (let i = 0; i < 2000; i += 1) x = (x * 31 + i) & 0xffff;
    rounds += 1;
  }
  return rounds + (x & 0);
}

module.exports = { burnCpu, CLOCK };
