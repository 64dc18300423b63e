// Run: live charts from the SSE stream, status and actions, milestones, replays, checkpoints,
// config and the log tail.
import { ApiError, download, json, windowPages } from "../api.js";
import { h, replace } from "../dom.js";
import { duration, num, statusBadge, time, TERMINAL_STATUSES } from "../format.js";
import { SeriesChart } from "../components/chart.js";
import { LogTail } from "../components/logtail.js";
import { RUN_CHARTS } from "../components/metrics.js";
import { RunStream } from "../components/runstream.js";
import { WindowSeries } from "../components/windowseries.js";

const runUrl = (runId, rest = "") => `/runs/${encodeURIComponent(runId)}${rest}`;

class RunHeader {
  constructor(runId, onAction) {
    this.runId = runId;
    this.element = h("section", { class: "run-head" });
    this.onAction = onAction;
  }

  render(run) {
    const w = run.latest_window ?? {};
    const terminal = TERMINAL_STATUSES.has(run.status);
    const pct = Math.round((run.progress ?? 0) * 100);
    const total = h("input", { type: "text", inputmode: "numeric", name: "resume_total", size: 12,
      placeholder: "new total (optional)", "aria-label": "new total env steps" });
    replace(this.element,
      h("div", { class: "page-head" }, h("h1", {}, run.run_id), statusBadge(run.status),
        h("span", { class: "muted" }, `${run.trainer_backend ?? ""} · ${run.env_reward ?? ""} reward · seed ${run.seed ?? "–"}`),
        run.wandb_run_url ? h("a", { href: run.wandb_run_url, target: "_blank", rel: "noopener" }, "W&B run") : null),
      run.error ? h("div", { class: "error-box", id: "run-error" }, h("strong", {}, run.error_kind ?? "error"), ": ", run.error) : null,
      h("div", { class: "progress wide" }, h("div", { class: "bar", style: `width:${pct}%` })),
      h("p", { class: "counters" },
        `${num(run.env_steps_total)} / ${num(run.target_env_steps)} env steps (${pct}%)`,
        run.eta_s != null && !terminal ? ` · ETA ${duration(run.eta_s)}` : "",
        ` · ${num(run.windows_emitted)} windows · ${num(run.episodes_total)} episodes · ${num(run.checkpoints_written)} checkpoints`,
        w.sps != null ? ` · ${num(w.sps)} sps` : "",
        ` · started ${time(run.started_at)} · updated ${time(run.updated_at)}`,
        run.exit_code != null ? ` · exit code ${run.exit_code}` : ""),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "cancel", disabled: terminal, onclick: () => this.onAction("cancel") }, "Cancel"),
        total,
        h("button", { type: "button", id: "resume", disabled: !terminal || run.status === "corrupt",
          onclick: () => this.onAction("resume", total.value.trim()) }, "Resume"),
        h("button", { type: "button", id: "delete", class: "danger", disabled: !terminal,
          onclick: () => this.onAction("delete") }, "Delete")),
      h("div", { class: "form-status", id: "action-status", role: "status" }));
  }

  message(text) {
    const status = this.element.querySelector("#action-status");
    if (status) status.textContent = text;
  }
}

function milestoneKey(m) {
  return `${m.metric}:${m.threshold}`;
}

