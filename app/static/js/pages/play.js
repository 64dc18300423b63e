// Play: a game in the browser through a play session: the valid actions as buttons grouped by
// family with their cost, and a trained checkpoint that can take the next steps.
import { ApiError, json } from "../api.js";
import { h, replace } from "../dom.js";
import { num } from "../format.js";
import { GameView } from "../components/gameview.js";

function costText(action) {
  const parts = [`${action.ticks}t`];
  if (action.fuel) parts.push(`${num(action.fuel, 1)} fuel`);
  if (action.credits) parts.push(`${num(action.credits)} cr`);
  if (action.to !== undefined) parts.unshift(`→ ${action.to}`);
  return parts.join(", ");
}

function errorText(error) {
  return error instanceof ApiError && Array.isArray(error.detail) ? error.detail.map((e) => e.msg).join("; ") : error.message;
}

/** The agent controls: a PPO run, one of its checkpoints, the mode and how many steps. */
class AgentPicker {
  constructor(onMove) {
    this.run = h("select", { id: "agent-run", "aria-label": "run" });
    this.checkpoint = h("select", { id: "agent-checkpoint", "aria-label": "checkpoint" });
    this.mode = h("select", { id: "agent-mode", "aria-label": "mode" }, ["argmax", "sample"].map((m) => h("option", { value: m }, m)));
    this.steps = h("input", { id: "agent-steps", type: "number", min: 1, value: 1, size: 6, "aria-label": "steps" });
    this.button = h("button", { type: "button", id: "agent-move", onclick: () => onMove(this.request()) }, "Let the agent move");
    this.element = h("div", { class: "actions" }, "Agent: ", this.run, this.checkpoint, this.mode, this.steps, this.button);
    this.run.addEventListener("change", () => this.loadCheckpoints());
  }

  async load() {
    const { items } = await json("/runs?backend=puffer_ppo&limit=200");
    const runs = items.filter((r) => r.checkpoints_written > 0);
    replace(this.run, runs.length ? runs.map((r) => h("option", { value: r.run_id }, r.run_id)) : h("option", { value: "" }, "no PPO run with checkpoints"));
    this.button.disabled = !runs.length;
    if (runs.length) await this.loadCheckpoints();
  }

  async loadCheckpoints() {
    const { items } = await json(`/runs/${encodeURIComponent(this.run.value)}/checkpoints`);
    replace(this.checkpoint, items.map((c) => h("option", { value: c.window_id }, `window ${c.window_id}`)).reverse());
  }

  request() {
    return { run_id: this.run.value, window_id: Number(this.checkpoint.value), mode: this.mode.value, steps: Math.max(1, Number(this.steps.value) || 1) };
  }
}

export function mount(root) {
  const view = new GameView();
  const seed = h("input", { id: "play-seed", type: "text", inputmode: "numeric", placeholder: "random", size: 12, "aria-label": "seed" });
  const status = h("p", { id: "play-status", class: "form-status", role: "status" });
  const summary = h("p", { id: "play-summary" });
  const actions = h("div", { class: "action-groups", id: "actions" });
  const agent = new AgentPicker((body) => send(`/agent`, body));
  let session = null;
  let history = [];

  const show = (result) => {
    session = result.session_id;
    if (result.world) {
      view.setWorld(result.world);
      history = [];
    }
    history.push(...(result.steps ?? [result]));
    view.show(result.state, result.tick);
    view.feed.render(history);
    const ending = result.done ? ` · episode over${result.terminated ? "" : " (time limit)"}` : "";
    summary.textContent = `session ${session} · seed ${result.seed} · tick ${num(result.tick)} · net profit ${num(result.state.net_profit)}${ending}`;
    const families = Map.groupBy(result.actions, (a) => a.family);
    replace(actions, result.done ? h("p", { class: "muted" }, "The episode is over: reset or start a new game.")
      : [...families].map(([family, members]) => h("div", { class: "action-group", "data-family": family }, h("h3", {}, family),
        members.map((a) => h("button", { type: "button", "data-action": a.index, title: a.name, onclick: () => send("/step", { action: a.index }) },
          `${a.name} (${costText(a)})`)))));
    root.dataset.tick = result.tick;
    root.dataset.steps = history.length - 1;
    status.textContent = "";
  };
  const send = async (path, body) => {
    try {
      show(await json(path === "" ? "/play" : `/play/${session}${path}`, { method: "POST", body }));
    } catch (error) {
      status.textContent = errorText(error);
    }
  };
  // Closing a session is best effort: one the page cannot close expires on the server by itself.
  const close = () => { if (session) json(`/play/${session}`, { method: "DELETE" }).catch(() => {}); };
  const start = () => {
    const value = seed.value.trim();
    close();
    send("", value ? { seed: Number(value) } : {});
  };

  replace(root, h("div", { class: "page-head" }, h("h1", {}, "Play"),
    h("label", {}, "Seed ", seed), h("button", { type: "button", id: "new-game", class: "primary", onclick: start }, "New game"),
    h("button", { type: "button", id: "reset", onclick: () => session && send("/reset") }, "Reset")),
  summary, status, actions, agent.element, view.element);
  agent.load().catch((error) => { status.textContent = errorText(error); });
  start();
  return close;
}
