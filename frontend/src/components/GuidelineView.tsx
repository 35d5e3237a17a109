// One guideline version, read-only: its body, criteria, rating scale and flags (each with its description).
import type { Guideline } from "../api";
import { Markdown } from "../markdown";

export function RatingScaleView({ scale }: { scale: Guideline["rating_scale"] }) {
  const labels = Object.entries(scale.labels ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  return (
    <div className="guideline-scale">
      <p>
        <strong>{scale.name || "Rating"}</strong>: {scale.min ?? 1} to {scale.max ?? 7}
      </p>
      {labels.length > 0 && (
        <dl className="guideline-defs">
          {labels.map(([point, label]) => (
            <div key={point}>
              <dt>{point}</dt>
              <dd>{label}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}

export function FlagsView({ flags }: { flags: Guideline["flags"] }) {
  if (!flags.length) return <p className="muted">No flags.</p>;
  return (
    <dl className="guideline-defs guideline-flags">
      {flags.map((f) => (
        <div key={f.key} data-flag={f.key}>
          <dt>
            {f.label} <code className="muted small">{f.key}</code>
          </dt>
          {f.description && <dd>{f.description}</dd>}
        </div>
      ))}
    </dl>
  );
}

/** The whole version, its sections under h3 headings. */
export function GuidelineView({ guideline }: { guideline: Guideline }) {
  return (
    <div className="guideline-view" data-version={guideline.version}>
      {guideline.criteria.length > 0 && (
        <p>
          Criteria: <strong>{guideline.criteria.join(", ")}</strong>
        </p>
      )}
      <Markdown text={guideline.body_md} />
      <h3>Rating scale</h3>
      <RatingScaleView scale={guideline.rating_scale} />
      <h3>Flags</h3>
      <FlagsView flags={guideline.flags} />
    </div>
  );
}
