// What the run and compare pages chart: the window record's metrics, grouped into charts.

// Net profit of the scripted players on 200 held-out episodes (seed 12345, profit reward):
// `python -m trainer.evaluate --episodes 200 --seed 12345`, as the README's table reports them.
export const BASELINES = [
  { label: "random 4.6", value: 4.6, color: "#6b7280" },
  { label: "greedy 24,313", value: 24313, color: "#2a9d5b" },
];

export const RUN_CHARTS = [
  { title: "Return", fields: [{ field: "return_mean", label: "mean" }, { field: "return_min", label: "min" },
    { field: "return_max", label: "max" }] },
  { title: "Net profit", fields: [{ field: "net_profit_mean", label: "training" },
    { field: "eval_net_profit_mean", label: "eval (checkpoints)", points: true }], references: BASELINES },
  { title: "Endings", fields: [{ field: "survival_rate", label: "survived" }, { field: "destroyed_rate", label: "destroyed" },
    { field: "stranded_rate", label: "stranded" }, { field: "cash_out_rate", label: "cashed out" }] },
  { title: "Episode length", fields: [{ field: "length_mean", label: "env steps" }] },
  { title: "Episode length (ticks)", fields: [{ field: "length_ticks_mean", label: "ticks" }] },
  { title: "Env steps per second", fields: [{ field: "sps", label: "sps" }] },
  { title: "PPO losses", fields: [{ field: "policy_loss", label: "policy" }, { field: "value_loss", label: "value" }] },
  { title: "Entropy", fields: [{ field: "entropy", label: "entropy (nats)" }] },
  { title: "Approx KL and clip fraction", fields: [{ field: "approx_kl", label: "approx KL" },
    { field: "clip_fraction", label: "clip fraction" }] },
  { title: "Explained variance", fields: [{ field: "explained_variance", label: "explained variance" }] },
  { title: "Learning rate", fields: [{ field: "learning_rate", label: "learning rate" }] },
];

/** Every metric a chart can show, for the compare page's picker. */
export const METRICS = RUN_CHARTS.flatMap((chart) => chart.fields.map((f) => f.field));
