// The reward model's agreement with the newest human rankings, for the admin dashboard, with a hint when it
// is time to retrain and a button that scores the candidates it has not scored yet (a job on the gpu queue).
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, type ResponseOf, type Schemas } from "../api";

export type RMAgreement = Schemas["RMAgreement"];
type ScoringJob = Schemas["ScoringJob"];

const message = (e: unknown) =>
  e instanceof ApiError ? [e.message, ...e.errors.map((x) => (x.field ? `${x.field}: ` : "") + x.message)].join("\n") : String(e);

export const percent = (v: number | null) => (v == null ? "—" : `${Math.round(v * 100)} %`);

export function RewardAgreementCard({ projectId }: { projectId: number }) {
  const [models, setModels] = useState<RMAgreement[] | null>(null);
  const [jobs, setJobs] = useState<ScoringJob[]>([]);
  const [error, setError] = useState("");
  const load = useCallback(() => {
    api<ResponseOf<"/api/projects/{project_id}/rm-agreement/", "get">>("GET", `/api/projects/${projectId}/rm-agreement/`).then((d) => setModels(d.models), (e) => setError(message(e)));
    api<ScoringJob[]>("GET", `/api/projects/${projectId}/scoring-jobs/`).then(setJobs, () => setJobs([]));
  }, [projectId]);
  useEffect(() => {
    load();
    const t = window.setInterval(load, 30_000);
    return () => window.clearInterval(t);
  }, [load]);
  const score = (rm: number) =>
    api("POST", `/api/projects/${projectId}/scoring-jobs/`, { reward_model: rm }).then(load, (e) => setError(message(e)));

  if (models === null) return error ? <p className="error">{error}</p> : null;
  return (
    <div className="card" aria-label="Reward model agreement">
      <h2 className="section-title">Reward model agreement with new rankings</h2>
      {error && <p className="error">{error}</p>}
      {models.length === 0 ? (
        <p className="muted">No reward model yet.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Reward model</th>
              <th>Trained</th>
              <th>Agreement</th>
              <th>Pairs (rankings)</th>
              <th>New rankings</th>
              <th>Scores</th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => {
              const job = jobs.find((j) => j.reward_model === m.reward_model.id);
              const busy = job && (job.status === "queued" || job.status === "running");
              return (
                <tr key={m.reward_model.id}>
                  <td>
                    {m.reward_model.name}
                    {m.retrain && (
                      <div className="notice" role="status">
                        Time to retrain: {m.reasons.join("; ")}.
                      </div>
                    )}
                  </td>
                  <td>{new Date(m.since).toLocaleString()}</td>
                  <td>{percent(m.accuracy)}</td>
                  <td>
                    {m.pairs} ({m.rankings})
                  </td>
                  <td>
                    {m.new_rankings} <span className="muted small">({m.rankings_before} before)</span>
                  </td>
                  <td>
                    {busy ? (
                      `scoring ${job.scored}/${job.total || "?"}`
                    ) : (
                      <button onClick={() => score(m.reward_model.id)}>
                        {m.unscored_pairs ? `Score new candidates (${m.unscored_pairs} pairs unscored)` : "Score new candidates"}
                      </button>
                    )}
                    {job?.status === "failed" && <div className="error small">Last scoring job failed.</div>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <p className="muted small">
        Share of human (better, worse) pairs, from rankings made after the model was trained, where it scores the better answer
        higher. Scores are shown to admins only.
      </p>
    </div>
  );
}
