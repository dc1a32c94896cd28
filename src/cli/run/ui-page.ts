/**
 * The status page `sedna run --ui` serves: one self-contained HTML document (no external script,
 * style or font: it works offline) that reads `/api/status` and follows `/api/events` (server-sent
 * events), showing per job its phase and stage, the workers, the timeline, a worker's log, and the
 * charts: FL loss/accuracy per round, joint-inference hard-example ratio over time, IL/LL metrics
 * per cycle. Everything from the run is inserted as text, never as HTML.
 */
export const STATUS_PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sedna run</title>
<style>
  :root { --fg:#1d232b; --muted:#5d6b7a; --line:#d8dee5; --bg:#f6f8fa; --ok:#1a7f37; --bad:#cf222e; --run:#0969da; --warn:#9a6700; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, sans-serif; color:var(--fg); background:var(--bg); }
  header { padding:12px 20px; background:#fff; border-bottom:1px solid var(--line); display:flex; gap:16px; align-items:baseline; flex-wrap:wrap; }
  header h1 { font-size:16px; margin:0; }
  header .meta { color:var(--muted); font-size:12px; }
  main { padding:16px 20px; display:grid; gap:16px; }
  section.job { background:#fff; border:1px solid var(--line); border-radius:6px; padding:14px 16px; }
  .job h2 { font-size:15px; margin:0 0 6px; display:flex; gap:10px; align-items:center; flex-wrap:wrap; }
  .phase { font-size:12px; font-weight:600; padding:2px 8px; border-radius:10px; color:#fff; background:var(--muted); }
  .phase.Running { background:var(--run); } .phase.Succeeded { background:var(--ok); } .phase.Failed { background:var(--bad); }
  .stage { color:var(--muted); }
  .reason { white-space:pre-wrap; font-family:ui-monospace, monospace; font-size:12px; background:#fff4f4; padding:8px; border-radius:4px; }
  .facts { margin:6px 0; color:var(--muted); font-size:13px; }
  table { border-collapse:collapse; width:100%; font-size:13px; margin:8px 0; }
  th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--muted); font-weight:500; }
  tr.worker { cursor:pointer; } tr.worker:hover, tr.worker.selected { background:#eef4ff; }
  .charts { display:flex; gap:16px; flex-wrap:wrap; }
  figure { margin:0; } figcaption { font-size:12px; color:var(--muted); }
  svg.chart { background:#fbfcfd; border:1px solid var(--line); border-radius:4px; }
  .grid2 { display:grid; grid-template-columns: 1fr 1fr; gap:16px; }
  @media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
  ol.timeline { list-style:none; padding:0; margin:0; max-height:280px; overflow:auto; font-size:12px; font-family:ui-monospace, monospace; }
  ol.timeline li { padding:2px 0; border-bottom:1px dotted var(--line); }
  ol.timeline li.warn { color:var(--warn); } ol.timeline li.error { color:var(--bad); }
  pre.logs { max-height:280px; overflow:auto; background:#0d1117; color:#d1d9e0; padding:8px; font-size:12px; margin:0; border-radius:4px; }
  .progress { font-family:ui-monospace, monospace; font-size:12px; }
  .bar { display:inline-block; width:140px; height:8px; background:var(--line); border-radius:4px; vertical-align:middle; overflow:hidden; }
  .bar > span { display:block; height:100%; background:var(--run); }
</style>
</head>
<body>
<header><h1>sedna run</h1><span class="meta" id="meta">connecting…</span><span class="meta" id="conn"></span></header>
<main id="jobs"></main>
<main class="grid2">
  <section class="job"><h2>Timeline</h2><ol class="timeline" id="timeline"></ol></section>
  <section class="job"><h2>Logs <span class="stage" id="logs-of">(click a worker)</span></h2><pre class="logs" id="logs"></pre></section>
</main>
<script>
"use strict";
let snapshot = null;
let selectedPod = null;
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
const svgNs = "http://www.w3.org/2000/svg";
function svg(tag, attrs) { const e = document.createElementNS(svgNs, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v)); return e; }
const clock = (iso) => iso ? new Date(iso).toLocaleTimeString() : "-";
const fmt = (n) => (typeof n === "number" && isFinite(n)) ? n.toFixed(3) : "-";

/** A line chart of series [{name, color, points:[[x,y]]}] with x and y scaled to the box. */
function chart(name, caption, series, yLabel) {
  const W = 320, H = 160, P = 28;
  const box = svg("svg", { width: W, height: H, class: "chart", "data-chart": name, role: "img" });
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    const t = svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#5d6b7a", "font-size": 12 });
    t.textContent = "no data yet"; box.append(t);
  } else {
    const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
    let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(0, ...ys), Math.max(...ys)];
    if (x1 === x0) x1 = x0 + 1; if (y1 === y0) y1 = y0 + 1;
    const X = (x) => P + ((x - x0) / (x1 - x0)) * (W - 2 * P), Y = (y) => H - P + 4 - ((y - y0) / (y1 - y0)) * (H - 2 * P);
    box.append(svg("line", { x1: P, y1: H - P + 4, x2: W - P, y2: H - P + 4, stroke: "#d8dee5" }));
    for (const v of [y0, y1]) { const t = svg("text", { x: 2, y: Y(v) + 4, "font-size": 10, fill: "#5d6b7a" }); t.textContent = fmt(v); box.append(t); }
    series.forEach((s, i) => {
      if (s.points.length === 0) return;
      box.append(svg("polyline", { points: s.points.map((p) => X(p[0]) + "," + Y(p[1])).join(" "), fill: "none", stroke: s.color, "stroke-width": 2 }));
      for (const p of s.points) box.append(svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: s.color, "data-series": s.name }));
      const t = svg("text", { x: W - P - 90, y: 14 + 12 * i, "font-size": 11, fill: s.color }); t.textContent = s.name; box.append(t);
    });
  }
  return el("figure", {}, box, el("figcaption", {}, caption + (yLabel ? " (" + yLabel + ")" : "")));
}

function jobCharts(job) {
  const out = [];
  if (job.kind === "FederatedLearningJob" || job.charts.fl.length > 0) {
    out.push(chart("fl-loss", "FL loss per round", [{ name: "loss", color: "#cf222e", points: job.charts.fl.filter((p) => p.loss !== undefined).map((p) => [p.round, p.loss]) }]));
    out.push(chart("fl-accuracy", "FL accuracy per round", [{ name: "accuracy", color: "#1a7f37", points: job.charts.fl.filter((p) => p.accuracy !== undefined).map((p) => [p.round, p.accuracy]) }]));
  }
  if (job.kind === "JointInferenceService" || job.charts.ji.length > 0) {
    const t0 = job.charts.ji.length ? Date.parse(job.charts.ji[0].t) : 0;
    out.push(chart("ji-ratio", "hard-example ratio over time", [{ name: "to the cloud", color: "#0969da", points: job.charts.ji.map((p) => [(Date.parse(p.t) - t0) / 1000, p.ratio]) }], "ratio, seconds"));
  }
  if (job.charts.cycles.length > 0 || job.kind === "IncrementalLearningJob" || job.kind === "LifelongLearningJob") {
    const metric = job.charts.cycles.map((c) => Object.keys(c.newMetrics || {})[0]).find((m) => m) || "metric";
    const pts = (which) => job.charts.cycles.filter((c) => c[which] && c[which][metric]).map((c) => [c.cycle, c[which][metric][0]]);
    out.push(chart("cycles", metric + " per cycle", [{ name: "new model", color: "#1a7f37", points: pts("newMetrics") }, { name: "deployed", color: "#5d6b7a", points: pts("oldMetrics") }]));
  }
  return out;
}

function workersTable(job) {
  const head = el("tr", {}, ...["pod", "WORKER_NAME", "role", "node", "phase", "restarts", "last report"].map((h) => el("th", {}, h)));
  const rows = job.workers.map((w) => {
    const tr = el("tr", { class: "worker" + (w.pod === selectedPod ? " selected" : ""), "data-pod": w.pod },
      el("td", {}, w.pod), el("td", {}, w.workerName), el("td", {}, w.role), el("td", {}, w.node),
      el("td", { class: "worker-phase" }, w.phase), el("td", {}, w.restarts),
      el("td", { class: "last-report" }, w.lastReport ? w.lastReport.kind + "/" + w.lastReport.status + " " + clock(w.lastReport.at) : "-"));
    tr.addEventListener("click", () => { selectedPod = w.pod; loadLogs(); render(); });
    return tr;
  });
  return el("table", { class: "workers" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function cyclesTable(job) {
  if (job.charts.cycles.length === 0) return null;
  const head = el("tr", {}, ...["cycle", "samples train/eval", "trained", "eval new vs deployed", "delta", "deploy"].map((h) => el("th", {}, h)));
  const rows = job.charts.cycles.map((c) => {
    const m = Object.keys(c.newMetrics || {})[0];
    const d = m && c.deltas ? c.deltas[m + "_delta"] : undefined;
    return el("tr", { class: "cycle" }, el("td", {}, c.cycle), el("td", {}, c.trainSamples + "/" + c.evalSamples), el("td", {}, clock(c.trainedAt)),
      el("td", {}, m ? m + " " + fmt(c.newMetrics[m][0]) + " vs " + fmt(c.oldMetrics && c.oldMetrics[m] ? c.oldMetrics[m][0] : undefined) : "-"),
      el("td", {}, d ? fmt(d[0]) : "-"), el("td", {}, c.deployedAt ? "deployed " + clock(c.deployedAt) : (c.outcome || "-")));
  });
  return el("table", { class: "cycles" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function render() {
  if (!snapshot) return;
  $("meta").textContent = "pid " + snapshot.pid + " · LC " + snapshot.lcServer + " · since " + clock(snapshot.startedAt);
  const jobs = $("jobs");
  jobs.replaceChildren(...snapshot.jobs.map((job) => {
    const progress = snapshot.progress.filter((p) => p.job === job.name).map((p) => el("div", { class: "progress" }, p.worker + " " + p.task + " ",
      p.total ? el("span", { class: "bar" }, el("span", { style: "width:" + Math.round(100 * p.done / p.total) + "%" })) : null,
      " " + p.done + (p.total ? "/" + p.total : "") + " " + p.unit));
    return el("section", { class: "job", "data-job": job.name },
      el("h2", {}, job.kind + " " + job.namespace + "/" + job.name, el("span", { class: "phase " + job.phase }, job.phase), el("span", { class: "stage" }, job.stage)),
      job.reason && job.phase !== "Running" ? el("div", { class: "reason" }, job.reason) : null,
      el("div", { class: "facts" }, ...Object.entries(job.facts).map(([k, v]) => el("div", {}, k + ": " + v))),
      ...progress,
      workersTable(job), cyclesTable(job),
      el("div", { class: "charts" }, ...jobCharts(job)),
      el("div", { class: "facts reports" }, job.reports + " reports received"));
  }));
  $("timeline").replaceChildren(...snapshot.timeline.slice().reverse().map((e) =>
    el("li", { class: e.level }, clock(e.t) + " " + e.source + " " + (e.job === "run" ? "" : e.job + ": ") + e.message)));
}

async function loadLogs() {
  if (!selectedPod) return;
  $("logs-of").textContent = selectedPod;
  const res = await fetch("/api/logs/" + encodeURIComponent(selectedPod) + "?lines=300");
  if (!res.ok) return;
  const lines = await res.json();
  const pre = $("logs");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = lines.map((l) => l.text).join("\n");
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("snapshot", (e) => { snapshot = JSON.parse(e.data); render(); if (selectedPod) loadLogs(); $("conn").textContent = ""; });
  source.onerror = () => { $("conn").textContent = "(disconnected: the run has ended or is unreachable)"; };
}
fetch("/api/status").then((r) => r.json()).then((s) => { snapshot = s; render(); }).finally(connect);
</script>
</body>
</html>
`;
