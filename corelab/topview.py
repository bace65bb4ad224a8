"""How `corelab top` draws a frame with rich: core bars and history strips, the process table, totals.

Everything stays readable without colour (``--frames`` output, a log, a test): a bar's length,
the height of each history block and the figures carry the numbers; colour only adds heat.
"""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from corelab.topstate import Frame, ProcRow

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
    text = Text()
    for pct in history:
        if pct is None:  # before top started
            text.append(" ")
            continue
        level = LEVELS[min(len(LEVELS) - 1, int(max(0.0, pct) / 100 * len(LEVELS)))]
        text.append(level, heat(pct))
    return text


def _on_core(rows: list[ProcRow], core: int) -> str:
    """The busy server processes the kernel last ran on this core."""
    busy = [r for r in rows if r.core == core and (r.cpu_pct or 0) >= 5]
    return ", ".join(f"{r.role} {r.pid}" for r in sorted(busy, key=lambda r: -(r.cpu_pct or 0)))


def cores_view(frame: Frame) -> RenderableType:
    lines = [Text(f"cores: {len(frame.cores)}   bar: now   strip: last {len(frame.history[0])} samples, newest right")]
    for core, pct in enumerate(frame.cores):
        line = Text.assemble(f"cpu{core:<3}", bar(pct), f" {pct:5.1f}%  ", strip(frame.history[core]))
        on = _on_core(frame.rows, core)
        if on:
            line.append(f"  {on}", "bold")
        lines.append(line)
    return Group(*lines)


def _figure(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def processes_view(frame: Frame) -> RenderableType:
    table = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=False)
    for name, justify in (
        ("role", "left"),
        ("pid", "right"),
        ("cpu %", "right"),
        ("core", "right"),
        ("rss MB", "right"),
        ("requests", "right"),
        ("req/s", "right"),
        ("state", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in frame.rows:
        role = row.role if row.role in ("primary", "server", "worker") or row.under is None else f" └ {row.role}"
        cpu = Text("…" if row.cpu_pct is None else f"{row.cpu_pct:.1f}", heat(row.cpu_pct or 0))
        table.add_row(
            role,
            str(row.pid),
            cpu,
            _figure(row.core, "d"),
            _figure(row.rss_bytes / MB if row.rss_bytes is not None else None, ".1f"),
            _figure(row.requests, "d"),
            _figure(row.rps, ".1f"),
            row.state or "-",
        )
    return table


def totals_view(frame: Frame) -> RenderableType:
    lines = []
    if frame.locust is None:
        lines.append(Text("load generator: no Locust process found"))
    else:
        count, cpu = frame.locust
        figure = "…" if cpu is None else f"{cpu:.0f}% of a core"
        warn = "  (over 80%: the run measures Locust, not the server)" if cpu is not None and cpu > 80 else ""
        lines.append(Text(f"load generator: locust, {count} process{'es' if count > 1 else ''}, {figure}{warn}"))
    if frame.total_rps is not None:
        lines.append(Text.assemble("server: ", (f"{frame.total_rps:.1f} req/s", "bold"), " (from worker heartbeats)"))
    elif frame.admin_error:
        lines.append(Text(f"req/s: {frame.admin_error}"))
    else:
        lines.append(Text("req/s: needs --admin-port (start the cluster with --admin-port A)"))
    return Group(*lines)


def header_view(frame: Frame, where: str, hz: float) -> RenderableType:
    line = Text.assemble(("corelab top", "bold"), f"  {frame.title}  {where}  {hz:g} Hz  ")
    line.append(time.strftime("%H:%M:%S", time.localtime(frame.wall)))
    health = frame.admin
    if health is not None:
        workers = health.get("workers", [])
        line.append(
            f"\npolicy {health.get('policy')}, {len(workers)}/{health.get('target_workers')} workers, "
            f"{health.get('restarts')} restarts" + (", stopping" if health.get("stopping") else "")
        )
    return line


def render(frame: Frame, where: str, hz: float) -> RenderableType:
    return Group(header_view(frame, where, hz), cores_view(frame), processes_view(frame), totals_view(frame))
