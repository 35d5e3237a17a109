// Datasets (snapshots) and training runs of a project, for admins: build a snapshot, register a model, start a
// run from a typed form, watch its curves live, cancel it, compare runs and trace a model back to its data. An RL
// run shows reward against KL, answer length, entropy and clipping, and tables of its sampled answers (text only),
// so reward hacking (longer and longer answers, repeated phrases) is seen before anyone labels its output.
// Everything that is still queued, building or running is polled, so the page never needs a reload.
import { useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api";
import { LineChart } from "../charts";
import {
  baseModelChoices, compareColumns, fieldText, foldText, hyperparamsBody, isLive, metricRows, repeatedTrigrams,
  rewardModelChoices, runColumns, runProgress, sampleTableAt, splitRecords, withConstant, withRun,
} from "../runs";

type Snapshot = Schemas["Snapshot"];
type RegisteredModel = Schemas["RegisteredModel"];
type Metric = Schemas["RunMetric"];
type RunOption = Schemas["RunOption"];
type SampleTable = Schemas["RunSampleTable"];
/** A run as listed, or with its metrics (GET runs/{id}/). */
type Run = Schemas["TrainingRun"] & Partial<Pick<Schemas["TrainingRunDetail"], "metrics">>;

const POLL_MS = 1500;
const message = (e: unknown) =>
  e instanceof ApiError ? [e.message, ...e.errors.map((x) => (x.field ? `${x.field}: ` : "") + x.message)].join("\n") : String(e);

/** Call `tick` every `ms` while `active`; stops when the page leaves. */
function usePoll(tick: () => void, active: boolean, ms = POLL_MS) {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => latest.current(), ms);
    return () => clearInterval(timer);
  }, [active, ms]);
}

