"""How long to wait before respawning a worker that died: PM2's exponential backoff.

PM2 (``exp_backoff_restart_delay: 100``) waits 100 ms after a crash, then 1.5 times longer
after each crash that follows, up to 15 s; a process that stayed up 30 s starts again at 100 ms.
A crash loop therefore costs a few processes a minute, not thousands, and a single crash is
repaired at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    first_s: float = 0.1
    factor: float = 1.5
    cap_s: float = 15.0
    reset_after_s: float = 30.0
    # The delay chosen after the last crash (0: no crash since the last reset).
    delay_s: float = 0.0

    def after_crash(self, uptime_s: float) -> float:
        """The delay before the next start, given how long the crashed process had been up."""
        if uptime_s >= self.reset_after_s:
            self.delay_s = 0.0
        self.delay_s = self.first_s if self.delay_s == 0 else min(self.cap_s, self.delay_s * self.factor)
        return self.delay_s
