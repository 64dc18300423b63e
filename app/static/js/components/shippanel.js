// The ship's gauges, cargo, credits and items, and the current node's asteroids, from a render state.
import { h, replace } from "../dom.js";
import { num } from "../format.js";

const GAUGES = [["fuel", 1000], ["hull", 100], ["heat", 100], ["tool", 100], ["alert", 100]];
const CARGO_MAX = 200;

function gauge(label, value, max, id) {
  const pct = Math.max(0, Math.min(100, (100 * value) / max));
  return [h("span", {}, label), h("div", { class: "gauge", "data-gauge": id ?? label }, h("div", { style: `width:${pct}%` })),
    h("span", { class: "num" }, num(value, 1))];
}

export class ShipPanel {
  constructor() {
    this.commodities = [];
    this.element = h("div", { class: "ship" });
  }

  render(state, tick) {
    const cargo = this.commodities.map((name) => gauge(`  ${name}`, state.cargo[name] ?? 0, CARGO_MAX, `cargo-${name}`));
    replace(this.element,
      h("p", { class: "credits" }, h("strong", { id: "credits" }, `${num(state.credits)} credits`),
        ` · tick ${num(tick)} · node ${state.node} · kits ${state.kits} · stabilizers ${state.stabilizers} · decoys ${state.decoys}`),
      h("div", { class: "gauges" }, GAUGES.map(([name, max]) => gauge(name, state[name], max)),
        h("span", {}, "cargo"), h("span", {}), h("span", {}), cargo),
      h("p", { class: "muted" }, "prices: ", this.commodities.map((name, i) => `${name} ${num(state.prices?.[i], 0)}`).join(" · ")));
  }
}

export class AsteroidTable {
  constructor() {
    this.commodities = [];
    this.body = h("tbody");
    this.element = h("table", { class: "asteroids" },
      h("thead", {}, h("tr", {}, ["#", "estimated composition", "stability", "depletion", "confidence"].map((t) => h("th", {}, t)))),
      this.body);
  }

  render(state) {
    const composition = (fractions) => fractions.map((f, i) => [f, this.commodities[i]]).filter(([f]) => f >= 0.05)
      .sort((a, b) => b[0] - a[0]).map(([f, name]) => `${name} ${Math.round(100 * f)}%`).join(", ");
    replace(this.body, (state.asteroids ?? []).map((a) => h("tr", { class: a.slot === state.selected ? "selected" : null },
      h("td", {}, a.slot), h("td", {}, composition(a.composition)), h("td", { class: "num" }, num(a.stability, 2)),
      h("td", { class: "num" }, num(a.depletion, 2)), h("td", { class: "num" }, num(a.confidence, 2)))));
    if (!state.asteroids?.length) this.body.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "no asteroids seen here")));
  }
}

/** One line of an event feed: "tick 12 · mine_standard · sale pge 10 units 1,450 credits". */
export function describeStep({ tick, action_name: action, events = [] }) {
  const parts = events.map((event) => Object.entries(event).map(([k, v]) => (k === "kind" ? v : `${k} ${typeof v === "number" ? num(v, 1) : v}`)).join(" "));
  return [`tick ${num(tick)}`, action ?? "start", ...parts].join(" · ");
}

export class EventFeed {
  constructor(limit = 200) {
    this.limit = limit;
    this.element = h("ol", { class: "feed", id: "feed", reversed: true });
  }

  /** Show `steps` (newest last), keeping the last `limit`. */
  render(steps) {
    replace(this.element, steps.slice(-this.limit).reverse().map((step) =>
      h("li", { class: step.events?.length ? "has-events" : null }, describeStep(step))));
  }
}