function replayRow(runId, entry) {
  return h("tr", {},
    h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(runId)}/replays/${encodeURIComponent(entry.replay_id)}` }, entry.replay_id)),
    h("td", {}, entry.tags.map((tag) => h("span", { class: "tag" }, tag))),
    h("td", { class: "num" }, num(entry.net_profit)),
    h("td", { class: "num" }, num(entry.steps)),
    h("td", {}, entry.ended_by));
}

export function mount(root, { runId }) {
  const series = new WindowSeries();
  const milestones = new Map();
  const charts = RUN_CHARTS.map((spec) => new SeriesChart(spec));
  const header = new RunHeader(runId, (action, value) => act(action, value));
  const connection = h("span", { class: "connection", id: "connection" }, "connecting");
  const milestoneList = h("ul", { class: "milestones" });
  const replays = h("tbody");
  const checkpoints = h("ul", { class: "checkpoints" });
  const config = h("pre", { class: "config" });
  const logTail = new LogTail(runUrl(runId, "/logs"));
  let run = null;

  replace(root, header.element,
    h("p", {}, "Live: ", connection),
    h("div", { class: "charts" }, charts.map((c) => c.element)),
    h("section", {}, h("h2", {}, "Milestones"), milestoneList),
    h("section", {}, h("h2", {}, "Replays"),
      h("table", { class: "replays" }, h("thead", {}, h("tr", {}, ["Replay", "Tags", "Net profit", "Steps", "Ended by"].map((t) => h("th", {}, t)))), replays)),
    h("section", {}, h("h2", {}, "Checkpoints"), checkpoints),
    h("details", {}, h("summary", {}, "Config"), config),
    h("section", {}, h("h2", {}, "Log"), logTail.element));

  // Charts redraw at most once a frame, however many windows arrive in it.
  let frame = 0;
  const redraw = () => {
    frame = 0;
    for (const chart of charts) chart.update(series);
    root.dataset.windows = series.length;
  };
  const scheduleRedraw = () => { frame ||= requestAnimationFrame(redraw); };
  const showMilestones = () => {
    const list = [...milestones.values()];
    for (const chart of charts) chart.setMarkers(list.map((m) => ({ x: m.env_steps })));
    replace(milestoneList, list.length ? list.map((m) => h("li", { "data-milestone": milestoneKey(m) },
      `${m.metric} ≥ ${num(m.threshold, 2)}: ${num(m.value, 2)} at window ${m.window_id} (${num(m.env_steps)} env steps), ${time(m.time)}`))
      : h("li", { class: "muted" }, "none yet"));
  };
  const showRun = (resource) => {
    run = resource;
    header.render(run);
    root.dataset.status = run.status;
    for (const m of run.milestones_reached ?? []) milestones.set(milestoneKey(m), m);
    showMilestones();
  };
  const loadCheckpoints = async () => {
    const { items } = await json(runUrl(runId, "/checkpoints"));
    replace(checkpoints, items.length ? items.map((c) => h("li", {},
      h("a", { href: c.url, onclick: (e) => { e.preventDefault(); download(c.url, `${runId}-ckpt_${c.window_id}.pt`); } },
        `window ${c.window_id}`), ` (${num(c.size_bytes / 1024)} KiB)`)) : h("li", { class: "muted" }, "none yet"));
  };
  const loadReplays = async () => {
    const { items } = await json(runUrl(runId, "/replays?limit=500"));
    replace(replays, items.map((entry) => replayRow(runId, entry)));
  };
  const refreshRun = async () => showRun(await json(runUrl(runId)));
  // A request that fails while the stream goes on (e.g. the server is restarting) is shown, not thrown.
  const shown = (promise) => promise.catch((error) => header.message(error.message));

  const act = async (action, value) => {
    try {
      if (action === "cancel") await json(runUrl(runId, "/cancel"), { method: "POST" });
      if (action === "resume") {
        const body = value ? { total_env_steps: Number(value) } : undefined;
        await json(runUrl(runId, "/resume"), { method: "POST", body });
        stream?.close();
        stream = openStream();
      }
      if (action === "delete") {
        if (!confirm(`Delete run ${runId} and its files?`)) return;
        await json(runUrl(runId), { method: "DELETE" });
        location.hash = "#/runs";
        return;
      }
      await refreshRun();
      header.message(`${action}: accepted`);
    } catch (error) {
      const detail = error instanceof ApiError && Array.isArray(error.detail) ? error.detail.map((e) => e.msg).join("; ") : error.message;
      header.message(`${action} refused: ${detail}`);
    }
  };

  const openStream = () => {
    const stream = new RunStream(runId, {
      snapshot: showRun,
      window: (record) => { if (series.add(record)) scheduleRedraw(); },
      checkpoint: () => shown(loadCheckpoints()),
      milestone: (m) => { milestones.set(milestoneKey(m), m); showMilestones(); },
      replay: () => shown(loadReplays()),
      status: (s) => { if (run) showRun({ ...run, ...s }); shown(refreshRun()); },
      end: () => shown(refreshRun()),
      connection: (state) => { connection.textContent = state; connection.dataset.state = state; },
    }, () => series.lastId);
    stream.open();
    return stream;
  };
  // The history comes as one JSON page (much cheaper than one SSE event per window), then the
  // stream carries on after its last window.
  let stream = null;
  let unmounted = false;
  (async () => {
    for await (const items of windowPages(runId)) {
      if (series.addMany(items)) scheduleRedraw();
    }
  })().then(() => true, (error) => error.status !== 404 && (header.message(error.message), true))
    .then((follow) => { if (follow && !unmounted) stream = openStream(); });
  window.dashboard = { ...window.dashboard, run: { windowIds: () => series.ids.slice(), stream: () => stream } };

  refreshRun().catch((error) => {
    if (error.status === 404) replace(root, h("p", { class: "error-box", id: "run-error" }, `There is no run ${runId}.`));
    else header.message(error.message);
  });
  shown(loadCheckpoints());
  shown(loadReplays());
  shown(json(runUrl(runId, "/config")).then((c) => { config.textContent = JSON.stringify(c, null, 2); }));
  logTail.start();

  return () => {
    unmounted = true;
    stream?.close();
    logTail.stop();
    cancelAnimationFrame(frame);
    for (const chart of charts) chart.destroy();
  };
}
