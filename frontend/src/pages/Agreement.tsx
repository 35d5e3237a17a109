// Agreement between labelers and accuracy on gold tasks: overall, by guideline version, per labeler, per day.
import { useEffect, useState } from "react";
import { api, ApiError, type Project, type Schemas } from "../api";
import { agreementEmptyState } from "../agreement";

type Report = Schemas["AgreementReport"];

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
const num = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v.toFixed(3));

/** Daily pairwise agreement as a line in plain SVG (0% to 100%). */
function TrendChart({ trend }: { trend: Report["trend"] }) {
  const points = trend.filter((d) => d.pairwise_agreement !== null);
  if (points.length === 0) return <p className="muted">No day has rankings by several labelers yet.</p>;
  const w = 1200;
  const h = 180;
  const pad = { l: 40, r: 10, t: 10, b: 24 };
  const x = (i: number) => pad.l + ((w - pad.l - pad.r) * i) / Math.max(1, points.length - 1);
  const y = (v: number) => pad.t + (h - pad.t - pad.b) * (1 - v);
  const path = points.map((p, i) => `${i === 0 ? "M" : "L"}${x(i)},${y(p.pairwise_agreement!)}`).join(" ");
  return (
    <svg viewBox={`0 0 ${w} ${h}`} width="100%" role="img" aria-label="Pairwise agreement per day">
      {[0, 0.5, 1].map((t) => (
        <g key={t}>
          <line x1={pad.l} x2={w - pad.r} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
          <text x={pad.l - 6} y={y(t) + 4} fontSize="11" textAnchor="end" fill="#6b7280">
            {t * 100}%
          </text>
        </g>
      ))}
      <path d={path} fill="none" stroke="#2f5bea" strokeWidth="2" />
      {points.map((p, i) => (
        <circle key={p.day} cx={x(i)} cy={y(p.pairwise_agreement!)} r="3" fill="#2f5bea">
          <title>{`${p.day}: ${pct(p.pairwise_agreement)} over ${p.answer_pairs} answer pairs`}</title>
        </circle>
      ))}
    </svg>
  );
}

export function AgreementPage({ projectId }: { projectId: number }) {
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState("");
  // undefined while loading; null when the project could not be read.
  const [redundancy, setRedundancy] = useState<number | null | undefined>(undefined);
  useEffect(() => {
    api<Report>("GET", `/api/projects/${projectId}/agreement/`).then(setReport, (e) =>
      setError(e instanceof ApiError ? e.message : String(e)),
    );
    // Only for the empty state's explanation; without it the page still works.
    api<Project>("GET", `/api/projects/${projectId}/`).then(
      (p) => setRedundancy(p.redundancy),
      () => setRedundancy(null),
    );
  }, [projectId]);
  if (error) return <p className="error">{error}</p>;
  if (!report) return <p>Loading…</p>;
  const o = report.overall;
  const empty = redundancy === undefined ? null : agreementEmptyState(o, redundancy);
  return (
    <div className="dashboard">
      <h2>Agreement</h2>
      <p className="muted">
        Pairwise agreement is the share of answer pairs two labelers order the same way (a tie agrees only with a
        tie); InstructGPT reports about 73% between its trained labelers. Computed on tasks ranked by several
        labelers; gold accuracy compares rankings of gold tasks with their expected order.
      </p>
      {empty && (
        <div className="card empty-state" role="status" aria-label="Why there is no agreement yet">
          <strong>{empty.reason}</strong>
          <ul>
            {empty.advice.map((a) => (
              <li key={a}>{a}</li>
            ))}
          </ul>
        </div>
      )}
      <div className="tiles">
        <div className="card tile"><div className="n">{pct(o.pairwise_agreement)}</div><div className="muted">pairwise agreement</div></div>
        <div className="card tile"><div className="n">{num(o.kendall_tau_b)}</div><div className="muted">Kendall's tau-b</div></div>
        <div className="card tile"><div className="n">{num(o.krippendorff_alpha)}</div><div className="muted">Krippendorff's alpha</div></div>
        <div className="card tile"><div className="n">{o.tasks_with_several_labelers}</div><div className="muted">tasks with several labelers</div></div>
        <div className="card tile"><div className="n">{pct(o.gold_accuracy)}</div><div className="muted">gold accuracy ({o.gold_rankings})</div></div>
      </div>
      <h3>Per labeler, against the others</h3>
      <table className="table" aria-label="Agreement per labeler">
        <thead>
          <tr><th>Labeler</th><th>Comparisons</th><th>Agreement</th><th>Tau-b</th><th>Alpha</th><th>Gold accuracy</th><th>Gold exact</th></tr>
        </thead>
        <tbody>
          {report.labelers.map((l) => (
            <tr key={l.user_id}>
              <td>{l.username ?? `user ${l.user_id}`}</td>
              <td>{l.comparisons}</td>
              <td>{pct(l.pairwise_agreement)}</td>
              <td>{num(l.kendall_tau_b)}</td>
              <td>{num(l.krippendorff_alpha)}</td>
              <td>{pct(l.gold_accuracy)} {l.gold_rankings ? `(${l.gold_rankings})` : ""}</td>
              <td>{pct(l.gold_exact)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>By guideline version</h3>
      <table className="table" aria-label="Agreement by guideline version">
        <thead>
          <tr><th>Version</th><th>Answer pairs</th><th>Agreement</th><th>Tau-b</th><th>Alpha</th></tr>
        </thead>
        <tbody>
          {report.by_guideline_version.map((v) => (
            <tr key={v.guideline_version}>
              <td>v{v.guideline_version}</td>
              <td>{v.answer_pairs}</td>
              <td>{pct(v.pairwise_agreement)}</td>
              <td>{num(v.kendall_tau_b)}</td>
              <td>{num(v.krippendorff_alpha)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Trend</h3>
      <TrendChart trend={report.trend} />
    </div>
  );
}
