// Compare: one metric of several runs overlaid, against env steps or training wall time.
import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { allWindows, json } from "../api.js";
import { h, replace } from "../dom.js";
import { PALETTE } from "../components/chart.js";
import { METRICS } from "../components/metrics.js";

const X_AXES = [["env_steps_end", "env steps"], ["elapsed_s", "wall time (s)"]];

/** [x, y] of a run's windows that have the metric. */
function points(windows, xField, metric) {
  const kept = windows.filter((w) => typeof w[metric] === "number");
  return [kept.map((w) => w[xField]), kept.map((w) => w[metric])];
}

export function mount(root, _params, query) {
  const chosen = new Set((query.get("runs") ?? "").split(",").filter(Boolean));
  const cache = new Map(); // run id → its window records
  const metric = h("select", { name: "metric" }, METRICS.map((m) => h("option", { value: m, selected: m === query.get("metric") }, m)));
  const xAxis = h("select", { name: "x" }, X_AXES.map(([v, label]) => h("option", { value: v, selected: v === query.get("x") }, label)));
  const picker = h("ul", { class: "run-picker" });
  const plotBox = h("div", { class: "compare-plot", id: "compare-plot" });
  const status = h("p", { class: "muted", id: "compare-status" });
  let plot = null;
  let drawing = 0; // a newer draw supersedes one still loading

  const draw = async () => {
    const current = ++drawing;
    const runs = [...chosen];
    history.replaceState(null, "", `#/compare?runs=${runs.map(encodeURIComponent).join(",")}&metric=${metric.value}&x=${xAxis.value}`);
    plot?.destroy();
    plot = null;
    if (!runs.length) {
      status.textContent = "Choose runs to compare.";
      return;
    }
    status.textContent = "Loading…";
    for (const runId of runs) if (!cache.has(runId)) cache.set(runId, await allWindows(runId));
    if (current !== drawing) return;
    const tables = runs.map((runId) => points(cache.get(runId), xAxis.value, metric.value));
    const xLabel = X_AXES.find(([v]) => v === xAxis.value)[1];
    plot = new uPlot({
      width: Math.max(400, plotBox.clientWidth - 10), height: 420, title: metric.value,
      scales: { x: { time: false } }, axes: [{ label: xLabel }, { size: 60 }],
      series: [{ label: xLabel }, ...runs.map((runId, i) => ({ label: runId, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true }))],
    }, uPlot.join(tables), plotBox);
    plotBox.dataset.series = runs.length;
    plotBox.dataset.points = tables.reduce((n, [x]) => n + x.length, 0);
    status.textContent = `${runs.length} run(s), ${plotBox.dataset.points} points`;
  };
  const redraw = () => draw().catch((error) => { status.textContent = error.message; });

  replace(root, h("div", { class: "page-head" }, h("h1", {}, "Compare runs")),
    h("div", { class: "filters" }, h("label", {}, "Metric ", metric), h("label", {}, "Against ", xAxis),
      h("button", { type: "button", onclick: () => { cache.clear(); redraw(); } }, "Reload")),
    h("div", { class: "compare" }, picker, h("div", {}, plotBox, status)));
  metric.addEventListener("change", redraw);
  xAxis.addEventListener("change", redraw);

  json("/runs?limit=200").then(({ items }) => {
    replace(picker, items.filter((run) => run.status !== "corrupt").map((run) => h("li", {}, h("label", {},
      h("input", { type: "checkbox", value: run.run_id, checked: chosen.has(run.run_id), onchange: (e) => {
        if (e.target.checked) chosen.add(run.run_id);
        else chosen.delete(run.run_id);
        redraw();
      } }), ` ${run.run_id} `, h("small", { class: "muted" }, run.trainer_backend)))));
    root.dataset.loaded = "true";
    redraw();
  }).catch((error) => { status.textContent = error.message; });
  return () => plot?.destroy();
}
