# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Shared memory and locks
#
# **Claim.** `multiprocessing.shared_memory.SharedMemory` is Python's SharedArrayBuffer: bytes that
# several processes map at once. `counter[0] += 1` on it is three steps (read, add, write back), so
# two processes on two cores that add at the same time overwrite each other's additions: updates
# are lost. A `multiprocessing.Lock` makes the count exact, at a cost per operation. Counting
# privately and adding the total once under the lock is exact and cheap.
#
# **What plays the part of Atomics.** Python's standard library has no atomic operations on shared
# memory: nothing like `Atomics.add` or `Atomics.compareExchange`. `multiprocessing.Lock`, `RLock`
# and `Value` (whose `get_lock()` you must hold yourself: `value.value += 1` is not atomic) play the
# lock; `Condition`, `Event` and `Semaphore` play `Atomics.wait`/`notify`. The GIL makes some
# operations atomic between the threads of one process, never between processes. Lock-free atomics
# on a buffer exist only in third-party packages (for example `atomics` on PyPI).
#
# **Measurement.** `corelab.lessons.one_process.shared_counter` starts two processes that wait at a barrier, then each
# adds to one 64-bit counter in shared memory: without a lock, with a lock per addition, and batched.

# %%
from corelab import pick, plot_shared_counter
from corelab.lessons.one_process.shared_counter import run_shared_counter

# %%
counter = run_shared_counter(processes=2, increments=pick(500_000, 100_000))
counter.table.round(3)

# %%
fig = plot_shared_counter(counter)

# %%
counter

# %% [markdown]
# **What to notice.** The lost updates are not rare accidents: two cores adding at once lose a
# large share. A lock per operation is correct and slow (a system call when it is contended);
# sharing less, and synchronising once per batch, is correct and fast.
