// A live time-series chart on uPlot: series of a WindowSeries against one x column, optional
// horizontal reference lines and vertical markers (milestones).
import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { h } from "../dom.js";

export const PALETTE = ["#2f6fdf", "#e0662d", "#2a9d5b", "#a23fc2", "#c9a227", "#d03b5c", "#3ab0b8", "#6b7280"];

function drawOverlays(u, references, markers) {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.setLineDash([6, 4]);
  ctx.lineWidth = 1;
  ctx.font = `${11 * devicePixelRatio}px sans-serif`;
  for (const ref of references) {
    const y = u.valToPos(ref.value, "y", true);
    if (y < bbox.top || y > bbox.top + bbox.height) continue;
    ctx.strokeStyle = ctx.fillStyle = ref.color;
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    ctx.fillText(ref.label, bbox.left + 4, y - 4);
  }
  ctx.strokeStyle = ctx.fillStyle = "#b45309";
  for (const marker of markers) {
    const x = u.valToPos(marker.x, "x", true);
    if (x < bbox.left || x > bbox.left + bbox.width) continue;
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
    ctx.fillText("★", x + 2, bbox.top + 12 * devicePixelRatio);
  }
  ctx.restore();
}

/** One chart: `spec` = {title, fields: [{field, label, points?}], references?: [{value, label, color}]}. */
export class SeriesChart {
  constructor(spec, { xField = "env_steps_end", xLabel = "env steps", width = 460, height = 220 } = {}) {
    this.spec = spec;
    this.xField = xField;
    this.references = spec.references ?? [];
    this.markers = [];
    this.element = h("figure", { class: "chart", "data-chart": spec.title, "data-points": 0 }, h("figcaption", {}, spec.title));
    const refValues = this.references.map((r) => r.value);
    this.plot = new uPlot({
      width, height,
      scales: {
        x: { time: false },
        y: { range: (u, min, max) => uPlot.rangeNum(Math.min(min ?? 0, ...refValues), Math.max(max ?? 1, ...refValues), 0.1, true) },
      },
      axes: [{ label: xLabel }, { size: 60 }],
      series: [{ label: xLabel }, ...spec.fields.map((f, i) => ({
        label: f.label ?? f.field, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true,
        points: { show: f.points ?? false, size: 6 },
      }))],
      hooks: { draw: [(u) => drawOverlays(u, this.references, this.markers)] },
    }, [[], ...spec.fields.map(() => [])], this.element);
  }

  /** Whether any of the chart's fields is in `series` (charts of absent fields stay hidden). */
  relevant(series) {
    return this.spec.fields.some((f) => series.has(f.field));
  }

  update(series) {
    this.element.hidden = !this.relevant(series);
    if (this.element.hidden) return;
    this.plot.setData([series.column(this.xField), ...this.spec.fields.map((f) => series.column(f.field))]);
    this.element.dataset.points = series.length;
  }

  setMarkers(markers) {
    this.markers = markers;
    this.plot.redraw(false, false);
  }

  destroy() {
    this.plot.destroy();
  }
}
