// The drawing shared by the Replay and Play pages: the world map, the ship panel, the current
// node's asteroids and an event feed, laid out together.
import { h } from "../dom.js";
import { AsteroidTable, EventFeed, ShipPanel } from "./shippanel.js";
import { WorldView, worldLegend } from "./world.js";

export class GameView {
  constructor() {
    this.world = new WorldView();
    this.ship = new ShipPanel();
    this.asteroids = new AsteroidTable();
    this.feed = new EventFeed();
    this.element = h("div", { class: "game" },
      h("div", {}, this.world.canvas, worldLegend()),
      h("div", {}, this.ship.element, h("h3", {}, "Asteroids here"), this.asteroids.element, h("h3", {}, "Events"), this.feed.element));
  }

  /** The game's world graph and commodity names (a replay's header, a play session's `world`). */
  setWorld({ nodes, edges, commodities }) {
    this.world.setWorld(nodes, edges);
    this.ship.commodities = commodities;
    this.asteroids.commodities = commodities;
  }

  /** Show `state` at `tick`; the ship drawn `fraction` of the way from node `from` to the state's node. */
  show(state, tick, { from = state.node, fraction = 1 } = {}) {
    this.world.draw({ from, to: state.node, fraction });
    this.ship.render(state, tick);
    this.asteroids.render(state);
  }
}
