// Two guideline versions compared: the body as a line diff (+/- markers as well as colour) and the changed
// criteria, rating scale and flags.
import { useMemo } from "react";
import type { Guideline } from "../api";
import { guidelineChanges } from "../guidelineChanges";
import { diffMarker, lineDiff } from "../textDiff";

const KIND_WORD = { added: "added", removed: "removed", changed: "changed", same: "unchanged" } as const;

export function GuidelineCompare({ before, after }: { before: Guideline; after: Guideline }) {
  const body = useMemo(() => lineDiff(before.body_md, after.body_md), [before.body_md, after.body_md]);
  const changes = useMemo(() => guidelineChanges(before, after), [before, after]);
  const bodyChanged = body.some((l) => l.kind !== "same");
  return (
    <div className="guideline-compare" data-from={before.version} data-to={after.version}>
      <h3>
        Body: v{before.version} → v{after.version}
      </h3>
      {bodyChanged ? (
        <pre className="diff">
          {body.map((l, i) => (
            <span key={i} className={`diff-line diff-${l.kind}`} data-kind={l.kind}>
              <span className="sr-only">{l.kind === "same" ? "" : KIND_WORD[l.kind] + ": "}</span>
              <span aria-hidden="true" className="diff-marker">
                {diffMarker(l.kind)}{" "}
              </span>
              {l.text}
              {"\n"}
            </span>
          ))}
        </pre>
      ) : (
        <p className="muted">The body is the same.</p>
      )}
      <h3>Criteria, rating scale and flags</h3>
      {changes.length ? (
        <ul className="guideline-changes">
          {changes.map((c, i) => (
            <li key={i} className={`diff-${c.kind}`} data-kind={c.kind}>
              <span className="change-kind">{KIND_WORD[c.kind]}</span> {c.text}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No changes.</p>
      )}
    </div>
  );
}
