// The drawing shared by the Replay and Play pages: the world map, the ship panel, the current
// node's asteroids and an event feed, laid out together.
import { h } from "../dom.js";
import { AsteroidTable, EventFeed, ShipPanel } from "./shippanel.js";
import { WorldView, worldLegend } from "./world.js";

export class GameView {
  constructor(commodities) {
    this.world = new WorldView();
    this.ship = new ShipPanel(commodities);
    this.asteroids = new AsteroidTable(commodities);
    this.feed = new EventFeed();
    this.element = h("div", { class: "game" },
      h("div", {}, this.world.canvas, worldLegend()),
      h("div", {}, this.ship.element, h("h3", {}, "Asteroids here"), this.asteroids.element, h("h3", {}, "Events"), this.feed.element));
  }

  setWorld(nodes, edges) {
    this.world.setWorld(nodes, edges);
  }

  /** Show `state` at `tick`; the ship drawn `fraction` of the way from node `from` to the state's node. */
  show(state, tick, { from = state.node, fraction = 1 } = {}) {
    this.world.draw({ from, to: state.node, fraction });
    this.ship.render(state, tick);
    this.asteroids.render(state);
  }
}
