// The game drawn on a canvas: the world graph of a replay header (or play session), and the ship.
import { h } from "../dom.js";

const NODE_COLORS = { station: "#f4c542", cluster: "#7aa2f7", hazard: "#f7768e" };
const MARGIN = 28;

/** The map's key: node colours, edge colour, the ship. */
export function worldLegend() {
  return h("p", { class: "muted legend" }, Object.entries(NODE_COLORS).map(([type, color]) =>
    [h("span", { style: `color:${color}` }, "●"), ` ${type} `]), "· redder edge: more threat · ▲ the ship");
}

export class WorldView {
  constructor(width = 640, height = 520) {
    this.canvas = h("canvas", { width, height, class: "world", "aria-label": "world map" });
    this.nodes = [];
    this.edges = [];
  }

  /** The world: `nodes` [{id, type, hops, x, y}], `edges` [{from, to, time, fuel, threat}]. */
  setWorld(nodes, edges) {
    this.nodes = nodes;
    this.edges = edges;
    const extent = Math.max(1, ...nodes.flatMap((n) => [Math.abs(n.x), Math.abs(n.y)]));
    const { width, height } = this.canvas;
    const scale = (Math.min(width, height) / 2 - MARGIN) / extent;
    this.position = (node) => [width / 2 + node.x * scale, height / 2 + node.y * scale];
  }

  /** Draw the world with the ship at `fraction` of the way from node `from` to node `to`. */
  draw({ from, to, fraction = 1, selectedNode = to }) {
    const ctx = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    ctx.lineWidth = 1.5;
    for (const edge of this.edges) {
      const [x1, y1] = this.position(this.nodes[edge.from]);
      const [x2, y2] = this.position(this.nodes[edge.to]);
      ctx.strokeStyle = `rgba(255, ${Math.round(200 * (1 - Math.min(1, edge.threat)))}, 120, ${0.25 + 0.6 * Math.min(1, edge.threat)})`;
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
      ctx.stroke();
    }
    ctx.font = "11px sans-serif";
    for (const node of this.nodes) {
      const [x, y] = this.position(node);
      ctx.fillStyle = NODE_COLORS[node.type] ?? "#ccc";
      ctx.beginPath();
      ctx.arc(x, y, node.type === "station" ? 11 : 7, 0, 2 * Math.PI);
      ctx.fill();
      if (node.id === selectedNode) {
        ctx.strokeStyle = "#fff";
        ctx.stroke();
      }
      ctx.fillStyle = "#cbd5e1";
      ctx.fillText(String(node.id), x + 9, y - 8);
    }
    const [x1, y1] = this.position(this.nodes[from] ?? this.nodes[0]);
    const [x2, y2] = this.position(this.nodes[to] ?? this.nodes[0]);
    const t = Math.max(0, Math.min(1, fraction));
    const [sx, sy] = [x1 + (x2 - x1) * t, y1 + (y2 - y1) * t];
    ctx.fillStyle = "#ffffff";
    ctx.beginPath();
    ctx.moveTo(sx, sy - 9);
    ctx.lineTo(sx + 6, sy + 6);
    ctx.lineTo(sx - 6, sy + 6);
    ctx.closePath();
    ctx.fill();
  }
}
