// Follow a run's SSE stream (/runs/{id}/events). EventSource reconnects by itself with
// Last-Event-ID after a drop; when it gives up (the server was down, or its ?token= expired) the
// stream is opened again with ?after=<last window held> and a fresh token. Windows and milestones
// already held are dropped by the caller's keys, so nothing is counted twice.
import { json, withStreamToken } from "../api.js";
import { TERMINAL_STATUSES } from "../format.js";

const EVENTS = ["snapshot", "window", "checkpoint", "milestone", "replay", "status", "end"];
const REOPEN_MS = 1000;

export class RunStream {
  /** `handlers`: {snapshot, window, checkpoint, milestone, replay, status, end, connection}; `lastWindowId()` says where to resume. */
  constructor(runId, handlers, lastWindowId) {
    this.runId = runId;
    this.handlers = handlers;
    this.lastWindowId = lastWindowId;
    this.source = null;
    this.closed = false;
    this.timer = null;
    this.reconnects = 0;
  }

  async open() {
    if (this.closed) return;
    const after = this.lastWindowId();
    const path = `/runs/${encodeURIComponent(this.runId)}/events${after >= 0 ? `?after=${after}` : ""}`;
    let url;
    try {
      url = await withStreamToken(path);
    } catch {
      this.schedule();
      return;
    }
    if (this.closed) return;
    const source = new EventSource(url);
    this.source = source;
    source.onopen = () => this.handlers.connection?.("open");
    source.onerror = () => {
      this.handlers.connection?.(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
      if (source.readyState === EventSource.CLOSED) this.reopenUnlessFinished();
    };
    for (const kind of EVENTS) {
      source.addEventListener(kind, (event) => {
        const data = JSON.parse(event.data);
        if (kind === "end") this.close();
        this.handlers[kind]?.(data);
      });
    }
  }

  /** A stream closed by the server or by an error: open it again unless the run is over and held whole. */
  async reopenUnlessFinished() {
    this.source?.close();
    try {
      const run = await json(`/runs/${encodeURIComponent(this.runId)}`);
      if (TERMINAL_STATUSES.has(run.status) && this.lastWindowId() >= run.windows_emitted - 1) {
        this.handlers.snapshot?.(run);
        this.close();
        return;
      }
    } catch (error) {
      if (error.status === 404) { // deleted meanwhile
        this.close();
        return;
      }
      // otherwise the server is not answering yet: try again
    }
    this.schedule();
  }

  schedule() {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reconnects += 1;
      this.open();
    }, REOPEN_MS);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.handlers.connection?.("ended");
  }
}
