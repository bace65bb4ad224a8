"""How `corelab top` draws a frame with rich: core bars and history strips, the process table, totals.

Everything stays readable without colour (``--frames`` output, a log, a test): a bar's length,
the height of each history block and the figures carry the numbers; colour only adds heat.
"""

from __future__ import annotations

import time

from rich.console import RenderableType
from rich.text import Text

from corelab.live.topstate import Frame, ProcRow

BAR_WIDTH = 24
LEVELS = "▁▂▃▄▅▆▇█"
MB = 1024 * 1024


def heat(pct: float) -> str:
    """The colour of a utilisation: grey when idle, through green and yellow, to red when full."""
    for limit, colour in ((10, "grey50"), (40, "green"), (70, "yellow"), (90, "dark_orange")):
        if pct < limit:
            return colour
    return "red"


def bar(pct: float, width: int = BAR_WIDTH) -> Text:
    filled = round(max(0.0, min(pct, 100.0)) / 100 * width)
    return Text.assemble(("█" * filled, heat(pct)), ("░" * (width - filled), "grey23"))


def strip(history: list[float | None]) -> Text:
    """The core's last samples, oldest first, as blocks whose height and colour say how busy."""
    chars = []
    styles = []
    for pct in history:
        if pct is None:  # before top started
            chars.append(" ")
            styles.append("")
            continue
        chars.append(LEVELS[min(len(LEVELS) - 1, int(max(0.0, pct) / 100 * len(LEVELS)))])
        styles.append(heat(pct))
    text = Text("".join(chars))
    start = 0
    for i in range(1, len(styles) + 1):  # one span per run of a colour, not one per block
        if i == len(styles) or styles[i] != styles[start]:
            if styles[start]:
                text.stylize(styles[start], start, i)
            start = i
    return text


def _on_core(rows: list[ProcRow], core: int) -> str:
    """The busy server processes the kernel last ran on this core."""
    busy = [r for r in rows if r.core == core and (r.cpu_pct or 0) >= 5]
    return ", ".join(f"{r.role} {r.pid}" for r in sorted(busy, key=lambda r: -(r.cpu_pct or 0)))


def cores_view(frame: Frame) -> list[Text]:
    lines = [Text(f"cores: {len(frame.cores)}   bar: now   strip: last {len(frame.history[0])} samples, newest right")]
    for core, pct in enumerate(frame.cores):
        line = Text.assemble(f"cpu{core:<3}", bar(pct), f" {pct:5.1f}%  ", strip(frame.history[core]))
        on = _on_core(frame.rows, core)
        if on:
            line.append(f"  {on}", "bold")
        lines.append(line)
    return lines


def _figure(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


# Fixed-width columns written as plain lines: rich's Table measures every cell on every frame,
# which was most of top's own CPU at 4 Hz.
COLUMNS = "{:<9} {:>7} {:>6} {:>4} {:>7} {:>9} {:>7}  {}"


def processes_view(frame: Frame) -> list[Text]:
    lines = [Text(COLUMNS.format("role", "pid", "cpu %", "core", "rss MB", "requests", "req/s", "state"), "bold")]
    for row in frame.rows:
        role = row.role if row.role in ("primary", "server", "worker") or row.under is None else f" └ {row.role}"
        cpu = "…" if row.cpu_pct is None else f"{row.cpu_pct:.1f}"
        line = COLUMNS.format(
            role,
            row.pid,
            cpu,
            _figure(row.core, "d"),
            _figure(row.rss_bytes / MB if row.rss_bytes is not None else None, ".1f"),
            _figure(row.requests, "d"),
            _figure(row.rps, ".1f"),
            row.state or "-",
        )
        text = Text(line)
        at = line.index(cpu, 9 + 1 + 7)  # colour the cpu figure by heat
        text.stylize(heat(row.cpu_pct or 0), at, at + len(cpu))
        lines.append(text)
    return lines


def totals_view(frame: Frame) -> list[Text]:
    lines = []
    if frame.locust is None:
        elsewhere = f" ({frame.locust_elsewhere} aimed at other servers)" if frame.locust_elsewhere else ""
        lines.append(Text(f"load generator: no Locust aimed at this server{elsewhere}"))
    else:
        count, cpu = frame.locust
        figure = "…" if cpu is None else f"{cpu:.0f}% of a core"
        warn = "  (over 80%: the run measures Locust, not the server)" if cpu is not None and cpu > 80 else ""
        lines.append(Text(f"load generator: locust, {count} process{'es' if count > 1 else ''}, {figure}{warn}"))
    if frame.total_rps is not None:
        lines.append(Text.assemble("server: ", (f"{frame.total_rps:.1f} req/s", "bold"), " (from worker heartbeats)"))
    elif frame.admin is not None:
        lines.append(Text("server: … req/s (after two heartbeats, about 1 s)"))
    elif frame.admin_error:
        lines.append(Text(f"req/s: {frame.admin_error}"))
    else:
        lines.append(Text("req/s: needs --admin-port (start the cluster with --admin-port A)"))
    return lines


def header_view(frame: Frame, where: str, hz: float) -> list[Text]:
    clock = time.strftime("%H:%M:%S", time.localtime(frame.wall))
    lines = [Text.assemble(("corelab top", "bold"), f"  {clock}  {hz:g} Hz  {where}"), Text(frame.title, "cyan")]
    health = frame.admin
    if health is not None:
        workers = health.get("workers", [])
        lines.append(
            Text(
                f"policy {health.get('policy')}, {len(workers)}/{health.get('target_workers')} workers, "
                f"{health.get('restarts')} restarts" + (", stopping" if health.get("stopping") else "")
            )
        )
    return lines


def render(frame: Frame, where: str, hz: float) -> RenderableType:
    # One Text that never wraps: rich then has one thing to lay out per frame, not a line-breaking
    # pass per line (a third of top's CPU), and a narrow terminal cuts lines instead of folding them.
    lines = [*header_view(frame, where, hz), *cores_view(frame), *processes_view(frame), *totals_view(frame)]
    joined = Text("\n").join(lines)
    joined.no_wrap = True
    joined.overflow = "ellipsis"
    return joined
