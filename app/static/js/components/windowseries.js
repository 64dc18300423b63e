// A run's window records as columns (one array per numeric field), keyed by window id: a
// window already held is ignored, so a resumed stream never adds a point twice.

export class WindowSeries {
  constructor() {
    this.ids = [];
    this.columns = new Map();
  }

  get length() {
    return this.ids.length;
  }

  get lastId() {
    return this.ids.length ? this.ids[this.ids.length - 1] : -1;
  }

  /** Add a window record; false when its id is not newer than the last one held. */
  add(record) {
    if (record.window_id <= this.lastId) return false;
    const n = this.ids.length;
    this.ids.push(record.window_id);
    for (const [field, value] of Object.entries(record)) {
      if (typeof value !== "number" || this.columns.has(field)) continue;
      this.columns.set(field, new Array(n).fill(null));
    }
    for (const [field, column] of this.columns) {
      const value = record[field];
      column.push(typeof value === "number" ? value : null);
    }
    return true;
  }

  has(field) {
    return this.columns.has(field);
  }

  /** The column of `field` (nulls when no record had it). */
  column(field) {
    return this.columns.get(field) ?? new Array(this.ids.length).fill(null);
  }
}
