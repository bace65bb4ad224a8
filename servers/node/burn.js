// The unit of CPU load, as servers/burn.py defines it: spin until *this thread* has used `ms`
// milliseconds of CPU. The clock is CPU time, not the wall clock, so a request costs the same CPU
// whether or not the core is shared with the load generator, in Python and in Node alike.
//
// Which clock, measured on Linux (Python's time.thread_time() is exact there):
// - The main thread: process.cpuUsage(), the whole process's CPU (getrusage RUSAGE_SELF). Exact to
//   the microsecond; V8's helper threads add a little, and a burn allocates nothing for them to do.
// - A worker_threads pool thread: the process's clock runs N times too fast while N threads burn,
//   so process.threadCpuUsage() (Node 23.9 and later) where it exists. Linux updates that clock
//   (getrusage RUSAGE_THREAD) only at the scheduler's tick, so a burn overshoots by half a tick on
//   average (2 ms at 250 Hz: a 10 ms burn measured 12 ms); on an older Node, the wall clock, which
//   equals the thread's CPU time while it has a core to itself.
// CLOCK names the clock in use; each process prints it at start-up.
"use strict";

const { isMainThread } = require("node:worker_threads");

const threadClock = !isMainThread && typeof process.threadCpuUsage === "function";
const CLOCK = isMainThread ? "process CPU time" : threadClock ? "thread CPU time" : "wall clock";

function cpuMs() {
  if (isMainThread) {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  }
  if (threadClock) {
    const used = process.threadCpuUsage();
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
