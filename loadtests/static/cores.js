// corelab's /cores page: poll cores/data, draw a bar per core, a time x core heatmap and a bar
// per server worker. It measures its own update interval from the samples' timestamps and
// shows it, and keeps the figures in window.coresPage for tests.
"use strict";

const POLL_MS = 250; // twice per sample at 2 Hz: a new sample is on screen within 0.25 s of being taken
const HISTORY = 120; // samples in the heatmap (the server keeps as many)
// Above this many cores (or workers) a bar a line would make the page thousands of pixels tall:
// they become tiles, several to a line, and the heatmap's rows shrink to fit HEATMAP_PX.
const COMPACT_ABOVE = 16;
const HEATMAP_PX = 384;
const MAX_LABELS = 16;
const page = { since: 0, samples: [], shownTimes: [], intervals: [], workers: [], polls: 0 };
window.coresPage = page;

const $ = (id) => document.getElementById(id);
const pct = (x) => `${Math.round(x)}%`;
const clockTime = (t) => new Date(t * 1000).toISOString().slice(11, 23);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
}

// One bar row (or, with many, a tile), created the first time its key is seen and updated in place after that.
function barRow(container, cls, key, label, compact = false) {
  let row = container.querySelector(`[data-key="${key}"]`);
  if (!row) {
    row = document.createElement("div");
    row.className = `${compact ? "tile" : "row"} ${cls}`;
    row.dataset.key = key;
    row.innerHTML = '<div class="label"></div><div class="track"><div class="bar"></div></div><div class="value"></div>';
    row.querySelector(".label").textContent = label;
    container.appendChild(row);
  }
  return row;
}

function setBar(row, fraction, text, part = null) {
  const bar = row.querySelector(".bar");
  bar.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  // ``part``: the share of the bar that was the server's, drawn darker from the left.
  if (part !== null) {
    const at = fraction > 0 ? Math.max(0, Math.min(1, part / fraction)) * 100 : 0;
    bar.style.background = `linear-gradient(to right, #7f2704 0 ${at}%, #fdae6b ${at}% 100%)`;
    bar.dataset.server = String(Math.round(at));
  }
  row.querySelector(".value").textContent = text;
}

// 0..100 -> light yellow, orange, dark red (the colours of the kit's heatmap figure).
function heatColour(busy) {
  const stops = [[255, 255, 204], [253, 141, 60], [189, 0, 38]];
  const x = Math.max(0, Math.min(1, busy / 100)) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  const rgb = stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
  return `rgb(${rgb.join(",")})`;
}

function drawHeatmap(coreIds) {
  const cores = coreIds.length;
  const canvas = $("heatmap");
  // 24 px a core while few; with many, the rows share HEATMAP_PX (at least 4 px each).
  const rowHeight = Math.max(4, Math.min(24, Math.floor(HEATMAP_PX / cores)));
  const every = Math.ceil(cores / MAX_LABELS); // name every k-th core
  canvas.width = HISTORY;
  canvas.height = cores * rowHeight;
  canvas.style.height = `${cores * rowHeight}px`;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const offset = HISTORY - page.samples.length; // the newest sample is always at the right edge
  page.samples.forEach((sample, column) => {
    sample.cores.forEach((busy, core) => {
      ctx.fillStyle = heatColour(busy);
      ctx.fillRect(offset + column, core * rowHeight, 1, rowHeight - 2);
    });
  });
  const labels = $("heat-labels");
  if (labels.dataset.cores !== String(cores)) {
    labels.innerHTML = "";
    labels.dataset.cores = String(cores);
    for (let row = 0; row < cores; row += every) {
      const label = document.createElement("div");
      label.style.height = `${rowHeight * every}px`;
      label.style.alignItems = "flex-start";
      label.textContent = `core ${coreIds[row]}`;
      labels.appendChild(label);
    }
  }
}

function render(data) {
  const latest = data.samples[data.samples.length - 1];
  page.samples = [...page.samples, ...data.samples].slice(-HISTORY);
  page.since = latest.seq;
  // The update interval as this page sees it: between the newest samples of successive updates.
  const previous = page.shownTimes[page.shownTimes.length - 1];
  page.shownTimes = [...page.shownTimes, latest.t].slice(-600);
  if (previous !== undefined) page.intervals = [...page.intervals, latest.t - previous].slice(-40);

  $("host").textContent = data.host || "(no host)";
  $("state").textContent = data.state;
  $("users").textContent = data.users;
  $("locust-cpu").textContent = pct(latest.locust_cpu);
  // Past 80% of a core the load generator, not the server, sets the pace (the kit's rule for a run).
  $("generator-bound").textContent = latest.locust_cpu > 80 ? "(generator-bound: Locust, not the server, is the limit)" : "";
  $("period").textContent = `${data.period_s} s`;
  $("axis-start").textContent = `-${Math.round(HISTORY * data.period_s)} s`;
  $("interval").textContent = page.intervals.length ? `${median(page.intervals).toFixed(2)} s` : "?";
  $("last-sample").textContent = clockTime(latest.t);

  const coreIds = data.core_ids || latest.cores.map((_, i) => i);
  const compactCores = coreIds.length > COMPACT_ABOVE;
  $("cores").className = compactCores ? "tiles" : "";
  const server = latest.server_cores || [];
  latest.cores.forEach((busy, i) => {
    const mine = Math.min(server[i] || 0, busy);
    const text = compactCores ? pct(busy) : `${pct(busy)} (the server ${pct(mine)})`;
    setBar(barRow($("cores"), "core", coreIds[i], `core ${coreIds[i]}`, compactCores), busy / 100, text, mine / 100);
  });
  drawHeatmap(coreIds);

  page.workers = data.workers;
  $("responses").textContent = data.responses.toLocaleString("en");
  if (data.workers.length) $("workers").querySelector(".none")?.remove();
  const compactWorkers = data.workers.length > COMPACT_ABOVE;
  $("workers").className = compactWorkers ? "tiles" : "";
  const even = data.workers.length ? 1 / data.workers.length : 1;
  for (const w of data.workers) {
    // With many workers a share is a small number: a tile says it against an even share, its bar
    // is full at twice an even share.
    const text = compactWorkers
      ? `${(w.recent_share / even).toFixed(2)}x even`
      : `${pct(100 * w.recent_share)} \u00b7 ${w.rps.toFixed(0)} req/s \u00b7 ${w.responses.toLocaleString("en")} in all (${pct(100 * w.share)})`;
    const row = barRow($("workers"), "worker", w.pid, `pid ${w.pid}`, compactWorkers);
    setBar(row, compactWorkers ? w.recent_share / (2 * even) : w.recent_share, text);
    $("workers").appendChild(row); // keeps the rows in the server's order (by pid)
  }
}

async function poll() {
  try {
    const reply = await fetch(`cores/data?since=${page.since}`, { cache: "no-store" });
    if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
    const data = await reply.json();
    page.polls += 1;
    if (data.seq < page.since) page.since = 0; // Locust restarted: start over
    if (data.samples.length) render(data);
    $("status").textContent = "";
  } catch (err) {
    $("status").textContent = `(no data from Locust: ${err.message})`;
  }
  setTimeout(poll, POLL_MS);
}

poll();
