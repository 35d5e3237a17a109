// Pure helpers of the Data & runs page (tested with Vitest): the run form's base models and typed
// hyper-parameters, curves as aligned columns for the chart, progress labels and metric tables.
import type { Schemas } from "./api";

type RegisteredModel = Schemas["RegisteredModel"];
type RunOption = Schemas["RunOption"];
type HyperparamField = Schemas["HyperparamField"];
type Metric = Schemas["RunMetric"];
type Run = Schemas["TrainingRun"];
type Snapshot = Schemas["Snapshot"];

/** A job's states that still change: what the page polls for. */
export function isLive(status: string): boolean {
  return status === "queued" || status === "running" || status === "building";
}

/** The models a run of this kind may start from, best kind first (newest first within a kind), and the others
 * with the reason the server would give for refusing them. */
export function baseModelChoices(option: Pick<RunOption, "kind" | "base_model_kinds">, models: RegisteredModel[]): {
  allowed: RegisteredModel[];
  refused: { model: RegisteredModel; reason: string }[];
} {
  const rank = (m: RegisteredModel) => option.base_model_kinds.indexOf(m.kind);
  const allowed = models.filter((m) => rank(m) >= 0).sort((a, b) => rank(a) - rank(b) || b.id - a.id);
  const refused = models
    .filter((m) => rank(m) < 0)
    .map((model) => ({
      model,
      reason: `a ${option.kind} run cannot start from a ${model.kind === "rm" ? "reward model" : model.kind + " model"}`,
    }));
  return { allowed, refused };
}

/** The form's text for a field's default ("" for a null default: the trainer decides). */
export function fieldText(field: Pick<HyperparamField, "type" | "default">): string {
  if (field.default === null || field.default === undefined) return "";
  if (field.type === "boolean") return field.default ? "true" : "false";
  return String(field.default);
}

/** The hyper-parameters of `POST runs/` from the form: each typed field whose text parses (errors name the others),
 * then the advanced JSON object on top. Blank fields are left to the trainer's default. */
export function hyperparamsBody(
  fields: Pick<HyperparamField, "name" | "type">[],
  values: Record<string, string>,
  advanced: string,
): { hyperparams: Record<string, unknown>; errors: string[] } {
  const hyperparams: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const f of fields) {
    const raw = (values[f.name] ?? "").trim();
    if (raw === "") continue;
    if (f.type === "boolean") hyperparams[f.name] = raw === "true";
    else if (f.type === "string") hyperparams[f.name] = raw;
    else {
      const n = Number(raw);
      if (!Number.isFinite(n) || (f.type === "integer" && !Number.isInteger(n))) {
        errors.push(`${f.name}: must be ${f.type === "integer" ? "a whole number" : "a number"}`);
      } else hyperparams[f.name] = n;
    }
  }
  if (advanced.trim()) {
    try {
      const extra = JSON.parse(advanced);
      if (typeof extra !== "object" || extra === null || Array.isArray(extra)) throw new Error();
      Object.assign(hyperparams, extra);
    } catch {
      errors.push("advanced: must be a JSON object, e.g. {\"warmup_ratio\": 0.1}");
    }
  }
  return { hyperparams, errors };
}

/** Steps and progress in one label, the same in the runs table and the run card. */
export function runProgress(run: Pick<Run, "step" | "total_steps" | "status">): string {
  if (run.total_steps > 0) return `${Math.min(run.step, run.total_steps)}/${run.total_steps} steps`;
  if (run.step > 0) return `${run.step} steps`;
  return run.status === "queued" ? "not started" : "starting";
}

/** Replace a run in a list by a newer copy of it (the card's poll), keeping the list's order. */
export function withRun<R extends { id: number }>(runs: R[], run: R): R[] {
  return runs.map((r) => (r.id === run.id ? { ...r, ...run } : r));
}

export type Curve = { label: string; kind: "line" | "points"; values: (number | null)[] };
/** Columns for the chart: shared x (steps) and one y column per curve (null where it has no point). */
export type Columns = { steps: number[]; curves: Curve[] };

function pointsOf(metrics: Metric[], kinds: string[], key: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of metrics) {
    const v = m.values[key];
    if (kinds.includes(m.kind) && typeof v === "number" && Number.isFinite(v)) out.set(m.step, v);
  }
  return out;
}

