"""The per-core heatmap growing in a notebook while a run is going, then the run's final figure.

A class looks at JupyterLab while the load runs: a picture that arrives only after the run is
for reports. So ``bench`` (corelab.harness.run) shows one display that a background thread updates in
place about once a second (IPython's ``display(..., display_id=True)`` and ``handle.update``),
and, when the run ends, replaces with the heatmap of the sampler's full samples.

Whether to do that is decided in one place, ``live_wanted``: only inside an IPython kernel whose
frontend can talk back to it. A frontend where a person sits (JupyterLab, Notebook, VS Code)
sends its execute requests with ``allow_stdin`` true; nbclient (the notebook tests, nbconvert,
papermill) sends false, so headless runs get just the final figure their notebook draws. Plain
scripts have no kernel and never go live. CORELAB_LIVE=0/1 overrides the guess.

It runs beside the server on a 2-core machine, so it is kept cheap: one figure made once, each
tick reads /proc/stat once and only swaps the image's data before rendering a small PNG.
"""

from __future__ import annotations

import base64
import contextvars
import io
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import pandas as pd
import psutil

from plumbing.cores import usable_cores

LIVE_ENV = "CORELAB_LIVE"
LiveChoice = bool | Literal["auto"]
DEFAULT_INTERVAL = 1.0
# Small on purpose: the PNG is rendered and sent every second; 72 dpi keeps it a few KB.
DPI = 72


def live_wanted(live: LiveChoice = "auto") -> bool:
    """Whether a run shows its cores live: the one place that decides.

    ``True`` asks for it (it still needs a Jupyter kernel to display in: a plain script raises);
    ``False`` never; ``"auto"`` follows CORELAB_LIVE when set, else goes live only where a
    person is looking (see the module docstring).
    """
    if live is True:
        if not _in_kernel():
            raise ValueError("live=True needs a Jupyter kernel to display in; use live=False (or 'auto') in a script")
        return True
    if live is False:
        return False
    if live != "auto":
        raise ValueError(f"live must be True, False or 'auto', not {live!r}")
    forced = os.environ.get(LIVE_ENV, "").strip().lower()
    if forced in ("0", "false", "no", "off"):
        return False
    if forced in ("1", "true", "yes", "on"):
        return _in_kernel()
    return _frontend_is_interactive()


def _kernel() -> Any | None:
    # Looked up only if IPython is already imported: a plain script never pays for importing it.
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return getattr(shell, "kernel", None)  # a terminal IPython has no kernel: no frontend to update


def _in_kernel() -> bool:
    return _kernel() is not None


def _frontend_is_interactive() -> bool:
    kernel = _kernel()
    if kernel is None:
        return False
    # The request being executed right now: a person's frontend allows stdin, nbclient does not.
    parent = kernel.get_parent("shell") or {}
    return bool(parent.get("content", {}).get("allow_stdin", False))


class CoreTicker:
    """Each core's utilisation since the previous tick, from psutil.cpu_times(percpu=True).

    Not psutil.cpu_percent: that keeps its baseline in psutil's module state, which the run's
    Sampler relies on in this same process; a second caller would cut the sampler's intervals
    short. cpu_times is a plain read of /proc/stat.
    """

    def __init__(self, cores: Sequence[int] | None = None) -> None:
        # The cores this process may use (plumbing.cores), as the sampler records them.
        self.cores = list(cores) if cores is not None else usable_cores()
        self._last = self._read()

    def _read(self) -> np.ndarray:
        rows = []
        every = psutil.cpu_times(percpu=True)
        for t in (every[c] for c in self.cores if c < len(every)):
            fields = t._asdict()
            # As psutil.cpu_percent counts them: guest time is already inside user/nice; iowait is idle.
            total = sum(fields.values()) - fields.get("guest", 0.0) - fields.get("guest_nice", 0.0)
            idle = fields["idle"] + fields.get("iowait", 0.0)
            rows.append((total - idle, total))
        return np.array(rows)

    def tick(self) -> np.ndarray:
        now = self._read()
        busy, total = (now - self._last).T
        self._last = now
        return np.clip(100.0 * np.divide(busy, total, out=np.zeros_like(busy), where=total > 0), 0.0, 100.0)