function Status({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}

function SnapshotsSection({ projectId, snapshots, reload }: { projectId: number; snapshots: Snapshot[]; reload: () => void }) {
  const [kind, setKind] = useState("kwise");
  const [error, setError] = useState("");
  const build = () =>
    api("POST", `/api/projects/${projectId}/snapshots/`, { kind }).then(() => { setError(""); reload(); }, (e) => setError(message(e)));
  return (
    <section className="card">
      <h2 className="section-title">Datasets</h2>
      <div className="inline-form">
        <select aria-label="Snapshot kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="kwise">kwise (reward model, K answers per prompt)</option>
          <option value="pairwise">pairwise (chosen/rejected)</option>
          <option value="sft">sft (demonstrations)</option>
          <option value="prompts">prompts (every prompt, for RL)</option>
        </select>
        <button onClick={build}>Build snapshot</button>
      </div>
      {error && <pre className="error">{error}</pre>}
      <table className="table" aria-label="Snapshots">
        <thead><tr><th>Version</th><th>Kind</th><th>Status</th><th>Train</th><th>Validation</th><th>Files</th></tr></thead>
        <tbody>
          {snapshots.map((s) => {
            const validation = splitRecords(s, "validation");
            return (
              <tr key={s.id} aria-label={`Snapshot v${s.version}`}>
                <td>v{s.version}</td><td>{s.kind}</td>
                <td><Status status={s.status} />{s.error ? ` ${s.error}` : ""}</td>
                <td>{splitRecords(s, "train") ?? "–"}</td>
                <td>
                  {validation ?? "–"}
                  {validation === 0 && <span className="warn-text"> none: runs on it train without validation</span>}
                </td>
                <td>
                  {s.files.map((f) => (
                    <a key={f} className="link file-link" href={`/api/projects/${projectId}/snapshots/${s.id}/files/${f}`}>{f}</a>
                  ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function HyperparamInput({ field, value, onChange }: {
  field: Schemas["HyperparamField"]; value: string; onChange: (v: string) => void;
}) {
  const title = `${field.help}${field.help ? " " : ""}Default: ${fieldText(field) || "none (the trainer decides)"}.`;
  if (field.type === "boolean") {
    return (
      <label className="field check" title={title}>
        <input type="checkbox" aria-label={field.name} checked={value === "true"} onChange={(e) => onChange(e.target.checked ? "true" : "false")} />
        {field.name}
      </label>
    );
  }
  return (
    <label className="field" title={title}>
      <span>{field.name}</span>
      <input aria-label={field.name} type={field.type === "string" ? "text" : "number"}
        step={field.type === "integer" ? 1 : "any"} value={value} placeholder={fieldText(field)}
        onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

function StartRun({ projectId, snapshots, models, options, reload, onStarted }: {
  projectId: number; snapshots: Snapshot[]; models: RegisteredModel[]; options: RunOption[];
  reload: () => void; onStarted: (run: Run) => void;
}) {
  const [kind, setKind] = useState("rm");
  const option = options.find((o) => o.kind === kind);
  const [snapshot, setSnapshot] = useState<number | "">("");
  const [base, setBase] = useState<number | "">("");
  const [judge, setJudge] = useState<number | "">("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [advanced, setAdvanced] = useState("");
  // Above 1: torchrun on one gpu worker with that many GPUs (the worker refuses a run asking for more).
  const [gpus, setGpus] = useState(1);
  const [errors, setErrors] = useState<{ field: string; text: string }[]>([]);
  const [warnings, setWarnings] = useState<string[]>([]);
  const common = option?.hyperparams.filter((f) => f.common) ?? [];
  const defaults = useMemo(
    () => Object.fromEntries((option?.hyperparams ?? []).filter((f) => f.common).map((f) => [f.name, fieldText(f)])),
    [option],
  );
  useEffect(() => { setValues(defaults); setSnapshot(""); setBase(""); setJudge(""); }, [defaults]);
  const judges = option ? rewardModelChoices(option, models) : [];
  const needsJudge = (option?.reward_model_kinds.length ?? 0) > 0;
  const usable = snapshots.filter((s) => s.status === "ready" && option?.snapshot_kinds.includes(s.kind));
  const chosen = snapshots.find((s) => s.id === snapshot);
  const choices = option ? baseModelChoices(option, models) : { allowed: [], refused: [] };
  const fieldError = (name: string) => errors.filter((e) => e.field === name).map((e) => <p key={e.text} className="field-error">{e.text}</p>);

  const start = () => {
    const body = hyperparamsBody(common, values, advanced);
    if (body.errors.length) { setErrors(body.errors.map((text) => ({ field: "", text }))); return; }
    api<Run>("POST", `/api/projects/${projectId}/runs/`, {
      kind, snapshot, base_model: base, hyperparams: body.hyperparams, gpus, ...(needsJudge ? { reward_model: judge === "" ? null : judge } : {}),
    }).then(
      (run) => { setErrors([]); setWarnings(run.warnings); onStarted(run); },
      (e) => {
        setWarnings([]);
        if (!(e instanceof ApiError)) { setErrors([{ field: "", text: String(e) }]); return; }
        const fields = e.errors.map((x) => ({ field: x.field ?? "", text: (x.field ? `${x.field}: ` : "") + x.message }));
        setErrors(fields.length ? [{ field: "", text: e.message }, ...fields] : [{ field: "", text: e.message }]);
      },
    );
  };
  return (
    <section className="card" aria-label="Start a run">
      <h2 className="section-title">Start a run</h2>
      <div className="run-form">
        <label className="field"><span>kind</span>
          <select aria-label="Run kind" value={kind} onChange={(e) => setKind(e.target.value)}>
            {options.map((o) => <option key={o.kind} value={o.kind}>{o.label}</option>)}
          </select>
        </label>
        <label className="field"><span>snapshot</span>
          <select aria-label="Snapshot" value={snapshot} onChange={(e) => setSnapshot(e.target.value ? Number(e.target.value) : "")}>
            <option value="">{usable.length ? "snapshot…" : `no ready ${option?.snapshot_kinds.join(" or ")} snapshot`}</option>
            {usable.map((s) => <option key={s.id} value={s.id}>v{s.version} {s.kind} ({s.counts.train?.records ?? 0} train)</option>)}
          </select>
          {fieldError("snapshot")}
        </label>
        <label className="field"><span>base model</span>
          <select aria-label="Base model" value={base} onChange={(e) => setBase(e.target.value ? Number(e.target.value) : "")}>
            <option value="">base model…</option>
            <optgroup label={`for a ${kind} run, best first`}>
              {choices.allowed.map((m) => <option key={m.id} value={m.id}>{m.name} ({m.kind})</option>)}
            </optgroup>
            {choices.refused.length > 0 && (
              <optgroup label="not allowed">
                {choices.refused.map(({ model, reason }) => (
                  <option key={model.id} value={model.id} disabled>{model.name} ({model.kind}): {reason}</option>
                ))}
              </optgroup>
            )}
          </select>
          {fieldError("base_model")}
        </label>
        {needsJudge && (
          <label className="field"><span>reward model</span>
            <select aria-label="Reward model" value={judge} onChange={(e) => setJudge(e.target.value ? Number(e.target.value) : "")}>
              <option value="">{judges.length ? "reward model…" : "no registered reward model"}</option>
              {judges.map((m) => <option key={m.id} value={m.id}>{m.name} ({m.kind})</option>)}
            </select>
            {fieldError("reward_model")}
          </label>
        )}
        <label className="field"><span>GPUs</span>
          <input aria-label="GPUs" type="number" min={1} max={64} value={gpus} onChange={(e) => setGpus(Number(e.target.value))} />
          {fieldError("gpus")}
        </label>
      </div>
      {chosen && splitRecords(chosen, "validation") === 0 && (
        <p className="warn-text" role="status">Snapshot v{chosen.version} has no validation records: this run would train without validation.</p>
      )}
      {choices.refused.length > 0 && (
        <p className="muted">A {kind} run {kind === "rm" ? "" : "trains a language model and "}starts from a {option?.base_model_kinds.join(", ")} model.</p>
      )}
      <fieldset className="run-form" aria-label="Hyper-parameters">
        <legend>Hyper-parameters (blank: the default)</legend>
        {common.map((f) => (
          <div key={f.name}>
            <HyperparamInput field={f} value={values[f.name] ?? ""} onChange={(v) => setValues({ ...values, [f.name]: v })} />
            {fieldError(f.name)}
          </div>
        ))}
        <label className="field wide"><span>advanced (JSON, any other field of the {kind} config)</span>
          <input aria-label="Advanced hyper-parameters" placeholder='{"warmup_ratio": 0.1}' value={advanced} onChange={(e) => setAdvanced(e.target.value)} />
        </label>
      </fieldset>
      <button className="primary" onClick={start}>Start</button>
      {errors.length > 0 && <pre className="error" role="alert">{errors.map((e) => e.text).join("\n")}</pre>}
      {warnings.map((w) => <p key={w} className="warn-text" role="status">{w}</p>)}
      <RegisterModel projectId={projectId} reload={reload} />
    </section>
  );
}

function RegisterModel({ projectId, reload }: { projectId: number; reload: () => void }) {
  // A model is a hub name, or a directory relative to one of the operator's model roots (never a host path).
  const [model, setModel] = useState({ name: "", kind: "base", root: "", path: "", gguf_file: "" });
  const [roots, setRoots] = useState<string[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    api<Schemas["ModelRoot"][]>("GET", `/api/projects/${projectId}/model-roots/`).then((rs) => setRoots(rs.map((r) => r.name)));
  }, [projectId]);
  const register = () =>
    api("POST", `/api/projects/${projectId}/models/`, model).then(() => { setError(""); reload(); }, (e) => setError(message(e)));
  return (
    <details className="register-model">
      <summary>Register a model</summary>
      <div className="inline-form">
        <input aria-label="Model name" placeholder="name" value={model.name} onChange={(e) => setModel({ ...model, name: e.target.value })} />
        <select aria-label="Model kind" value={model.kind} onChange={(e) => setModel({ ...model, kind: e.target.value })}>
          <option value="base">base</option><option value="sft">sft</option><option value="rm">rm</option><option value="policy">policy</option>
        </select>
        <select aria-label="Model root" value={model.root} onChange={(e) => setModel({ ...model, root: e.target.value })}>
          <option value="">hub name</option>
          {roots.map((r) => <option key={r} value={r}>root: {r}</option>)}
        </select>
        <input aria-label="Model path" placeholder={model.root ? `directory inside ${model.root}` : "owner/name"} value={model.path} onChange={(e) => setModel({ ...model, path: e.target.value })} />
        <input aria-label="GGUF file" placeholder="gguf file (optional)" value={model.gguf_file} onChange={(e) => setModel({ ...model, gguf_file: e.target.value })} />
        <button onClick={register}>Register model</button>
      </div>
      {error && <pre className="error">{error}</pre>}
    </details>
  );
}

function MetricsTable({ values, label }: { values: Record<string, number | null>; label: string }) {
  const rows = metricRows(values);
  if (!rows.length) return null;
  return (
    <table className="table metrics" aria-label={label}>
      <thead><tr><th>Metric</th><th>Value</th></tr></thead>
      <tbody>{rows.map((r) => <tr key={r.name}><td>{r.name}</td><td className="num">{r.value}</td></tr>)}</tbody>
    </table>
  );
}

function Lineage({ lineage, models }: { lineage: Schemas["RunLineage"]; models: RegisteredModel[] }) {
  const kindOf = (id: number) => models.find((m) => m.id === id)?.kind;
  const snap = lineage.snapshot;
  const splits = (snap.manifest as { splits?: Record<string, { records: number }> }).splits ?? {};
  const nodes = [
    { what: "snapshot", name: `snapshot v${snap.version}`, detail: `${snap.kind}, ${splits.train?.records ?? "?"} train / ${splits.validation?.records ?? "?"} validation records` },
    { what: "base model", name: `base model ${lineage.base_model.name}`, detail: kindOf(lineage.base_model.id) ?? "" },
    ...(lineage.reward_model
      ? [{ what: "reward model", name: `reward model ${lineage.reward_model.name}`, detail: "optimised against" }]
      : []),
    { what: "run", name: `run ${lineage.run.id}`, detail: `${lineage.run.kind}, ${lineage.run.status}` },
    lineage.model
      ? { what: "model", name: `model ${lineage.model.name}`, detail: kindOf(lineage.model.id) ?? "produced by this run" }
      : { what: "model", name: "no model yet", detail: "registered when the run succeeds" },
  ];
  return (
    <ol className="lineage" aria-label="Lineage">
      {nodes.map((n) => (
        <li key={n.what} className={`lineage-node ${n.what.replace(" ", "-")}`}>
          <strong>{n.name}</strong><span className="muted">{n.detail}</span>
        </li>
      ))}
    </ol>
  );
}

function Chart({ title, columns, yLabel, label, percent = false }: {
  title: string; columns: ReturnType<typeof runColumns>; yLabel: string; label: string; percent?: boolean;
}) {
  return (
    <figure className="chart-figure">
      <figcaption>{title}</figcaption>
      <LineChart columns={columns} yLabel={yLabel} label={label} percent={percent} height={220} />
    </figure>
  );
}

/** An RL run's curves: reward beside KL (the trade the KL penalty makes), answer length, entropy and clipping. */
function RLCharts({ run }: { run: Run }) {
  const metrics = run.metrics ?? [];
  const reward = useMemo(() => runColumns(metrics, "reward"), [metrics]);
  const kl = useMemo(() => withConstant(runColumns(metrics, "kl"), "KL target", run.hyperparams.kl_target), [metrics, run.hyperparams.kl_target]);
  const length = useMemo(() => runColumns(metrics, "answer_length"), [metrics]);
  const entropy = useMemo(() => runColumns(metrics, "entropy"), [metrics]);
  const clip = useMemo(() => runColumns(metrics, "clip_frac"), [metrics]);
  if (reward.steps.length === 0) return <p className="muted">No reward yet: the curves appear as the run reports its steps.</p>;
  return (
    <div aria-label="Reward vs KL" role="group">
      <div className="chart-pair">
        <Chart title="Reward per step (reward model score)" columns={reward} yLabel="reward" label="reward per step" />
        <Chart title="KL to the reference per step" columns={kl} yLabel="KL (nats per answer)" label="KL per step" />
      </div>
      <div className="chart-pair">
        <Chart title="Answer length per step" columns={length} yLabel="tokens" label="answer length per step" />
        <Chart title="Entropy per step" columns={entropy} yLabel="entropy (nats per token)" label="entropy per step" />
        <Chart title="Clipped tokens per step" columns={clip} yLabel="clip fraction" label="clip fraction per step" percent />
      </div>
    </div>
  );
}

function SampleText({ text, label }: { text: string; label: string }) {
  const [open, setOpen] = useState(false);
  const fold = foldText(text);
  return (
    <div className="sample-text">
      {open || !fold.folded ? text : fold.text}
      {fold.folded && (
        <button className="link-button" aria-expanded={open} aria-label={`${open ? "Fold" : "Show all of"} ${label}`} onClick={() => setOpen(!open)}>
          {open ? "fold" : `show all (${text.length} characters)`}
        </button>
      )}
    </div>
  );
}

/** The answers an RL run sampled at one step (the newest unless a step is picked): text only, never HTML. */
function SampleTables({ tables }: { tables: SampleTable[] }) {
  const [step, setStep] = useState<number | null>(null);
  const table = sampleTableAt(tables, step);
  const num = (v: number | null | undefined, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "–");
  return (
    <section aria-label="Sampled answers">
      <h3 className="subsection-title">Sampled answers</h3>
      {table === null ? <p className="muted">No answers yet: a table is kept every sample_every steps.</p> : (
        <>
          <label className="field inline"><span>step</span>
            <select aria-label="Sample step" value={step ?? ""} onChange={(e) => setStep(e.target.value ? Number(e.target.value) : null)}>
              <option value="">latest (step {tables[tables.length - 1].step})</option>
              {[...tables].reverse().map((t) => <option key={t.id} value={t.step}>step {t.step}</option>)}
            </select>
          </label>
          <table className="table samples" aria-label={`Answers at step ${table.step}`}>
            <thead><tr><th>Prompt</th><th>Answer</th><th>Reward</th><th>KL</th><th>Length</th><th>Repeats</th></tr></thead>
            <tbody>
              {table.rows.map((r, i) => {
                const repeats = repeatedTrigrams(r.answer);
                return (
                  <tr key={i}>
                    <td><SampleText text={r.prompt} label={`prompt ${i + 1}`} /></td>
                    <td><SampleText text={r.answer} label={`answer ${i + 1}`} /></td>
                    <td className="num">{num(r.reward)}</td>
                    <td className="num">{num(r.kl)}</td>
                    <td className="num">{r.length}{r.ended ? "" : " (cut)"}</td>
                    <td className={`num${repeats >= 0.3 ? " warn-text" : ""}`} title="share of the answer's word trigrams seen earlier in it">
                      {Math.round(repeats * 100)}%
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function RunDetail({ projectId, runId, models, onUpdate }: {
  projectId: number; runId: number; models: RegisteredModel[]; onUpdate: (run: Run) => void;
}) {
  const [run, setRun] = useState<Run | null>(null);
  const [lineage, setLineage] = useState<Schemas["RunLineage"] | null>(null);
  const metrics = useRef<Metric[]>([]);
  const [samples, setSamples] = useState<SampleTable[]>([]);
  const samplesHeld = useRef<SampleTable[]>([]);
  const busy = useRef(false);
  const live = run === null || isLive(run.status);
  // Only the metrics after the last one held are fetched; one request at a time, so none is added twice.
  const poll = () => {
    if (busy.current) return;
    busy.current = true;
    const list = metrics.current;
    const lastId = list.length ? list[list.length - 1].id : 0;
    api<Run>("GET", `/api/projects/${projectId}/runs/${runId}/` + (lastId ? `?after=${lastId}` : "")).then((r) => {
      metrics.current = [...metrics.current, ...(r.metrics ?? []).filter((m) => m.id > lastId)];
      setRun({ ...r, metrics: metrics.current });
      onUpdate({ ...r, metrics: undefined });
      if (r.kind !== "rl") return;
      // An RL run's answer tables, also only the newer ones.
      const held = samplesHeld.current;
      const lastTable = held.length ? held[held.length - 1].id : 0;
      return api<SampleTable[]>("GET", `/api/projects/${projectId}/runs/${runId}/samples/` + (lastTable ? `?after=${lastTable}` : "")).then((ts) => {
        const fresh = ts.filter((t) => t.id > lastTable);
        if (!fresh.length) return;
        samplesHeld.current = [...samplesHeld.current, ...fresh];
        setSamples(samplesHeld.current);
      });
    }).finally(() => { busy.current = false; });
  };
  useEffect(poll, [projectId, runId]); // once at first; then usePoll while the run is live
  usePoll(poll, live);
  // The lineage names the model the run produced: fetched again once the run has ended.
  const ended = run !== null && !isLive(run.status);
  useEffect(() => {
    api<Schemas["RunLineage"]>("GET", `/api/projects/${projectId}/runs/${runId}/lineage/`).then(setLineage);
  }, [projectId, runId, ended]);
  const loss = useMemo(() => runColumns(run?.metrics ?? [], "loss"), [run]);
  const accuracy = useMemo(() => runColumns(run?.metrics ?? [], "accuracy"), [run]);
  if (!run) return <p>Loading…</p>;
  const cancel = () => api<Run>("POST", `/api/projects/${projectId}/runs/${runId}/cancel/`).then(poll);
  const last = (c: typeof loss) => {
    const train = c.curves[0]?.values.filter((v) => v !== null);
    return train?.length ? train[train.length - 1]!.toPrecision(4) : "–";
  };
  const final = run.status === "succeeded" || run.status === "cancelled";
  return (
    <section className="card run-card" aria-label={`Run ${run.id}`}>
      <h2 className="section-title">Run {run.id}: {run.kind}{run.gpus > 1 ? ` on ${run.gpus} GPUs` : ""}</h2>
      <p className="run-status" aria-label="Run status">
        <Status status={run.status} /> <span>{runProgress(run)}</span>
        {(run.status === "queued" || run.status === "running") && <button onClick={cancel}>Cancel run</button>}
      </p>
      {run.total_steps > 0 && <progress max={run.total_steps} value={Math.min(run.step, run.total_steps)} aria-label={`progress of run ${run.id}`} />}
      {run.warnings.map((w) => <p key={w} className="warn-text" role="status">{w}</p>)}
      {run.error && <pre className="error">{run.error}</pre>}
      {run.kind === "rl" && <RLCharts run={run} />}
      {run.kind === "rl" && <SampleTables tables={samples} />}
      {loss.steps.length === 0 ? <p className="muted">No loss yet{live ? ": the curve appears as the run reports its steps." : "."}</p> : (
        <figure className="chart-figure">
          <figcaption>Loss per step <span className="muted" aria-live="polite">({loss.steps.length} points, last {last(loss)})</span></figcaption>
          <LineChart columns={loss} yLabel="loss (nats)" label="loss per step" />
        </figure>
      )}
      {accuracy.steps.length > 0 && (
        <figure className="chart-figure">
          <figcaption>Accuracy per step <span className="muted">(pairs ranked right; last {last(accuracy)})</span></figcaption>
          <LineChart columns={accuracy} yLabel="accuracy" label="accuracy per step" percent />
        </figure>
      )}
      <h3 className="subsection-title">{final ? "Final metrics" : "Latest metrics"}</h3>
      <MetricsTable values={final ? run.final_metrics : run.last_metrics} label={final ? "Final metrics" : "Latest metrics"} />
      <h3 className="subsection-title">Lineage</h3>
      {lineage && <Lineage lineage={lineage} models={models} />}
    </section>
  );
}

export function RunsPage({ projectId }: { projectId: number }) {
  const [snapshots, setSnapshots] = useState<Snapshot[]>([]);
  const [models, setModels] = useState<RegisteredModel[]>([]);
  const [runs, setRuns] = useState<Run[]>([]);
  const [options, setOptions] = useState<RunOption[]>([]);
  const [open, setOpen] = useState<number | null>(null);
  const [compare, setCompare] = useState<number[]>([]);
  const [compared, setCompared] = useState<{ id: number; kind: string; metrics: Metric[] }[]>([]);
  const loadSnapshots = () => api<Snapshot[]>("GET", `/api/projects/${projectId}/snapshots/`).then(setSnapshots);
  const loadRuns = () => api<Run[]>("GET", `/api/projects/${projectId}/runs/`).then(setRuns);
  const loadModels = () => api<RegisteredModel[]>("GET", `/api/projects/${projectId}/models/`).then(setModels);
  const reload = () => { loadSnapshots(); loadModels(); loadRuns(); };
  useEffect(() => {
    reload();
    api<RunOption[]>("GET", `/api/projects/${projectId}/run-options/`).then(setOptions);
  }, [projectId]);
  // Live status: snapshots being built and runs not yet ended are polled (the open run's card polls itself).
  usePoll(loadSnapshots, snapshots.some((s) => isLive(s.status)));
  usePoll(loadRuns, runs.some((r) => isLive(r.status) && r.id !== open));
  const update = (run: Run) => {
    setRuns((rs) => withRun(rs, run));
    if (!isLive(run.status)) loadModels(); // a succeeded run has registered its model
  };
  useEffect(() => {
    Promise.all(compare.map((id) => api<Run>("GET", `/api/projects/${projectId}/runs/${id}/`))).then((rs) =>
      setCompared(rs.map((r) => ({ id: r.id, kind: r.kind, metrics: r.metrics ?? [] }))),
    );
  }, [projectId, compare]);
  const compareLoss = useMemo(() => compareColumns(compared, "loss"), [compared]);
  return (
    <div className="dashboard runs-page">
      <SnapshotsSection projectId={projectId} snapshots={snapshots} reload={loadSnapshots} />
      <StartRun projectId={projectId} snapshots={snapshots} models={models} options={options} reload={loadModels}
        onStarted={(run) => { setRuns((rs) => [run, ...rs]); setOpen(run.id); }} />
      <section className="card">
        <h2 className="section-title">Runs</h2>
        <table className="table" aria-label="Training runs">
          <thead><tr><th>Compare</th><th>Run</th><th>Kind</th><th>Status</th><th>Progress</th><th>Validation accuracy</th><th>Model</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} aria-label={`Training run ${r.id}`} className={r.id === open ? "selected" : ""}>
                <td><input type="checkbox" aria-label={`compare run ${r.id}`} checked={compare.includes(r.id)}
                  onChange={(e) => setCompare(e.target.checked ? [...compare, r.id] : compare.filter((x) => x !== r.id))} /></td>
                <td>{r.id}</td><td>{r.kind}</td><td><Status status={r.status} /></td><td>{runProgress(r)}</td>
                <td>{typeof r.final_metrics?.val_accuracy === "number" ? r.final_metrics.val_accuracy.toFixed(3) : "–"}</td>
                <td>{models.find((m) => m.produced_by === r.id)?.name ?? "–"}</td>
                <td><button onClick={() => setOpen(r.id)} aria-label={`Open run ${r.id}`}>Open</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        {compared.length > 1 && (
          <figure className="chart-figure" aria-label="Run comparison">
            <figcaption>Loss of runs {compared.map((c) => c.id).join(", ")}</figcaption>
            <LineChart columns={compareLoss} yLabel="loss (nats)" label="loss per step of the compared runs" />
          </figure>
        )}
      </section>
      {open !== null && <RunDetail key={open} projectId={projectId} runId={open} models={models} onUpdate={update} />}
    </div>
  );
}
