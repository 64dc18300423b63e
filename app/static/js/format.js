// Number, time and status formatting shared by the pages.
import { h } from "./dom.js";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A number with thousands separators and at most `digits` decimals; "–" for null. */
export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (digits === 0) return integer.format(value);
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
}

/** A duration in seconds as "1h 02m", "3m 07s" or "12s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** An ISO time as local "YYYY-MM-DD HH:MM:SS". */
export function time(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A coloured badge for a run status. */
export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, "data-status": status }, status);
}

export const TERMINAL_STATUSES = new Set(["completed", "failed", "cancelled", "interrupted", "corrupt"]);
