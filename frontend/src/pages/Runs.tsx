// Datasets (snapshots) and training runs of a project, for admins: build a snapshot, register a model, start a
// run, watch its curves live, cancel it, compare runs and trace a model back to its data.
import { useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api";

type Snapshot = Schemas["Snapshot"];
type RegisteredModel = Schemas["RegisteredModel"];
type Metric = Schemas["RunMetric"];
/** A run as listed, or with its metrics (GET runs/{id}/). */
type Run = Schemas["TrainingRun"] & Partial<Pick<Schemas["TrainingRunDetail"], "metrics">>;

const COLORS = ["#2f5bea", "#d9480f", "#2b8a3e", "#862e9c", "#e8590c"];
const message = (e: unknown) =>
  e instanceof ApiError ? [e.message, ...e.errors.map((x) => (x.field ? `${x.field}: ` : "") + x.message)].join("\n") : String(e);

/** Lines of one metric (loss or accuracy) per run, against the step, in plain SVG. */
export function CurveChart({ runs, metric }: { runs: { id: number; metrics: Metric[] }[]; metric: string }) {
  const series = runs.map((r) => ({
    id: r.id,
    points: r.metrics.filter((m) => m.kind === "step" && typeof m.values[metric] === "number").map((m) => [m.step, m.values[metric]]),
  }));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return <p className="muted">No {metric} yet.</p>;
  const w = 600, h = 200, pad = { l: 44, r: 8, t: 10, b: 22 };
  const maxX = Math.max(1, ...all.map((p) => p[0]));
  const lo = Math.min(...all.map((p) => p[1])), hi = Math.max(...all.map((p) => p[1]));
  const span = hi - lo || 1;
  const x = (v: number) => pad.l + ((w - pad.l - pad.r) * v) / maxX;
  const y = (v: number) => pad.t + (h - pad.t - pad.b) * (1 - (v - lo) / span);
  return (
    <svg viewBox={`0 0 ${w} ${h}`} width="100%" role="img" aria-label={`${metric} per step`}>
      {[lo, lo + span / 2, hi].map((t) => (
        <g key={t}>
          <line x1={pad.l} x2={w - pad.r} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
          <text x={pad.l - 4} y={y(t) + 4} fontSize="10" textAnchor="end" fill="#6b7280">{t.toFixed(3)}</text>
        </g>
      ))}
      {series.map((s, i) => (
        <path key={s.id} fill="none" stroke={COLORS[i % COLORS.length]} strokeWidth="1.5"
          d={s.points.map((p, j) => `${j ? "L" : "M"}${x(p[0])},${y(p[1])}`).join(" ")} />
      ))}
      <text x={w - pad.r} y={h - 6} fontSize="10" textAnchor="end" fill="#6b7280">step {maxX}</text>
    </svg>
  );
}

function SnapshotsSection({ projectId, snapshots, reload }: { projectId: number; snapshots: Snapshot[]; reload: () => void }) {
  const [kind, setKind] = useState("kwise");
  const [error, setError] = useState("");
  const build = () =>
    api("POST", `/api/projects/${projectId}/snapshots/`, { kind }).then(reload, (e) => setError(message(e)));
  return (
    <section className="card">
      <h3>Datasets</h3>
      <div className="inline-form">
        <select aria-label="Snapshot kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="kwise">kwise (reward model, K answers per prompt)</option>
          <option value="pairwise">pairwise (chosen/rejected)</option>
          <option value="sft">sft (demonstrations)</option>
        </select>
        <button onClick={build}>Build snapshot</button>
      </div>
      {error && <pre className="error">{error}</pre>}
      <table className="table" aria-label="Snapshots">
        <thead><tr><th>Version</th><th>Kind</th><th>Status</th><th>Train</th><th>Validation</th><th>Files</th></tr></thead>
        <tbody>
          {snapshots.map((s) => (
            <tr key={s.id}>
              <td>v{s.version}</td><td>{s.kind}</td><td>{s.status}{s.error ? `: ${s.error}` : ""}</td>
              <td>{s.counts.train?.records ?? "–"}</td><td>{s.counts.validation?.records ?? "–"}</td>
              <td>
                {s.status === "ready" &&
                  ["train.jsonl", "validation.jsonl", "train.parquet", "manifest.json"].map((f) => (
                    <a key={f} className="link" href={`/api/projects/${projectId}/snapshots/${s.id}/files/${f}`}> {f}</a>
                  ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function StartRun({ projectId, snapshots, models, reload }: {
  projectId: number; snapshots: Snapshot[]; models: RegisteredModel[]; reload: () => void;
}) {
  const ready = snapshots.filter((s) => s.status === "ready");
  const [kind, setKind] = useState("rm");
  const [snapshot, setSnapshot] = useState<number | "">("");
  const [base, setBase] = useState<number | "">("");
  const [params, setParams] = useState('{"max_steps": 100, "max_length": 512}');
  // Above 1: torchrun on one gpu worker with that many GPUs (the worker refuses a run asking for more).
  const [gpus, setGpus] = useState(1);
  // A model is a hub name, or a directory relative to one of the operator's model roots (never a host path).
  const [model, setModel] = useState({ name: "", kind: "base", root: "", path: "", gguf_file: "" });
  const [roots, setRoots] = useState<string[]>([]);
  useEffect(() => {
    api<Schemas["ModelRoot"][]>("GET", `/api/projects/${projectId}/model-roots/`).then((rs) => setRoots(rs.map((r) => r.name)));
  }, [projectId]);
  const [error, setError] = useState("");
  const start = () => {
    let hyperparams: unknown;
    try { hyperparams = JSON.parse(params || "{}"); } catch { setError("Hyper-parameters must be a JSON object."); return; }
    api("POST", `/api/projects/${projectId}/runs/`, { kind, snapshot, base_model: base, hyperparams, gpus }).then(
      () => { setError(""); reload(); }, (e) => setError(message(e)));
  };
  const register = () =>
    api("POST", `/api/projects/${projectId}/models/`, model).then(() => { setError(""); reload(); }, (e) => setError(message(e)));
  return (
    <section className="card">
      <h3>Start a run</h3>
      <div className="inline-form">
        <select aria-label="Run kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="rm">reward model</option><option value="sft">SFT</option><option value="dpo">DPO policy</option>
        </select>
        <select aria-label="Snapshot" value={snapshot} onChange={(e) => setSnapshot(Number(e.target.value))}>
          <option value="">snapshot…</option>
          {ready.map((s) => <option key={s.id} value={s.id}>v{s.version} {s.kind}</option>)}
        </select>
        <select aria-label="Base model" value={base} onChange={(e) => setBase(Number(e.target.value))}>
          <option value="">base model…</option>
          {models.map((m) => <option key={m.id} value={m.id}>{m.name} ({m.kind})</option>)}
        </select>
        <input aria-label="Hyper-parameters" value={params} onChange={(e) => setParams(e.target.value)} />
        <label>GPUs <input aria-label="GPUs" type="number" min={1} max={64} value={gpus} onChange={(e) => setGpus(Number(e.target.value))} /></label>
        <button className="primary" onClick={start}>Start</button>
      </div>
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
    </section>
  );
}

function RunDetail({ projectId, runId, onChange }: { projectId: number; runId: number; onChange: () => void }) {
  const [run, setRun] = useState<Run | null>(null);
  const [lineage, setLineage] = useState<Schemas["RunLineage"] | null>(null);
  useEffect(() => {
    let metrics: Metric[] = [];
    let stop = false;
    const poll = () => {
      const after = metrics.length ? `?after=${metrics[metrics.length - 1].id}` : "";
      api<Run>("GET", `/api/projects/${projectId}/runs/${runId}/` + after).then((r) => {
        metrics = [...metrics, ...(r.metrics ?? [])];
        setRun({ ...r, metrics });
        if (!stop && (r.status === "queued" || r.status === "running")) setTimeout(poll, 2000);
      });
    };
    poll();
    api<Schemas["RunLineage"]>("GET", `/api/projects/${projectId}/runs/${runId}/lineage/`).then(setLineage);
    return () => { stop = true; };
  }, [projectId, runId]);
  if (!run) return <p>Loading…</p>;
  const cancel = () => api("POST", `/api/projects/${projectId}/runs/${runId}/cancel/`).then(onChange);
  return (
    <section className="card" aria-label={`Run ${run.id}`}>
      <h3>Run {run.id}: {run.kind}{run.gpus > 1 ? ` on ${run.gpus} GPUs` : ""}, {run.status} ({run.step}/{run.total_steps || "?"} steps)</h3>
      {(run.status === "queued" || run.status === "running") && <button onClick={cancel}>Cancel run</button>}
      <div className="tiles">
        <div><h4>loss</h4><CurveChart runs={[{ id: run.id, metrics: run.metrics ?? [] }]} metric="loss" /></div>
        <div><h4>accuracy</h4><CurveChart runs={[{ id: run.id, metrics: run.metrics ?? [] }]} metric="accuracy" /></div>
      </div>
      <pre className="muted">{JSON.stringify(run.status === "succeeded" ? run.final_metrics : run.last_metrics, null, 1)}</pre>
      {run.error && <pre className="error">{run.error}</pre>}
      {lineage && (
        <p className="muted" aria-label="Lineage">
          {lineage.model ? `model ${lineage.model.name} ← ` : ""}run {lineage.run.id} ← snapshot v{lineage.snapshot.version} (
          {lineage.snapshot.kind}) ← base model {lineage.base_model.name}
        </p>
      )}
    </section>
  );
}

export function RunsPage({ projectId }: { projectId: number }) {
  const [snapshots, setSnapshots] = useState<Snapshot[]>([]);
  const [models, setModels] = useState<RegisteredModel[]>([]);
  const [runs, setRuns] = useState<Run[]>([]);
  const [open, setOpen] = useState<number | null>(null);
  const [compare, setCompare] = useState<number[]>([]);
  const [compared, setCompared] = useState<{ id: number; metrics: Metric[] }[]>([]);
  const reload = () => {
    api<Snapshot[]>("GET", `/api/projects/${projectId}/snapshots/`).then(setSnapshots);
    api<RegisteredModel[]>("GET", `/api/projects/${projectId}/models/`).then(setModels);
    api<Run[]>("GET", `/api/projects/${projectId}/runs/`).then(setRuns);
  };
  useEffect(reload, [projectId]);
  useEffect(() => {
    Promise.all(compare.map((id) => api<Run>("GET", `/api/projects/${projectId}/runs/${id}/`))).then((rs) =>
      setCompared(rs.map((r) => ({ id: r.id, metrics: r.metrics ?? [] }))),
    );
  }, [projectId, compare]);
  return (
    <div className="dashboard">
      <SnapshotsSection projectId={projectId} snapshots={snapshots} reload={reload} />
      <StartRun projectId={projectId} snapshots={snapshots} models={models} reload={reload} />
      <section className="card">
        <h3>Runs</h3>
        <table className="table" aria-label="Training runs">
          <thead><tr><th>Compare</th><th>Run</th><th>Kind</th><th>Status</th><th>Steps</th><th>Validation accuracy</th><th /></tr></thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <td><input type="checkbox" aria-label={`compare run ${r.id}`} checked={compare.includes(r.id)}
                  onChange={(e) => setCompare(e.target.checked ? [...compare, r.id] : compare.filter((x) => x !== r.id))} /></td>
                <td>{r.id}</td><td>{r.kind}</td><td>{r.status}</td><td>{r.step}/{r.total_steps || "?"}</td>
                <td>{r.final_metrics?.val_accuracy?.toFixed?.(3) ?? "–"}</td>
                <td><button onClick={() => setOpen(r.id)}>Open</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        {compared.length > 1 && (
          <div aria-label="Run comparison">
            <h4>Loss of runs {compared.map((c) => c.id).join(", ")}</h4>
            <CurveChart runs={compared} metric="loss" />
          </div>
        )}
      </section>
      {open !== null && <RunDetail key={open} projectId={projectId} runId={open} onChange={reload} />}
    </div>
  );
}
