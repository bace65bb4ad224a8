"""How `corelab top` draws a frame with rich: core bars and history strips, the process table, totals.

Everything stays readable without colour (``--frames`` output, a log, a test): a bar's length,
the height of each history block and the figures carry the numbers; colour only adds heat.

The frame fits the terminal it is drawn in, from 1 to 64 cores and more: the header and the totals
(with the generator-bound warning) always show; the cores take a line each while there is room,
else a grid of small cells; the process table lists every process while there is room, else one
line per role (how many, their CPU) and the busiest of them.
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


def _on_core(rows: list[ProcRow], core: int) -> tuple[float, str]:
    """How much of this core the server used (% of the core), and its busy processes the kernel last ran here."""
    busy = sorted((r for r in rows if r.core == core and (r.cpu_pct or 0) >= 5), key=lambda r: -(r.cpu_pct or 0))
    return min(100.0, sum(r.cpu_pct or 0.0 for r in busy)), ", ".join(f"{r.role} {r.pid}" for r in busy)


# "cpu12 " + the bar + " 100.0% " + "server 100%  ": what comes before a core's strip.
LINE_PREFIX = 6 + BAR_WIDTH + 8 + 13


def cores_view(frame: Frame, width: int | None = None) -> list[Text]:
    """A line per core: its bar now, how much of it was the server's, its history strip (as many of the
    newest samples as the width leaves room for), and the server's processes that ran on it."""
    keep = len(frame.history[0]) if width is None else max(8, min(len(frame.history[0]), width - LINE_PREFIX))
    lines = [Text(f"cores: {len(frame.cores)}   bar: now   strip: last {keep} samples, newest right")]
    for i, (core, pct) in enumerate(zip(frame.core_ids, frame.cores, strict=True)):
        share, names = _on_core(frame.rows, core)
        line = Text.assemble(
            f"cpu{core:<3}", bar(pct), f" {pct:5.1f}% ", (f"server {share:3.0f}%  ", "bold" if share else ""),
            strip(frame.history[i][-keep:]),
        )  # fmt: skip
        if names:
            line.append(f"  {names}", "bold")
        lines.append(line)
    return lines


GRID_CELL = 9  # " 12▆ 87% ": a core's id, a block for how busy it is now, and its figure