function align(series: { label: string; kind: Curve["kind"]; points: Map<number, number> }[]): Columns {
  const live = series.filter((s) => s.points.size > 0);
  const steps = [...new Set(live.flatMap((s) => [...s.points.keys()]))].sort((a, b) => a - b);
  return {
    steps,
    curves: live.map((s) => ({ label: s.label, kind: s.kind, values: steps.map((x) => s.points.get(x) ?? null) })),
  };
}

/** A run's training curve of `metric` (step rows) and its validation points (`val_<metric>` of eval/end rows). */
export function runColumns(metrics: Metric[], metric: string): Columns {
  return align([
    { label: `train ${metric}`, kind: "line", points: pointsOf(metrics, ["step"], metric) },
    { label: `validation ${metric}`, kind: "points", points: pointsOf(metrics, ["eval", "end"], `val_${metric}`) },
  ]);
}

/** Several runs' training curves of one metric, for the compare chart. */
export function compareColumns(runs: { id: number; kind: string; metrics: Metric[] }[], metric: string): Columns {
  return align(
    runs.map((r) => ({ label: `run ${r.id} (${r.kind})`, kind: "line" as const, points: pointsOf(r.metrics, ["step"], metric) })),
  );
}

/** A number as a metric table shows it: durations as such, big counts whole, others to 4 significant digits. */
export function formatMetric(name: string, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (name.endsWith("_s") && !name.endsWith("_per_s")) {
    const s = Math.round(value);
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${value.toFixed(1)} s`;
  }
  if (Math.abs(value) >= 1000 || Number.isInteger(value)) return Math.round(value).toLocaleString("en-US");
  return value.toPrecision(4);
}

/** Final (or last) metrics as table rows: validation figures first, then training, then the rest, by name. */
export function metricRows(values: Record<string, number | null> | null | undefined): { name: string; value: string }[] {
  const group = (n: string) => (n.startsWith("val_") ? 0 : n.startsWith("train_") ? 1 : 2);
  return Object.entries(values ?? {})
    .filter(([name]) => name !== "stopped")
    .sort(([a], [b]) => group(a) - group(b) || a.localeCompare(b))
    .map(([name, value]) => ({ name, value: formatMetric(name, value) }));
}

/** Records of a split of a ready snapshot (null while it is not built). */
export function splitRecords(snapshot: Pick<Snapshot, "counts" | "status">, split: string): number | null {
  if (snapshot.status !== "ready") return null;
  return snapshot.counts[split]?.records ?? 0;
}

/** The models an RL run may be optimised against (kinds the run options name), newest first. */
export function rewardModelChoices(option: Pick<RunOption, "reward_model_kinds">, models: RegisteredModel[]): RegisteredModel[] {
  return models.filter((m) => option.reward_model_kinds.includes(m.kind)).sort((a, b) => b.id - a.id);
}

/** `columns` with one more line at a constant `value` (a target) over its steps; unchanged when there is none. */
export function withConstant(columns: Columns, label: string, value: unknown): Columns {
  if (typeof value !== "number" || !(value > 0) || columns.steps.length === 0) return columns;
  return { steps: columns.steps, curves: [...columns.curves, { label, kind: "line", values: columns.steps.map(() => value) }] };
}

/** A long text cut to `limit` characters at a word boundary where one is near, for the folded table cell. */
export function foldText(text: string, limit = 280): { text: string; folded: boolean } {
  if (text.length <= limit) return { text, folded: false };
  const cut = text.lastIndexOf(" ", limit);
  return { text: text.slice(0, cut > limit * 0.8 ? cut : limit) + "…", folded: true };
}

/** The share of an answer's word trigrams that repeat an earlier one (0 when it has fewer than 4 words): a policy
 * gaming its reward model often loops on a phrase. */
export function repeatedTrigrams(text: string): number {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length < 4) return 0;
  const seen = new Set<string>();
  let repeats = 0;
  for (let i = 0; i + 3 <= words.length; i++) {
    const gram = words.slice(i, i + 3).join(" ");
    if (seen.has(gram)) repeats++;
    else seen.add(gram);
  }
  return repeats / (words.length - 2);
}

/** The answer table to show: the one of `step` if it is still there, else the newest (null when there is none). */
export function sampleTableAt<T extends { step: number }>(tables: T[], step: number | null): T | null {
  if (tables.length === 0) return null;
  return (step !== null && tables.find((t) => t.step === step)) || tables[tables.length - 1];
}
