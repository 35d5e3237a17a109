// The project's rounds of the data loop as a timeline: the sampling model and the snapshot and run behind it,
// the generation job and its ranking tasks, then the snapshots and runs (reward model, DPO) trained on them, and
// how well the reward model in use agreed with the round's rankings. For admins, the human win rate between the
// models ranked side by side (with its 95% interval) beside the reward model's prediction, per round and overall,
// each broken down by guideline version.
import { Fragment, useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api";
import { percent } from "../components/RewardAgreementCard";
import {
  comparisonsText, intervalBar, predictedText, winRateText, type WinRatePair, type WinRates,
} from "../winRates";

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

function IntervalBar({ pair }: { pair: Pick<WinRatePair, "win_rate" | "low" | "high"> }) {
  const bar = intervalBar(pair);
  return (
    <span className="interval-bar" aria-hidden="true">
      <span className="even" />
      <span className="range" style={{ left: `${bar.left}%`, width: `${bar.width}%` }} />
      <span className="mark" style={{ left: `${bar.mark}%` }} />
    </span>
  );
}

/** Model A vs model B: the human win rate of A with its 95% interval, the comparisons behind it and the reward
 * model's predicted win rate, then the same per guideline version. */
export function WinRateTable({ pairs, label }: { pairs: WinRatePair[]; label: string }) {
  if (pairs.length === 0) return <p className="muted">No two models were ranked side by side yet.</p>;
  return (
    <table className="table win-rates" aria-label={label}>
      <thead>
        <tr>
          <th>Model A vs model B</th>
          <th>Human win rate of A (95% interval)</th>
          <th><span className="sr-only">Interval</span></th>
          <th>Comparisons</th>
          <th>Reward model predicts</th>
        </tr>
      </thead>
      <tbody>
        {pairs.map((p) => {
          const name = `${p.model_a.name} vs ${p.model_b.name}`;
          return (
            <Fragment key={name}>
              <tr aria-label={name}>
                <th scope="row">{name}</th>
                <td className="rate">{winRateText(p)}</td>
                <td><IntervalBar pair={p} /></td>
                <td>{comparisonsText(p)}</td>
                <td>{predictedText(p)}</td>
              </tr>
              {p.by_guideline.length > 1 &&
                p.by_guideline.map((v) => (
                  <tr key={v.guideline_version} className="sub" aria-label={`${name}, guideline v${v.guideline_version}`}>
                    <th scope="row" className="muted">guideline v{v.guideline_version}</th>
                    <td className="rate">{winRateText(v)}</td>
                    <td><IntervalBar pair={v} /></td>
                    <td>{comparisonsText(v)}</td>
                    <td>{predictedText(v)}</td>
                  </tr>
                ))}
              {p.by_guideline.length === 1 && (
                <tr className="sub">
                  <td colSpan={5} className="muted small">all under guideline v{p.by_guideline[0].guideline_version}</td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

export function RoundCard({ round, winRates }: { round: Round; winRates?: WinRatePair[] }) {
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
        {winRates && winRates.length > 0 && (
          <li>
            <strong>Human win rate</strong>
            <WinRateTable pairs={winRates} label={`Win rates, round ${round.number}`} />
          </li>
        )}
      </ol>
    </li>
  );
}

export function RoundsPage({ projectId, isAdmin = false }: { projectId: number; isAdmin?: boolean }) {
  const [rounds, setRounds] = useState<Round[] | null>(null);
  const [error, setError] = useState("");
  const [winRates, setWinRates] = useState<WinRates | null>(null);
  useEffect(() => {
    api<{ rounds: Round[] }>("GET", `/api/projects/${projectId}/rounds/`).then((d) => setRounds(d.rounds), (e) => setError(message(e)));
    // Win rates name the models behind the answers: admins only.
    if (isAdmin) api<WinRates>("GET", `/api/projects/${projectId}/win-rates/`).then(setWinRates, (e) => setError(message(e)));
  }, [projectId, isAdmin]);
  const byJob = new Map((winRates?.rounds ?? []).map((r) => [r.generation_job, r.pairs]));
  if (error) return <p className="error">{error}</p>;
  if (!rounds) return <p>Loading…</p>;
  if (rounds.length === 0) return <p className="muted">No round yet: a round starts with a generation job sampling answers to rank.</p>;
  return (
    <div className="rounds">
      <p className="muted small">
        Each round: snapshot → SFT → sample → rank → snapshot → reward model. Agreement is that of the reward model in use when
        the round was ranked, on the round's rankings (data it never saw).
      </p>
      {winRates && winRates.overall.length > 0 && (
        <section className="card" aria-label="Human win rate, all rounds">
          <h2 className="section-title">Human win rate, all rounds</h2>
          <p className="muted small">
            How often labelers preferred model A's answer to model B's when both answered one prompt (a tie counts half),
            with a 95% Wilson interval. Reward model predictions:{" "}
            {winRates.reward_model ? winRates.reward_model.name : "none (no reward model has scored these answers)"}.
          </p>
          <WinRateTable pairs={winRates.overall} label="Win rates, all rounds" />
        </section>
      )}
      <ol className="timeline">
        {rounds.map((r) => (
          <RoundCard key={r.number} round={r} winRates={byJob.get(r.generation_job.id)} />
        ))}
      </ol>
    </div>
  );
}
