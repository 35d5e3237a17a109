import { useEffect, useState } from "react";
import { api, ApiError, Assignment, type Schemas } from "../api";
import { Link, navigate } from "../router";
import { DemonstrationTask } from "../components/DemonstrationTask";
import { RankingTask } from "../components/RankingTask";
import { Outcome } from "../components/taskParts";

/** The labeler's own annotation (a ranking or a demonstration here), with the fields this page reads. */
type Stored = Schemas["MyAnnotation"] &
  Partial<Pick<Schemas["MyRanking"], "tiers" | "ratings" | "flags"> & Pick<Schemas["MyDemonstration"], "text">>;

/** Revise work submitted earlier, while its task is still open; the server keeps the earlier version. */
export function RevisePage({ assignmentId }: { assignmentId: number }) {
  const [assignment, setAssignment] = useState<Assignment | null>(null);
  const [stored, setStored] = useState<Stored | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    Promise.all([
      api<Assignment>("GET", `/api/assignments/${assignmentId}/`),
      api<Stored>("GET", `/api/assignments/${assignmentId}/annotation/`),
    ]).then(
      ([a, s]) => {
        setAssignment(a);
        setStored(s);
      },
      (e) => setError(e instanceof ApiError ? e.message : String(e)),
    );
  }, [assignmentId]);
  if (error) return <p className="error">{error}</p>;
  if (!assignment || !stored) return <p>Loading…</p>;
  if (!stored.task_open)
    return (
      <p>
        This task has all its annotations, so your work on it is final. <Link to="/history">Back to my history</Link>
      </p>
    );
  const path = `/api/assignments/${assignmentId}/revise/`;
  const done = (o: Outcome) => {
    if (o.kind === "submitted") navigate("/history");
    else setError(o.message);
  };
  return (
    <div>
      <div className="notice">
        Revising your {assignment.task.kind} of task {assignment.task.id}. The earlier version is kept for audit.
      </div>
      {assignment.task.kind === "ranking" && assignment.guideline && (
        <RankingTask
          assignment={assignment}
          guideline={assignment.guideline}
          onDone={done}
          paused={false}
          initial={{ tiers: stored.tiers ?? [], ratings: stored.ratings ?? {}, flags: stored.flags ?? {} }}
          submitPath={path}
        />
      )}
      {assignment.task.kind === "demonstration" && (
        <DemonstrationTask assignment={assignment} onDone={done} paused={false} initialText={stored.text ?? ""} submitPath={path} />
      )}
    </div>
  );
}
