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
    return this.addMany([record]) > 0;
  }

  /** Add window records in id order (a history page, or one live window); returns how many were new. */
  addMany(records) {
    let last = this.lastId;
    const fresh = records.filter((r) => r.window_id > last && ((last = r.window_id), true));
    if (!fresh.length) return 0;
    const held = this.ids.length;
    for (const record of fresh) {
      for (const field in record) {
        if (typeof record[field] === "number" && !this.columns.has(field)) this.columns.set(field, new Array(held).fill(null));
      }
    }
    for (const record of fresh) this.ids.push(record.window_id);
    for (const [field, column] of this.columns) {
      for (const record of fresh) {
        const value = record[field];
        column.push(typeof value === "number" ? value : null);
      }
    }
    return fresh.length;
  }

  has(field) {
    return this.columns.has(field);
  }

  /** The column of `field` (nulls when no record had it). */
  column(field) {
    return this.columns.get(field) ?? new Array(this.ids.length).fill(null);
  }
}
