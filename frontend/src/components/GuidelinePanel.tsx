// The labeler's Guidelines tab: the version the current task was leased under (its work is checked against it),
// all of it, and when a newer version has been published since, what changed in it.
import { useEffect, useState } from "react";
import { api, ApiError, type Guideline } from "../api";
import { GuidelineCompare } from "./GuidelineCompare";
import { GuidelineView } from "./GuidelineView";
import { Kbd } from "./Kbd";

/** Whether a version newer than the lease's has been published (`newest` from the assignment's project). */
export function newerGuideline(guideline: Guideline | null, newest: number | null): boolean {
  return guideline != null && newest != null && newest > guideline.version;
}

interface Props {
  guideline: Guideline;
  projectId: number;
  /** The project's newest guideline version (the assignment's `project.guideline_version`). */
  newest: number | null;
  onClose: () => void;
}

export function GuidelinePanel({ guideline, projectId, newest, onClose }: Props) {
  const [latest, setLatest] = useState<Guideline | null>(null);
  const [error, setError] = useState("");
  const updated = newerGuideline(guideline, newest);

  useEffect(() => {
    if (!updated) return;
    let live = true;
    api<Guideline>("GET", `/api/projects/${projectId}/guidelines/${newest}/`).then(
      (g) => live && setLatest(g),
      (e) => live && setError(e instanceof ApiError ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [updated, projectId, newest]);

  return (
    <aside className="guideline-panel" aria-label="Guideline">
      <div className="panel-head">
        <h2>Guideline v{guideline.version}</h2>
        <button className="link" onClick={onClose}>
          close <Kbd>g</Kbd>
        </button>
      </div>
      {updated && (
        <section className="guideline-update" aria-labelledby="guideline-update-title">
          <h3 id="guideline-update-title">
            What changed in v{newest}
          </h3>
          <p className="small">
            This task was handed out under v{guideline.version} and is checked against it; your next tasks follow v
            {newest}.
          </p>
          {latest && <GuidelineCompare before={guideline} after={latest} />}
          {error && <div className="error" role="alert">Could not load v{newest}: {error}</div>}
        </section>
      )}
      <GuidelineView guideline={guideline} />
    </aside>
  );
}
