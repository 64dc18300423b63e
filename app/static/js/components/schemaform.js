// A form generated from a JSON schema object (OpenAPI's components): one input per property,
// with its default, description and bounds, grouped; values read back as the JSON body.
import { h } from "../dom.js";

/** The schema `ref` ("#/components/schemas/X") points at. */
export function resolveRef(spec, ref) {
  return ref.replace(/^#\//, "").split("/").reduce((node, key) => node[key], spec);
}

/** A property's own schema without a `null` alternative (anyOf [T, null] → T). */
function concrete(prop) {
  if (!prop.anyOf) return prop;
  const [only] = prop.anyOf.filter((option) => option.type !== "null");
  return { ...only, description: prop.description, default: prop.default, title: prop.title };
}

function kindOf(prop) {
  if (prop.enum) return "enum";
  if (prop.type === "array") return prop.items?.type === "integer" ? "int-list" : "text-list";
  return prop.type; // integer, number, boolean, string
}

/** The value a field shows for `value` (arrays: integers comma-separated, others one per line). */
function display(kind, value) {
  if (value === undefined || value === null) return "";
  if (kind === "int-list") return value.join(", ");
  if (kind === "text-list") return value.map((item) => (typeof item === "string" ? item : `${item.metric}:${item.threshold}`)).join("\n");
  return String(value);
}

/** The JSON value of a field's text, or an Error naming what is wrong. */
function parse(kind, text) {
  const trimmed = text.trim();
  switch (kind) {
    case "integer":
      return /^-?\d+$/.test(trimmed) ? Number(trimmed) : new Error("must be a whole number");
    case "number":
      return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : new Error("must be a number");
    case "int-list": {
      const items = trimmed.split(/[\s,]+/).filter(Boolean);
      return items.every((item) => /^\d+$/.test(item)) ? items.map(Number) : new Error("whole numbers separated by commas");
    }
    case "text-list":
      return trimmed.split("\n").map((line) => line.trim()).filter(Boolean);
    default:
      return trimmed;
  }
}

/** A client-side hint for a number against the schema's bounds ("" when within them). */
function boundsHint(prop, value) {
  if (typeof value !== "number") return "";
  if (prop.minimum !== undefined && value < prop.minimum) return `at least ${prop.minimum}`;
  if (prop.exclusiveMinimum !== undefined && value <= prop.exclusiveMinimum) return `more than ${prop.exclusiveMinimum}`;
  if (prop.maximum !== undefined && value > prop.maximum) return `at most ${prop.maximum}`;
  if (prop.exclusiveMaximum !== undefined && value >= prop.exclusiveMaximum) return `less than ${prop.exclusiveMaximum}`;
  return "";
}

class Field {
  constructor(name, prop) {
    this.name = name;
    this.prop = concrete(prop);
    this.kind = kindOf(this.prop);
    this.input = this.makeInput();
    this.error = h("div", { class: "field-error", "data-error-for": name, role: "alert" });
    this.element = h("div", { class: "field", "data-field": name },
      h("label", { for: `field-${name}` }, name),
      this.input,
      h("small", { class: "description" }, this.prop.description ?? "",
        this.prop.default !== undefined ? ` (default: ${JSON.stringify(this.prop.default)})` : ""),
      this.error);
    this.input.addEventListener("input", () => this.check());
    this.reset();
  }

  makeInput() {
    const id = `field-${this.name}`;
    const p = this.prop;
    if (this.kind === "enum") return h("select", { id, name: this.name }, p.enum.map((v) => h("option", { value: v }, v)));
    if (this.kind === "boolean") return h("input", { id, name: this.name, type: "checkbox" });
    if (this.kind === "text-list") return h("textarea", { id, name: this.name, rows: 4 });
    const numeric = this.kind === "integer" || this.kind === "number";
    return h("input", { id, name: this.name, type: "text", inputmode: numeric ? "decimal" : null,
      pattern: p.pattern ?? null, placeholder: display(this.kind, p.default) || null });
  }

  reset() {
    this.set(this.prop.default);
  }

  set(value) {
    if (this.kind === "boolean") this.input.checked = Boolean(value);
    else this.input.value = display(this.kind, value);
    this.showError("");
  }

  /** The field's JSON value (an Error when it cannot be read). */
  value() {
    if (this.kind === "boolean") return this.input.checked;
    if (this.kind === "enum") return this.input.value;
    if (this.input.value.trim() === "" && this.prop.default === undefined) return undefined;
    return parse(this.kind, this.input.value);
  }

  /** True when the value differs from the schema's default (only those are sent). */
  changed() {
    const value = this.value();
    return value !== undefined && JSON.stringify(value) !== JSON.stringify(this.prop.default);
  }

  check() {
    const value = this.value();
    const hint = value instanceof Error ? value.message : boundsHint(this.prop, value);
    this.showError(hint);
    return !hint;
  }

  showError(message) {
    this.error.textContent = message;
    this.element.classList.toggle("invalid", Boolean(message));
  }
}

/** The form for `schema`'s properties, in `groups` ([[title, (name) => bool], ...], first match wins),
 * in the schema's order but for the `first` fields, which lead. */
export class SchemaForm {
  constructor(schema, groups, first = []) {
    const rest = Object.keys(schema.properties).filter((name) => !first.includes(name));
    const names = [...first.filter((name) => name in schema.properties), ...rest];
    this.fields = new Map(names.map((name) => [name, new Field(name, schema.properties[name])]));
    this.element = h("div", { class: "schema-form" }, groups.map(([title]) => {
      const members = [...this.fields.values()].filter((f) => groups.find(([, t]) => t(f.name))?.[0] === title);
      return members.length ? h("fieldset", { "data-group": title }, h("legend", {}, title), members.map((f) => f.element)) : null;
    }));
  }

  reset(values = {}) {
    for (const field of this.fields.values()) field.reset();
    for (const [name, value] of Object.entries(values)) this.fields.get(name)?.set(value);
  }

  /** The body to send (changed fields only), or null when a field fails its client-side check. */
  body() {
    let ok = true;
    const body = {};
    for (const field of this.fields.values()) {
      ok = field.check() && ok;
      if (ok && field.changed()) body[field.name] = field.value();
    }
    return ok ? body : null;
  }

  clearErrors() {
    for (const field of this.fields.values()) field.showError("");
  }

  /** Show a 422's errors next to the field each `loc` names; returns the messages no field took. */
  showServerErrors(detail) {
    const unplaced = [];
    for (const error of Array.isArray(detail) ? detail : [{ loc: [], msg: String(detail) }]) {
      const loc = error.loc ?? [];
      const field = this.fields.get(loc[0] === "body" ? loc[1] : loc[0]);
      if (field) field.showError(error.msg);
      else unplaced.push(error.msg);
    }
    return unplaced;
  }
}
