// Replay: a recorded evaluation episode played back: world map, ship, gauges, asteroids, events,
// a timeline scrubber, play/pause and speed. Position 0 is the initial state, n the n-th step.
import { json } from "../api.js";
import { h, replace } from "../dom.js";
import { num } from "../format.js";
import { GameView } from "../components/gameview.js";

const PAGE = 2000;
const SPEEDS = [1, 2, 5, 10, 25, 50, 100];

async function loadFrames(url, total) {
  const frames = [];
  while (frames.length < total) {
    const page = await json(`${url}?offset=${frames.length}&limit=${PAGE}`);
    if (!page.frames.length) break;
    frames.push(...page.frames);
  }
  return frames;
}

export function mount(root, { runId, replayId }) {
  const base = `/runs/${encodeURIComponent(runId)}/replays`;
  const status = h("p", { class: "muted", id: "replay-status" }, "Loading…");
  replace(root, h("div", { class: "page-head" },
    h("h1", {}, `Replay ${replayId}`), h("a", { href: `#/runs/${encodeURIComponent(runId)}` }, `run ${runId}`)), status);
  let frameRequest = 0;
  let stopped = false;

  (async () => {
    const [detail, index] = await Promise.all([json(`${base}/${replayId}`), json(`${base}?limit=500`)]);
    const frames = await loadFrames(detail.frames_url, detail.frames_total);
    if (stopped) return;
    const { header, end, entry } = detail;
    const view = new GameView();
    view.setWorld(header);
    const stateAt = (i) => (i === 0 ? header.initial : frames[i - 1].state);
    const steps = [{ tick: 0, action_name: null, events: [] }, ...frames];

    const picker = h("select", { id: "replay-picker", onchange: (e) => { location.hash = `#/runs/${encodeURIComponent(runId)}/replays/${e.target.value}`; } },
      index.items.map((r) => h("option", { value: r.replay_id, selected: r.replay_id === replayId },
        `${r.replay_id} · ${num(r.net_profit)} credits${r.tags.length ? ` · ${r.tags.join(", ")}` : ""}`)));
    const scrubber = h("input", { type: "range", id: "scrubber", min: 0, max: frames.length, value: 0, step: 1, "aria-label": "step" });
    const playButton = h("button", { type: "button", id: "play" }, "Play");
    const speed = h("select", { id: "speed", "aria-label": "speed" }, SPEEDS.map((s) => h("option", { value: s, selected: s === 10 }, `${s} steps/s`)));
    const position = h("span", { id: "position" });

    let current = 0; // fractional while playing: the ship travels between nodes
    let playing = false;
    let last = 0;
    const show = (at) => {
      current = Math.max(0, Math.min(frames.length, at));
      const i = Math.floor(current);
      const state = stateAt(i);
      const next = i < frames.length ? stateAt(i + 1) : state;
      const moving = playing && next.node !== state.node;
      view.show(moving ? next : state, steps[i].tick, moving ? { from: state.node, fraction: current - i } : {});
      view.feed.render(steps.slice(0, i + 1));
      scrubber.value = String(i);
      position.textContent = `step ${i} / ${frames.length} · tick ${num(steps[i].tick)}`;
      root.dataset.position = i;
    };
    const tick = (now) => {
      if (!playing) return;
      const advanced = current + ((now - last) / 1000) * Number(speed.value);
      last = now;
      if (advanced >= frames.length) {
        setPlaying(false);
        show(frames.length);
        return;
      }
      show(advanced);
      frameRequest = requestAnimationFrame(tick);
    };
    const setPlaying = (on) => {
      playing = on;
      playButton.textContent = on ? "Pause" : "Play";
      cancelAnimationFrame(frameRequest);
      if (on) {
        if (current >= frames.length) current = 0;
        last = performance.now();
        frameRequest = requestAnimationFrame(tick);
      }
    };
    playButton.addEventListener("click", () => setPlaying(!playing));
    scrubber.addEventListener("input", () => { setPlaying(false); show(Number(scrubber.value)); });

    replace(status, `${entry.tags.join(", ") || "no tags"} · window ${entry.window_id} · seed ${header.seed} · `,
      `${num(entry.steps)} steps, ${num(entry.ticks)} ticks · net profit ${num(entry.net_profit)} · ended by ${end.ended_by}`);
    root.append(h("div", { class: "transport" }, picker, playButton, speed, scrubber, position), view.element);
    root.dataset.frames = frames.length;
    show(0);
  })().catch((error) => { status.textContent = error.message; });

  return () => {
    stopped = true;
    cancelAnimationFrame(frameRequest);
  };
}