class LiveCores:
    """One display, updated in place: a time x core heatmap that grows, then the run's full one.

    Use as a context manager around the run: the thread starts on enter and always stops on
    exit; call ``finish`` with the sampler's cores table to end on the measured figure.
    ``expected_s`` fixes the time axis in advance, so the picture fills up as the run goes.
    """

    def __init__(self, title: str, *, expected_s: float, interval: float = DEFAULT_INTERVAL) -> None:
        self.title = title
        self.interval = interval
        self.updates = 0  # displays sent after the first: what the tests and the cost figures count
        self.cpu_s = 0.0  # this view's own CPU time (its thread, plus finish), in seconds
        self.wall_s = 0.0
        self._ticker = CoreTicker()
        self._ticker.tick()
        self._columns: list[np.ndarray] = []
        self._times: list[float] = []
        self._fig, self._ax, self._image = _make_figure(self._ticker.cores, expected_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: Any = None

    # -- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> LiveCores:
        from IPython.display import display

        self._t0 = time.monotonic()
        self._set_title("live, a column a second")
        self._handle = display(self._bundle(self._png_of_figure()), raw=True, display_id=True)
        # The layout is settled now: later frames only blit the image onto this background.
        self._fig.set_layout_engine("none")
        self._capture_background()
        # ipykernel 7 keeps the parent request in a context variable: the thread runs in a copy of
        # this cell's context so its updates land under this cell, not whichever one runs next.
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name="corelab-live-cores", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt()

    def finish(self, cores: pd.DataFrame) -> None:
        """Stop the live updates and show the heatmap of ``cores`` (t, core, util_pct): the measurement."""
        self._halt()
        cpu0 = time.thread_time()
        table = cores.pivot_table(index="core", columns="t", values="util_pct")
        if not table.empty:
            t = table.columns.to_numpy()
            self._image.set_data(table.to_numpy())
            self._image.set_extent((float(t.min()), float(t.max()), len(table) - 0.5, -0.5))
            self._ax.set_xlim(float(t.min()), float(t.max()))
            from corelab.figures.cores import busy_summary

            self._set_title(busy_summary(cores.groupby("core")["util_pct"].mean()))
            self._publish(self._png_of_figure())
        self.cpu_s += time.thread_time() - cpu0

    @property
    def cpu_pct(self) -> float:
        """This view's CPU, in % of one core, over the time it was live."""
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s else 0.0

    def cost_line(self) -> str:
        """What the view cost, said after the run like the sampler's overhead: the kit measures itself."""
        return f"live view: {self.updates} updates, {self.cpu_pct:.1f}% of a core"

    # -- the updating thread -----------------------------------------------------------------

    def _run(self) -> None:
        cpu0 = time.thread_time()
        next_tick = time.monotonic() + self.interval
        while not self._stop.is_set():
            # A plain sleep in short steps (as the sampler does): waking from Event.wait costs more on small VMs.
            time.sleep(min(0.1, max(0.0, next_tick - time.monotonic())))
            now = time.monotonic()
            if now < next_tick:
                continue
            self._columns.append(self._ticker.tick())
            self._times.append(now - self._t0)
            self._redraw()
            next_tick = max(next_tick + self.interval, now + self.interval / 2)
        self.cpu_s += time.thread_time() - cpu0

    def _redraw(self) -> None:
        grid = np.column_stack(self._columns)
        # Each column covers the second before its tick.
        self._image.set_data(grid)
        self._image.set_extent((self._times[0] - self.interval, self._times[-1], grid.shape[0] - 0.5, -0.5))
        if self._times[-1] > self._ax.get_xlim()[1]:
            # A run longer than expected: a wider time axis, once in a while, so the picture keeps growing.
            self._ax.set_xlim(0, self._times[-1] * 1.25)
            self._capture_background()
        # Blit: the axes, ticks, colour bar and title were drawn once; only the image is new. (A title
        # that changed each second would cost as much again as the rest of the frame: matplotlib
        # lays text out anew each draw.)
        self._fig.canvas.restore_region(self._background)
        self._ax.draw_artist(self._image)
        self._publish(self._png_of_canvas())

    def _capture_background(self) -> None:
        self._image.set_visible(False)
        self._fig.canvas.draw()
        self._background = self._fig.canvas.copy_from_bbox(self._fig.bbox)
        self._image.set_visible(True)

    def _halt(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            self.wall_s = time.monotonic() - self._t0

    # -- drawing -----------------------------------------------------------------------------

    def _set_title(self, state: str) -> None:
        self._ax.set_title(f"{self.title}: {state}", loc="left")

    def _publish(self, png: bytes) -> None:
        self._handle.update(self._bundle(png), raw=True)
        self.updates += 1

    def _bundle(self, png: bytes) -> dict[str, str]:
        return {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"<cores: {self.title}>"}

    def _png_of_figure(self) -> bytes:
        """A full draw: ticks and layout may change (the first frame and the final one)."""
        self._fig.canvas.draw()
        return self._png_of_canvas()

    def _png_of_canvas(self) -> bytes:
        # Encode what is on the canvas as it is: savefig would draw the whole figure again.
        # Fast zlib level: the image is mostly flat colour and is sent once.
        import PIL.Image  # matplotlib's own dependency; imported here, like matplotlib, only when live

        png = io.BytesIO()
        PIL.Image.fromarray(np.asarray(self._fig.canvas.buffer_rgba())).save(png, format="png", compress_level=1)
        return png.getvalue()


@contextmanager
def live_cores(enabled: bool, title: str, *, expected_s: float) -> Iterator[LiveCores | None]:
    """A LiveCores around a run when ``enabled`` (see ``live_wanted``), else nothing."""
    if not enabled:
        yield None
        return
    with LiveCores(title, expected_s=expected_s) as view:
        yield view


def _make_figure(cores: list[int], expected_s: float) -> tuple[Any, Any, Any]:
    """The one figure every update redraws: plot_core_heatmap's colours and scale, one row per core,
    its height bounded and its core names thinned as plot_core_heatmap's are (64 cores fit a screen).

    A bare Figure, not pyplot's: the inline backend shows pyplot's open figures at the end of a
    cell, and this one is already on screen. Imported here: a run that is not live never loads matplotlib.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from corelab.figures.cores import named_rows

    n_cores = len(cores)
    fig = Figure(figsize=(8, 0.9 + min(4.5, 0.35 * n_cores)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(
        np.full((n_cores, 1), np.nan), aspect="auto", cmap="inferno", vmin=0, vmax=100, interpolation="nearest"
    )
    ax.set_xlim(0, max(1.0, expected_s))
    ax.set_ylim(n_cores - 0.5, -0.5)
    rows = named_rows(n_cores)
    ax.set_yticks(rows, [f"core {cores[r]}" for r in rows])
    ax.set_xlabel("seconds")
    fig.colorbar(image, ax=ax, label="core %", fraction=0.03, pad=0.02)
    return fig, ax, image
