// The trainer's log, following: GET /runs/{id}/logs?follow=true read as a stream (fetch can send
// the bearer token). The last MAX_LINES lines are kept; a dropped stream is opened again.
import { request } from "../api.js";
import { h } from "../dom.js";

const MAX_LINES = 400;
const RETRY_MS = 2000;

export class LogTail {
  constructor(path) {
    this.path = path;
    this.element = h("pre", { class: "log", id: "log" });
    this.controller = null;
    this.stopped = false;
  }

  async start() {
    while (!this.stopped) {
      this.controller = new AbortController();
      let lines = [];
      try {
        const response = await request(`${this.path}?tail=${MAX_LINES}&follow=true`,
          { headers: { Accept: "text/plain" }, signal: this.controller.signal });
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let partial = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const parts = (partial + value).split("\n");
          partial = parts.pop();
          lines = lines.concat(parts).slice(-MAX_LINES);
          this.show(lines, partial);
        }
        return; // the run ended: the log is whole
      } catch (error) {
        if (this.stopped || (error.status && error.status !== 503)) return;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  show(lines, partial) {
    const atBottom = this.element.scrollTop + this.element.clientHeight >= this.element.scrollHeight - 4;
    this.element.textContent = lines.join("\n") + (partial ? `\n${partial}` : "");
    if (atBottom) this.element.scrollTop = this.element.scrollHeight;
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }
}
