// Launch: POST /runs through a form generated from the OpenAPI schema of its body.
import { ApiError, json } from "../api.js";
import { h, replace } from "../dom.js";
import { SchemaForm, resolveRef } from "../components/schemaform.js";

const GROUPS = [
  ["Run", (name) => !/^(env_|ppo_|eval_|wandb_|milestones$)/.test(name)],
  ["Environment", (name) => name.startsWith("env_")],
  ["PPO", (name) => name.startsWith("ppo_")],
  ["Evaluation and milestones", (name) => name.startsWith("eval_") || name === "milestones"],
  ["Weights & Biases", (name) => name.startsWith("wandb_")],
];

export const PRESETS = {
  "quick random smoke": { trainer_backend: "random", total_env_steps: 40000, window_env_steps: 2000, num_envs: 16 },
  "PPO default": { trainer_backend: "puffer_ppo", total_env_steps: 2000000, eval_episodes: 50 },
  "PPO long": { trainer_backend: "puffer_ppo", total_env_steps: 10000000, checkpoint_every_windows: 10,
    eval_episodes: 200 },
  // ~2x the default's speed on a quiet two-core CPU with bfloat16 instructions (README, "PPO")
  "PPO long, fast (bfloat16, 2 threads)": { trainer_backend: "puffer_ppo", total_env_steps: 10000000,
    checkpoint_every_windows: 10, eval_episodes: 200, ppo_precision: "bfloat16", batch_threads: 2 },
};

/** The schema of POST /runs's JSON body. */
async function runCreateSchema() {
  const spec = await json("/openapi.json");
  const ref = spec.paths["/runs"].post.requestBody.content["application/json"].schema.$ref;
  return resolveRef(spec, ref);
}

export function mount(root) {
  const status = h("div", { class: "form-status", id: "launch-status", role: "status" });
  replace(root, h("h1", {}, "Launch a run"), status);
  let alive = true;
  runCreateSchema().then((schema) => {
    if (!alive) return;
    const form = new SchemaForm(schema, GROUPS, ["run_id", "trainer_backend"]);
    const presets = h("div", { class: "presets" }, "Presets: ",
      Object.entries(PRESETS).map(([name, values]) =>
        h("button", { type: "button", "data-preset": name, onclick: () => form.reset(values) }, name)),
      h("button", { type: "button", onclick: () => form.reset() }, "defaults"));
    const submit = h("button", { type: "submit", class: "primary" }, "Launch");
    const element = h("form", { id: "launch-form", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      form.clearErrors();
      const body = form.body();
      if (body === null) {
        status.textContent = "Fix the fields marked in red.";
        return;
      }
      submit.disabled = true;
      status.textContent = "Launching…";
      try {
        const run = await json("/runs", { method: "POST", body });
        location.hash = `#/runs/${encodeURIComponent(run.run_id)}`;
      } catch (error) {
        const unplaced = error instanceof ApiError && error.status === 422 ? form.showServerErrors(error.detail) : [error.message];
        status.textContent = unplaced.length ? unplaced.join("; ") : "The server refused some fields (marked in red).";
      } finally {
        submit.disabled = false;
      }
    } }, presets, form.element, h("div", { class: "actions" }, submit));
    root.insertBefore(element, status);
    root.dataset.loaded = "true";
  }).catch((error) => { status.textContent = `Cannot read the API schema: ${error.message}`; });
  return () => { alive = false; };
}
