// The project's rounds of the data loop as a timeline: the sampling model and the snapshot and run behind it,
// the generation job and its ranking tasks, then the snapshots and runs (reward model, DPO) trained on them, and
// how well the reward model in use agreed with the round's rankings.
import { useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api";
import { percent } from "../components/RewardAgreementCard";

type RunRef = Schemas["RoundRun"];
export type Round = Schemas["Round"];

const message = (e: unknown) => (e instanceof ApiError ? e.message : String(e));
const day = (iso: string | null) => (iso ? new Date(iso).toLocaleDateString() : "");

function RunLine({ run }: { run: RunRef }) {
  return (
    <li>
      {run.kind} run {run.id} ({run.status}){run.model ? ` → ${run.model.name}` : ""}
    </li>
  );
}

export function RoundCard({ round }: { round: Round }) {
  const { sampling, generation_job: job } = round;
  return (
    <li className="card" aria-label={`Round ${round.number}`}>
      <h2 className="section-title">Round {round.number}</h2>
      <ol className="steps">
        <li>
          <strong>Sampling model</strong> {sampling.model.name} ({sampling.model.kind})
          {sampling.run && (
            <span className="muted">
              {" "}
              ← {sampling.run.kind} run {sampling.run.id}
              {sampling.snapshot && ` ← snapshot v${sampling.snapshot.version} (${sampling.snapshot.kind})`}
            </span>
          )}
        </li>
        <li>
          <strong>Generation job {job.id}</strong> {job.status}, {job.prompts_done}/{job.prompts_total} prompts, {day(job.created_at)}
        </li>
        <li>
          <strong>Ranking</strong> {round.ranked_tasks}/{round.tasks} tasks ranked, {round.rankings} rankings
        </li>
        <li>
          <strong>Snapshots and runs</strong>
          {round.snapshots.length === 0 ? (
            <span className="muted"> none yet</span>
          ) : (
            <ul>
              {round.snapshots.map((s) => (
                <li key={s.id}>
                  snapshot v{s.version} ({s.kind}), {day(s.created_at)}
                  {s.runs.length > 0 && (
                    <ul>
                      {s.runs.map((r) => (
                        <RunLine key={r.id} run={r} />
                      ))}
                    </ul>
                  )}
                </li>
              ))}
            </ul>
          )}
        </li>
        <li>
          <strong>Reward model agreement</strong>{" "}
          {round.reward_model ? (
            <>
              {round.reward_model.name}: {percent(round.reward_model.accuracy)} of {round.reward_model.pairs} pairs
              {round.reward_model.unscored_pairs > 0 && <span className="muted"> ({round.reward_model.unscored_pairs} pairs not scored yet)</span>}
            </>
          ) : (
            <span className="muted">no reward model was trained before this round was ranked</span>
          )}
        </li>
      </ol>
    </li>
  );
}

export function RoundsPage({ projectId }: { projectId: number }) {
  const [rounds, setRounds] = useState<Round[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api<{ rounds: Round[] }>("GET", `/api/projects/${projectId}/rounds/`).then((d) => setRounds(d.rounds), (e) => setError(message(e)));
  }, [projectId]);
  if (error) return <p className="error">{error}</p>;
  if (!rounds) return <p>Loading…</p>;
  if (rounds.length === 0) return <p className="muted">No round yet: a round starts with a generation job sampling answers to rank.</p>;
  return (
    <div className="rounds">
      <p className="muted small">
        Each round: snapshot → SFT → sample → rank → snapshot → reward model. Agreement is that of the reward model in use when
        the round was ranked, on the round's rankings (data it never saw).
      </p>
      <ol className="timeline">
        {rounds.map((r) => (
          <RoundCard key={r.number} round={r} />
        ))}
      </ol>
    </div>
  );
}