def cores_grid(frame: Frame, width: int) -> list[Text]:
    """Many cores in little room: a cell per core, as many to a line as the width takes."""
    mean = sum(frame.cores) / len(frame.cores) if frame.cores else 0.0
    idle = sum(1 for pct in frame.cores if pct < 5)
    lines = [Text(f"cores: {len(frame.cores)}, mean {mean:.0f}% busy, {idle} idle (< 5%)   cell: core, now")]
    per_line = max(1, width // GRID_CELL)
    for start in range(0, len(frame.cores), per_line):
        line = Text()
        for core, pct in list(zip(frame.core_ids, frame.cores, strict=True))[start : start + per_line]:
            level = LEVELS[min(len(LEVELS) - 1, int(max(0.0, pct) / 100 * len(LEVELS)))]
            line.append(f"{core:>3}")
            line.append(level, heat(pct))
            line.append(f"{pct:3.0f}% ")
        lines.append(line)
    return lines


def _figure(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


# Fixed-width columns written as plain lines: rich's Table measures every cell on every frame,
# which was most of top's own CPU at 4 Hz.
COLUMNS = "{:<9} {:>7} {:>6} {:>4} {:>7} {:>9} {:>7}  {}"


def processes_view(frame: Frame, room: int | None = None) -> list[Text]:
    """The server's processes, a line each; given ``room`` (lines) and too many of them, a role with
    many processes becomes one summary line, and the busiest of its processes fill what room is left."""
    rows = frame.rows if room is None or len(frame.rows) + 1 <= room else _busiest(frame.rows, room - 1)
    lines = [Text(COLUMNS.format("role", "pid", "cpu %", "core", "rss MB", "requests", "req/s", "state"), "bold")]
    if rows is not frame.rows:
        lines += [Text(line, "italic") for line in _role_summaries(frame.rows)]
    for row in rows:
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


def _role_summaries(rows: list[ProcRow]) -> list[str]:
    """One line per role with more than one process: how many, their CPU together and the busiest."""
    by_role: dict[str, list[ProcRow]] = {}
    for row in rows:
        by_role.setdefault(row.role, []).append(row)
    lines = []
    for role, members in by_role.items():
        if len(members) < 2:
            continue
        cpu = [r.cpu_pct or 0.0 for r in members]
        lines.append(
            f"{role} x{len(members)}: {sum(cpu):.0f}% CPU together, busiest {max(cpu):.0f}%, "
            f"{sum(1 for c in cpu if c < 5)} idle (< 5%)"
        )
    return lines


def _busiest(rows: list[ProcRow], room: int) -> list[ProcRow]:
    """The processes to list when not all fit: every role's one process where a role has one, then the
    busiest of the rest, in their original order."""
    summaries = len(_role_summaries(rows))
    room = max(0, room - summaries)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.role] = counts.get(row.role, 0) + 1
    alone = [r for r in rows if counts[r.role] == 1]
    rest = sorted((r for r in rows if counts[r.role] > 1), key=lambda r: -(r.cpu_pct or 0.0))
    keep = {id(r) for r in [*alone, *rest][:room]}
    return [r for r in rows if id(r) in keep]


def worth_line(frame: Frame) -> Text:
    """The cores' worth each used now: the server (its processes' CPU together), Locust, everything else.
    One process stays at 1.0 however the scheduler moves it between the cores above."""
    server = sum(r.cpu_pct or 0.0 for r in frame.rows) / 100
    locust = (frame.locust[1] or 0.0) / 100 if frame.locust is not None else 0.0
    other = max(0.0, sum(frame.cores) / 100 - server - locust)
    return Text.assemble(
        "cores' worth: ", ("server " + f"{server:.2f}", "bold"), f", Locust {locust:.2f}, everything else {other:.2f}",
        f" (of {len(frame.cores)})",
    )  # fmt: skip


def totals_view(frame: Frame) -> list[Text]:
    lines = [worth_line(frame)]
    if frame.locust is None:
        elsewhere = f" ({frame.locust_elsewhere} aimed at other servers)" if frame.locust_elsewhere else ""
        lines.append(Text(f"load generator: no Locust aimed at this server{elsewhere}"))
    else:
        count, cpu = frame.locust
        figure = "…" if cpu is None else f"{cpu:.0f}% of a core"
        lines.append(Text(f"load generator: locust, {count} process{'es' if count > 1 else ''}, {figure}"))
        if cpu is not None and cpu > 80:  # a line of its own: a narrow terminal must not crop it away
            lines.append(Text("  over 80%: the run measures Locust, not the server", "bold red"))
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


def render(frame: Frame, where: str, hz: float, width: int | None = None, height: int | None = None) -> RenderableType:
    """The frame, laid out for a terminal of ``width`` x ``height`` (None: as long as it takes)."""
    header, totals = header_view(frame, where, hz), totals_view(frame)
    room = None if height is None else max(4, height - len(header) - len(totals) - 1)
    # A line per core while that leaves the processes at least half the room; a grid beyond.
    if room is not None and len(frame.cores) + 1 > room // 2:
        cores = cores_grid(frame, width or 80)
    else:
        cores = cores_view(frame, width)
    processes = processes_view(frame, None if room is None else room - len(cores))
    # One Text that never wraps: rich then has one thing to lay out per frame, not a line-breaking
    # pass per line (a third of top's CPU), and a narrow terminal cuts lines instead of folding them.
    lines = [*header, *cores, *processes, *totals]
    if width is not None:
        for line in lines:
            line.truncate(width, overflow="ellipsis")
    joined = Text("\n").join(lines)
    joined.no_wrap = True
    joined.overflow = "ellipsis"
    return joined
