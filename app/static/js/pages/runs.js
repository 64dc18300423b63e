// Runs: a live table of runs with filters and sort, polling GET /runs (see README "Dashboard").
import { json } from "../api.js";
import { h, replace } from "../dom.js";
import { duration, num, statusBadge, time } from "../format.js";
import { poll } from "../components/poller.js";

const POLL_MS = 2000;
const PAGE_SIZE = 200;
const STATUSES = ["", "queued", "starting", "running", "completed", "failed", "cancelled", "interrupted", "corrupt"];
const SORTS = [["-created_at", "newest first"], ["created_at", "oldest first"], ["-updated_at", "recently updated"],
  ["run_id", "id A→Z"], ["-run_id", "id Z→A"]];

function select(name, options) {
  return h("select", { name }, options.map(([value, label]) => h("option", { value }, label)));
}

function progressCell(run) {
  if (run.status === "corrupt") return h("td");
  const pct = Math.round((run.progress ?? 0) * 100);
  const eta = run.eta_s != null && run.status === "running" ? ` · ETA ${duration(run.eta_s)}` : "";
  return h("td", { class: "progress-cell" },
    h("div", { class: "progress" }, h("div", { class: "bar", style: `width:${pct}%` })),
    h("small", {}, `${pct}%${eta}`));
}

function runRow(run, selected) {
  const w = run.latest_window ?? {};
  const checkbox = h("input", { type: "checkbox", "aria-label": `select ${run.run_id}`, checked: selected.has(run.run_id),
    onchange: (e) => (e.target.checked ? selected.add(run.run_id) : selected.delete(run.run_id)) });
  return h("tr", { "data-run-id": run.run_id },
    h("td", {}, checkbox),
    h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(run.run_id)}` }, run.run_id)),
    h("td", {}, statusBadge(run.status)),
    h("td", {}, run.trainer_backend ?? ""),
    progressCell(run),
    h("td", { class: "num" }, num(run.env_steps_total)),
    h("td", { class: "num" }, num(w.return_mean, 2)),
    h("td", { class: "num" }, num(w.net_profit_mean)),
    h("td", { class: "num" }, (run.milestones_reached ?? []).length),
    h("td", {}, time(run.started_at)),
    h("td", {}, time(run.updated_at)));
}

export function mount(root) {
  const selected = new Set();
  const filters = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    h("label", {}, "Status ", select("status", STATUSES.map((s) => [s, s || "any"]))),
    h("label", {}, "Backend ", select("backend", [["", "any"], ["random", "random"], ["puffer_ppo", "puffer_ppo"]])),
    h("label", {}, "Id prefix ", h("input", { name: "q", type: "search", maxlength: 64 })),
    h("label", {}, "Sort ", select("sort", SORTS)));
  const body = h("tbody");
  const note = h("p", { class: "muted", id: "runs-note" });
  const compare = h("button", { type: "button", onclick: () => {
    if (selected.size) location.hash = `#/compare?runs=${[...selected].map(encodeURIComponent).join(",")}`;
  } }, "Compare selected");
  replace(root,
    h("div", { class: "page-head" }, h("h1", {}, "Runs"), h("a", { class: "button", href: "#/launch" }, "Launch a run"), compare),
    filters,
    h("table", { class: "runs" },
      h("thead", {}, h("tr", {}, ["", "Run", "Status", "Backend", "Progress", "Env steps", "Return", "Net profit",
        "Milestones", "Started", "Updated"].map((label) => h("th", {}, label)))),
      body),
    note);

  const refresh = async () => {
    const params = new URLSearchParams({ limit: PAGE_SIZE });
    for (const [key, value] of new FormData(filters)) if (value) params.set(key, value);
    const page = await json(`/runs?${params}`);
    replace(body, page.items.map((run) => runRow(run, selected)));
    root.dataset.loaded = "true";
    note.textContent = `${page.items.length} run(s)${page.next_cursor ? ` (first ${PAGE_SIZE} shown)` : ""} · updated every ${POLL_MS / 1000} s`;
  };
  const poller = poll(refresh, POLL_MS);
  filters.addEventListener("input", () => poller.now());
  return () => poller.stop();
}
