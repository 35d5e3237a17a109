import type { Guideline } from "../api";
import { Markdown } from "../markdown";
import { Kbd } from "./Kbd";

export function GuidelinePanel({ guideline, onClose }: { guideline: Guideline; onClose: () => void }) {
  return (
    <aside className="guideline-panel" aria-label="Guideline">
      <div className="panel-head">
        <h2>Guideline v{guideline.version}</h2>
        <button className="link" onClick={onClose}>
          close <Kbd>g</Kbd>
        </button>
      </div>
      {guideline.criteria?.length > 0 && (
        <p>
          Criteria: <strong>{guideline.criteria.join(", ")}</strong>
        </p>
      )}
      <Markdown text={guideline.body_md} />
      <h3>Rating: {guideline.rating_scale?.name ?? "scale"}</h3>
      <p>
        {guideline.rating_scale?.min ?? 1} to {guideline.rating_scale?.max ?? 7}
        {guideline.rating_scale?.labels &&
          " — " +
            Object.entries(guideline.rating_scale.labels)
              .map(([k, v]) => `${k}: ${v}`)
              .join(", ")}
      </p>
      <h3>Flags</h3>
      <ul>
        {guideline.flags.map((f) => (
          <li key={f.key}>{f.label}</li>
        ))}
      </ul>
    </aside>
  );
}
