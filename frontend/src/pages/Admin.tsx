// Admin pages of a project: dashboard, settings, members, imports. The review queue is pages/Review.tsx.
import { useEffect, useState } from "react";
import { api, ApiError, Project, type Schemas } from "../api";
import { RewardAgreementCard } from "../components/RewardAgreementCard";
import { DialogueTasksCard } from "../components/DialogueTasksCard";
import { exampleHref, importErrorView, importExamples, type ImportExample } from "../importHelp";

type Dashboard = Schemas["Dashboard"];

function errorText(e: unknown): string {
  if (e instanceof ApiError)
    return [e.message, ...e.errors.map((x) => (x.line ? `line ${x.line}: ` : "") + (x.field ? `${x.field}: ` : "") + x.message)].join("\n");
  return String(e);
}

/** Annotations per hour as a bar chart in plain SVG. */
export function HourlyChart({ series }: { series: Dashboard["annotations_per_hour"] }) {
  const w = 1200;
  const h = 200;
  const pad = { l: 34, r: 8, t: 10, b: 26 };
  const max = Math.max(1, ...series.map((p) => p.count));
  const bw = (w - pad.l - pad.r) / Math.max(1, series.length);
  const y = (v: number) => pad.t + (h - pad.t - pad.b) * (1 - v / max);
  const ticks = [0, Math.round(max / 2), max];
  return (
    <svg viewBox={`0 0 ${w} ${h}`} width="100%" role="img" aria-label="Annotations per hour">
      {ticks.map((t) => (
        <g key={t}>
          <line x1={pad.l} x2={w - pad.r} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
          <text x={pad.l - 6} y={y(t) + 4} fontSize="11" textAnchor="end" fill="#6b7280">
            {t}
          </text>
        </g>
      ))}
      {series.map((p, i) => (
        <g key={p.hour}>
          <rect x={pad.l + i * bw + 1} y={y(p.count)} width={Math.max(1, bw - 2)} height={h - pad.b - y(p.count)} fill="#2f5bea">
            <title>{`${new Date(p.hour).toLocaleString()}: ${p.count}`}</title>
          </rect>
          {i % Math.ceil(series.length / 8) === 0 && (
            <text x={pad.l + i * bw} y={h - 8} fontSize="11" fill="#6b7280">
              {new Date(p.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}
            </text>
          )}
        </g>
      ))}
    </svg>
  );
}

export function DashboardPage({ projectId }: { projectId: number }) {
  const [data, setData] = useState<Dashboard | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const load = () => api<Dashboard>("GET", `/api/projects/${projectId}/dashboard/`).then(setData, (e) => setError(errorText(e)));
    load();
    const t = window.setInterval(load, 30_000);
    return () => window.clearInterval(t);
  }, [projectId]);
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p>Loading…</p>;
  const total = data.annotations_per_hour.reduce((a, p) => a + p.count, 0);
  return (
    <div className="dashboard">
      <div className="tiles">
        {Object.entries(data.tasks_by_status).map(([k, v]) => (
          <div className="card tile" key={k}>
            <div className="n">{v}</div>
            <div className="muted">tasks {k}</div>
          </div>
        ))}
        <div className="card tile">
          <div className="n">{data.queue_depth}</div>
          <div className="muted">annotations still needed</div>
        </div>
        <div className="card tile">
          <div className="n">{data.active_leases}</div>
          <div className="muted">live leases</div>
        </div>
        <div className="card tile">
          <div className="n">{data.pending_reviews}</div>
          <div className="muted">demonstrations to review</div>
        </div>
      </div>
      <div className="card">
        <h2 className="section-title">
          Annotations per hour, last {data.annotations_per_hour.length} h ({total} in all)
        </h2>
        <HourlyChart series={data.annotations_per_hour} />
        <p className="muted small">
          Open tasks: {Object.entries(data.open_tasks_by_kind).map(([k, v]) => `${v} ${k}`).join(", ")}
        </p>
      </div>
      <RewardAgreementCard projectId={projectId} />
      <div className="card">
        <h2 className="section-title">Labelers</h2>
        <table className="table">
          <thead>
            <tr>
              <th>Labeler</th>
              <th>Submitted</th>
              <th>Skipped</th>
              <th>Skip rate</th>
              <th>Median time per task</th>
              <th>Working now</th>
            </tr>
          </thead>
          <tbody>
            {data.labelers.map((l) => (
              <tr key={l.user_id}>
                <td>{l.username}</td>
                <td>{l.submitted}</td>
                <td>{l.skipped}</td>
                <td>{l.skip_rate == null ? "—" : `${Math.round(l.skip_rate * 100)} %`}</td>
                <td>{l.median_seconds == null ? "—" : `${Math.round(l.median_seconds)} s`}</td>
                <td>{l.active ? "yes" : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function SettingsPage({ project, onSaved }: { project: Project; onSaved: (p: Project) => void }) {
  const [form, setForm] = useState({ ...project });
  const [msg, setMsg] = useState("");
  const [error, setError] = useState("");
  const field = (name: keyof Project, type: "number" | "text" | "checkbox", label: string, step?: string) => (
    <label className={type === "checkbox" ? "check" : ""}>
      {label}
      <input
        name={name}
        type={type}
        step={step}
        checked={type === "checkbox" ? Boolean(form[name]) : undefined}
        value={type === "checkbox" ? undefined : String(form[name] ?? "")}
        onChange={(e) =>
          setForm({ ...form, [name]: type === "checkbox" ? e.target.checked : type === "number" ? Number(e.target.value) : e.target.value })
        }
      />
    </label>
  );
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setError("");
    try {
      const { name, description, k_answers, redundancy, lease_seconds, allow_ties, gold_rate, prompt_tasks_enabled } = form;
      const { dialogue_tasks_enabled, selection, max_redundancy } = form;
      const p = await api<Project>("PATCH", `/api/projects/${project.id}/`, {
        name, description, k_answers, redundancy, lease_seconds, allow_ties, gold_rate, prompt_tasks_enabled,
        dialogue_tasks_enabled, selection, max_redundancy,
      });
      onSaved(p);
      setMsg("Saved.");
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form className="card settings" onSubmit={save}>
      {field("name", "text", "Name")}
      {field("description", "text", "Description")}
      <div className="form-row">
        {field("k_answers", "number", "Answers per ranking task (K, 4–9)")}
        {field("redundancy", "number", "Labelers per task")}
        {field("lease_seconds", "number", "Lease (seconds)")}
        {field("gold_rate", "number", "Gold rate (0–1)", "0.01")}
      </div>
      {field("allow_ties", "checkbox", "Ties allowed in rankings")}
      {field("prompt_tasks_enabled", "checkbox", "Labelers may write new prompts")}
      {field("dialogue_tasks_enabled", "checkbox", "Labelers may write whole dialogues (both roles)")}
      <div className="form-row">
        <label>
          Ranking task order
          <select
            name="selection"
            value={form.selection}
            onChange={(e) => setForm({ ...form, selection: e.target.value as Project["selection"] })}
          >
            <option value="uniform">Uniform: priority, then oldest first</option>
            <option value="uncertainty">Uncertainty: answers the reward model cannot tell apart first</option>
          </select>
        </label>
        <label>
          Most labelers per task when they disagree (empty: no extra)
          <input
            name="max_redundancy"
            type="number"
            min={form.redundancy}
            value={form.max_redundancy ?? ""}
            onChange={(e) => setForm({ ...form, max_redundancy: e.target.value === "" ? null : Number(e.target.value) })}
          />
        </label>
      </div>
      {form.selection === "uncertainty" && (
        <p className="muted small">
          Uncertainty needs a registered reward model and a scoring job with it: each scoring job sets the order of
          the open ranking tasks (replacing their imported priority). Until then tasks are served as under uniform.
          Extra labelers are given only under uncertainty.
        </p>
      )}
      {error && <pre className="error">{error}</pre>}
      {msg && <div className="notice">{msg}</div>}
      <button className="primary" type="submit">
        Save settings
      </button>
    </form>
  );
}

type Member = Schemas["Membership"];

export function MembersPage({ projectId }: { projectId: number }) {
  const [members, setMembers] = useState<Member[]>([]);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState("labeler");
  const [error, setError] = useState("");
  const load = () =>
    api<Member[] | { results: Member[] }>("GET", `/api/projects/${projectId}/members/`).then((d) =>
      setMembers(Array.isArray(d) ? d : d.results),
    );
  useEffect(() => {
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [projectId]);
  const act = async (f: () => Promise<unknown>) => {
    setError("");
    try {
      await f();
      await load();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <div>
      <table className="table">
        <thead>
          <tr>
            <th>User</th>
            <th>Role</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.id}>
              <td>{m.user.username}</td>
              <td>
                <select
                  aria-label={`Role of ${m.user.username}`}
                  value={m.role}
                  onChange={(e) => act(() => api("PATCH", `/api/projects/${projectId}/members/${m.id}/`, { role: e.target.value }))}
                >
                  <option value="labeler">labeler</option>
                  <option value="reviewer">reviewer</option>
                  <option value="admin">admin</option>
                </select>
              </td>
              <td>
                <button className="link" onClick={() => act(() => api("DELETE", `/api/projects/${projectId}/members/${m.id}/`))}>
                  remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          act(() => api("POST", `/api/projects/${projectId}/members/`, { username, role })).then(() => setUsername(""));
        }}
      >
        <input
          aria-label="Username of the new member"
          placeholder="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <select aria-label="Role of the new member" value={role} onChange={(e) => setRole(e.target.value)}>
          <option value="labeler">labeler</option>
          <option value="reviewer">reviewer</option>
          <option value="admin">admin</option>
        </select>
        <button type="submit">Add member</button>
      </form>
      {error && <pre className="error">{error}</pre>}
    </div>
  );
}

export function ImportPage({ projectId }: { projectId: number }) {
  const [kind, setKind] = useState("ranking_items");
  const [format, setFormat] = useState("jsonl");
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<Schemas["ImportResult"] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [k, setK] = useState(4); // the project's K: ranking items must carry exactly K answers
  useEffect(() => {
    api<Project>("GET", `/api/projects/${projectId}/`).then((p) => setK(p.k_answers), () => {});
  }, [projectId]);
  const examples = importExamples(k);
  const current = examples.find((x) => x.id === (kind === "prompts" ? `prompts-${format}` : "ranking-jsonl"))!;
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setResult(null);
    setError(null);
    const body = new FormData();
    body.append("file", file);
    body.append("kind", kind);
    body.append("format", format);
    try {
      setResult(await api("POST", `/api/projects/${projectId}/imports/`, body));
    } catch (err) {
      if (err instanceof ApiError) setError(err);
      else throw err;
    }
  };
  return (
    <div>
      <form className="card inline-form" onSubmit={submit}>
        <label className="inline">
          File holds
          <select name="kind" value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="ranking_items">ranking items (JSONL with answers)</option>
            <option value="prompts">prompts (demonstration tasks)</option>
          </select>
        </label>
        <label className="inline">
          Format
          <select name="format" value={format} onChange={(e) => setFormat(e.target.value)}>
            <option value="jsonl">JSONL</option>
            <option value="csv">CSV (prompts only)</option>
          </select>
        </label>
        <label className="inline">
          File
          <input name="file" type="file" accept=".jsonl,.json,.csv,.txt" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </label>
        <button className="primary" type="submit" disabled={!file}>
          Import
        </button>
      </form>
      {result && (
        <div className="notice">
          Imported: {Object.entries(result).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(", ")}
        </div>
      )}
      {error && <ImportError error={error} />}
      <ImportFormats current={current} examples={examples} />
      <DialogueTasksCard projectId={projectId} />
    </div>
  );
}

function ImportError({ error }: { error: ApiError }) {
  const { summary, rows } = importErrorView(error.message, error.errors);
  return (
    <div className="error" role="alert">
      <strong>{summary}</strong>
      {rows.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Line</th>
              <th>Field</th>
              <th>Problem</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((x, i) => (
              <tr key={i}>
                <td>{x.line ?? ""}</td>
                <td>{x.field ?? ""}</td>
                <td>{x.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function ExampleFile({ example }: { example: ImportExample }) {
  return (
    <div className="import-example" data-example={example.id}>
      <p className="small">{example.how}</p>
      <pre className="example" tabIndex={0}>
        {example.text}
      </pre>
      <a href={exampleHref(example)} download={example.filename}>
        Download {example.filename}
      </a>
    </div>
  );
}

/** Format help: the example for the chosen kind and format, the other formats one click away. */
function ImportFormats({ current, examples }: { current: ImportExample; examples: ImportExample[] }) {
  return (
    <section className="card import-formats" aria-label="File formats">
      <h2 className="section-title">File format: {current.title}</h2>
      <ExampleFile example={current} />
      <p className="muted small">
        An import is all or nothing and idempotent by <code>external_id</code>; a refused file lists every bad line
        and field.
      </p>
      <details>
        <summary>All formats, with example files</summary>
        {examples.map((x) => (
          <div key={x.id}>
            <h3 className="subsection-title">{x.title}</h3>
            <ExampleFile example={x} />
          </div>
        ))}
      </details>
    </section>
  );
}
