// Generation jobs of a project, for admins: sample K answers per prompt from one registered model or several
// (each writing its share of the K, shuffled and blind to labelers), locally on the gpu queue or from an
// OpenAI-compatible endpoint; watch the progress, cancel and resume, see answers cut at the token limit and the
// ranking tasks a job made.
import { useEffect, useState } from "react";
import { api, ApiError, serverNow, GenerationJob, InferenceEndpoint, Project, type Schemas } from "../api";
import {
  canResume, isActive, jobDuration, jobProgress, jobRequest, sourcesHint, truncatedBadge, type SourceRow,
} from "../generation";

type RegisteredModel = Schemas["RegisteredModel"];
type GenerationTask = Schemas["GenerationTask"];

const message = (e: unknown) =>
  e instanceof ApiError ? [e.message, ...e.errors.map((x) => (x.field ? `${x.field}: ` : "") + x.message)].join("\n") : String(e);

function CreateJob({ project, models, endpoints, onCreated }: {
  project: Project; models: RegisteredModel[]; endpoints: InferenceEndpoint[]; onCreated: () => void;
}) {
  const samplers = models.filter((m) => m.kind === "base" || m.kind === "sft" || m.kind === "policy");
  const rewardModels = models.filter((m) => m.kind === "rm");
  const [form, setForm] = useState<Record<string, string>>({
    model: "", prompts: "accepted_demonstration", limit: "", backend: "local",
    k: String(project.k_answers), temperature: "1.0", top_p: "1.0", max_new_tokens: "256", seed: "0",
    best_of_n: "", reward_model: "", endpoint: "", endpoint_model: "",
  });
  const [error, setError] = useState("");
  const [sources, setSources] = useState<SourceRow[]>([{ model: "", answers: String(project.k_answers) }]);
  const set = (key: string) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const setSource = (i: number, key: keyof SourceRow) => (e: { target: { value: string } }) =>
    setSources(sources.map((r, j) => (j === i ? { ...r, [key]: e.target.value } : r)));
  const addSource = () =>
    setSources(
      sources.length === 1
        ? [{ ...sources[0], answers: String(Math.ceil(project.k_answers / 2)) }, { model: "", answers: String(Math.floor(project.k_answers / 2)) }]
        : [...sources, { model: "", answers: "1" }],
    );
  const removeSource = (i: number) => {
    const left = sources.filter((_, j) => j !== i);
    setSources(left.length === 1 ? [{ ...left[0], answers: String(project.k_answers) }] : left);
  };
  const hint = sourcesHint(sources, Number(form.k) || project.k_answers);
  const chosen = endpoints.find((x) => x.name === form.endpoint);
  const submit = () =>
    api("POST", `/api/projects/${project.id}/generation-jobs/`, jobRequest(form, sources)).then(
      () => { setError(""); onCreated(); }, (e) => setError(message(e)));
  const number = (key: string, label: string, step = "1") => (
    <label>{label} <input aria-label={label} type="number" step={step} value={form[key]} onChange={set(key)} /></label>
  );
  return (
    <section className="card">
      <h2 className="section-title">New generation job</h2>
      <fieldset className="sources">
        <legend>Models (each writes its share of the K answers; labelers never see which)</legend>
        {sources.map((row, i) => (
          <div className="inline-form" key={i}>
            <select aria-label={i === 0 ? "Model to sample from" : `Model ${i + 1}`} value={row.model} onChange={setSource(i, "model")}>
              <option value="">model…</option>
              {samplers.map((m) => <option key={m.id} value={m.id}>{m.name} ({m.kind})</option>)}
            </select>
            {sources.length > 1 && (
              <>
                <label>Answers <input aria-label={`Answers from model ${i + 1}`} type="number" min="1" value={row.answers} onChange={setSource(i, "answers")} /></label>
                <button type="button" className="small" aria-label={`Remove model ${i + 1}`} onClick={() => removeSource(i)}>Remove</button>
              </>
            )}
          </div>
        ))}
        <button type="button" onClick={addSource} disabled={sources.length >= project.k_answers}>Add a model</button>
        {hint && <p className="muted small" role="status">{hint}</p>}
      </fieldset>
      <div className="inline-form">
        <select aria-label="Prompts" value={form.prompts} onChange={set("prompts")}>
          <option value="accepted_demonstration">prompts with an accepted demonstration</option>
          <option value="no_ranking_task">prompts without a ranking task yet</option>
        </select>
        {number("limit", "At most (prompts)")}
        <select aria-label="Backend" value={form.backend} onChange={set("backend")}>
          <option value="local">local sampling (gpu queue)</option>
          <option value="openai">OpenAI-compatible endpoint</option>
        </select>
      </div>
      <div className="inline-form">
        {number("k", "K")}
        {number("temperature", "Temperature", "0.05")}
        {number("top_p", "Top-p", "0.05")}
        {number("max_new_tokens", "Max new tokens")}
        {number("seed", "Seed")}
        {number("best_of_n", "Best of N (0: off)")}
        {Number(form.best_of_n) > 0 && (
          <select aria-label="Reward model" value={form.reward_model} onChange={set("reward_model")}>
            <option value="">reward model…</option>
            {rewardModels.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
          </select>
        )}
      </div>
      {form.backend === "openai" && (
        <div className="inline-form">
          {endpoints.length === 0 ? (
            <p className="muted">No inference endpoint is configured on this installation (ask its operator).</p>
          ) : (
            <>
              <select aria-label="Endpoint" value={form.endpoint}
                onChange={(e) => setForm({ ...form, endpoint: e.target.value, endpoint_model: "" })}>
                <option value="">endpoint…</option>
                {endpoints.map((x) => <option key={x.name} value={x.name}>{x.name} ({x.api})</option>)}
              </select>
              {chosen && (
                <select aria-label="Served model" value={form.endpoint_model} onChange={set("endpoint_model")}>
                  <option value="">{chosen.default_model} (default)</option>
                  {chosen.models.slice(1).map((m) => <option key={m} value={m}>{m}</option>)}
                </select>
              )}
            </>
          )}
        </div>
      )}
      <button className="primary" onClick={submit}>Start generation</button>
      {error && <pre className="error">{error}</pre>}
    </section>
  );
}

/** The ranking tasks a job made, loaded when opened: each with its prompt, status, answers by model (admins
 * only) and a link to its rankings. */
function JobTasks({ projectId, job }: { projectId: number; job: GenerationJob }) {
  const [tasks, setTasks] = useState<GenerationTask[] | null>(null);
  const [error, setError] = useState("");
  if (job.tasks_made === 0) return null;
  const load = (open: boolean) => {
    if (open && tasks === null)
      api<GenerationTask[]>("GET", `/api/projects/${projectId}/generation-jobs/${job.id}/tasks/`).then(setTasks, (e) => setError(message(e)));
  };
  return (
    <details onToggle={(e) => load((e.target as HTMLDetailsElement).open)}>
      <summary>{job.tasks_made} ranking task{job.tasks_made === 1 ? "" : "s"}</summary>
      {error && <p className="error">{error}</p>}
      {tasks === null && !error && <p className="muted">Loading…</p>}
      {tasks && (
        <ul className="job-tasks" aria-label={`Tasks of job ${job.id}`}>
          {tasks.map((t) => (
            <li key={t.id}>
              <a href={`/api/projects/${projectId}/rankings/?task=${t.id}`} target="_blank" rel="noreferrer">Task {t.id}</a>{" "}
              <span className="muted">“{t.prompt_snippet}”</span> {t.status}, {t.completed_count}/{t.required_annotations} rankings
              <span className="small muted">
                {" "}— {t.answers.map((a) => `${a.model_name}${a.truncated ? " (cut off)" : ""}`).join(", ")}
              </span>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}

function JobRow({ projectId, job, onChange }: { projectId: number; job: GenerationJob; onChange: () => void }) {
  const [error, setError] = useState("");
  const progress = jobProgress(job);
  const act = (verb: "cancel" | "resume") =>
    api(
      "POST",
      verb === "cancel"
        ? `/api/projects/${projectId}/generation-jobs/${job.id}/cancel/`
        : `/api/projects/${projectId}/generation-jobs/${job.id}/resume/`,
    ).then(
      () => { setError(""); onChange(); }, (e) => setError(message(e)));
  const s = job.settings;
  const badge = truncatedBadge(job);
  const mixed = job.sources.length > 1;
  return (
    <tr aria-label={`Generation job ${job.id}`}>
      <td>{job.id}</td>
      <td>
        {mixed
          ? job.sources.map((x) => `${x.answers} from ${x.model_name}${job.backend === "openai" ? ` (${x.endpoint_model})` : ""}`).join(" + ")
          : job.model_name}
        {job.backend === "openai" ? (mixed ? ` via ${job.endpoint}` : ` via ${job.endpoint} (${job.endpoint_model})`) : ""}
      </td>
      <td>
        K={s.k}, T={s.temperature}, top-p={s.top_p}, {s.max_new_tokens} tokens, seed {s.seed}
        {s.best_of_n ? `, best of ${s.best_of_n} by ${job.reward_model_name}` : ""}
      </td>
      <td>{job.status}{job.cancel_requested && job.status === "running" ? " (cancelling)" : ""}</td>
      <td>{jobDuration(job, serverNow())}</td>
      <td>
        <progress max={progress.max || 1} value={progress.value} aria-label={`progress of job ${job.id}`} />{" "}
        {progress.label}
        {job.skipped.length > 0 && (
          <details><summary>skipped</summary>
            <ul>{job.skipped.map((x) => <li key={x.prompt}>prompt {x.prompt}: {x.reason}</li>)}</ul>
          </details>
        )}
        {badge && (
          <>
            {" "}
            <span className="badge cut-off" title="answers with no end within max_new_tokens">{badge}</span>
          </>
        )}
        <JobTasks projectId={projectId} job={job} />
        {job.error && <p className="error">{job.error}</p>}
        {job.error_detail && <details><summary>traceback (site staff)</summary><pre className="error">{job.error_detail}</pre></details>}
        {error && <pre className="error">{error}</pre>}
      </td>
      <td>
        {isActive(job.status) && <button onClick={() => act("cancel")}>Cancel</button>}
        {canResume(job.status) && <button onClick={() => act("resume")}>Resume</button>}
      </td>
    </tr>
  );
}

export function GenerationPage({ project }: { project: Project }) {
  const [jobs, setJobs] = useState<GenerationJob[]>([]);
  const [models, setModels] = useState<RegisteredModel[]>([]);
  const [endpoints, setEndpoints] = useState<InferenceEndpoint[]>([]);
  const [tick, setTick] = useState(0);
  const reload = () => setTick((t) => t + 1);
  useEffect(() => {
    api<RegisteredModel[]>("GET", `/api/projects/${project.id}/models/`).then(setModels);
    api<InferenceEndpoint[]>("GET", `/api/projects/${project.id}/inference-endpoints/`).then(setEndpoints);
  }, [project.id]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    api<GenerationJob[]>("GET", `/api/projects/${project.id}/generation-jobs/`).then((rows) => {
      setJobs(rows);
      if (rows.some((j) => isActive(j.status))) timer = setTimeout(reload, 2000); // live progress
    });
    return () => clearTimeout(timer);
  }, [project.id, tick]);
  return (
    <div className="dashboard">
      <CreateJob project={project} models={models} endpoints={endpoints} onCreated={reload} />
      <section className="card">
        <h2 className="section-title">Generation jobs</h2>
        {jobs.length === 0 ? <p className="muted">No generation job yet.</p> : (
          <table className="table" aria-label="Generation jobs">
            <thead><tr><th>Job</th><th>Model</th><th>Sampling</th><th>Status</th><th>Duration</th><th>Progress</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{jobs.map((j) => <JobRow key={j.id} projectId={project.id} job={j} onChange={reload} />)}</tbody>
          </table>
        )}
      </section>
    </div>
  );
}
