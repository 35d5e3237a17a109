import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, Assignment, type Schemas, serverNow } from "../api";
import { Link } from "../router";
import { usablePrefetched } from "../prefetch";
import { progressText } from "../progress";
import { DemonstrationTask } from "../components/DemonstrationTask";
import { ReasonDialog } from "../components/Dialog";
import { DialogueTask } from "../components/DialogueTask";
import { GuidelinePanel, newerGuideline } from "../components/GuidelinePanel";
import { Kbd } from "../components/Kbd";
import { typing } from "../components/keys";
import { LeaseTimer } from "../components/LeaseTimer";
import { PromptTask } from "../components/PromptTask";
import { RankingTask } from "../components/RankingTask";
import { Outcome } from "../components/taskParts";

export type Stats = Schemas["MyStats"];

export function WorkPage({ projectId }: { projectId: number }) {
  const [assignment, setAssignment] = useState<Assignment | null | "none">(null);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [lost, setLost] = useState("");
  const [showGuideline, setShowGuideline] = useState(false);
  const [skipping, setSkipping] = useState(false);
  const [stats, setStats] = useState<Stats | null>(null);
  const loading = useRef(false);
  // The task after the current one, leased in the background (…/assignments/next/?prefetch=1) so that it shows
  // at once after a submit or skip. The server keeps at most one such extra lease and returns it on repeat.
  const prefetched = useRef<Assignment | null>(null);
  const prefetching = useRef(false);
  const currentId = useRef<number | null>(null);

  const loadStats = useCallback(() => {
    api<Stats>("GET", `/api/projects/${projectId}/my-stats/`).then(setStats, () => undefined);
  }, [projectId]);

  const prefetchNext = useCallback(
    async (retry = true) => {
      if (prefetching.current || prefetched.current || currentId.current == null) return;
      prefetching.current = true;
      let again = false;
      try {
        const a = await api<Assignment | null>("POST", `/api/projects/${projectId}/assignments/next/?prefetch=1`);
        if (a && a.id !== currentId.current) prefetched.current = a;
        // It became the current task while in flight (a quick submit): lease the one after it instead.
        else if (a && retry) again = true;
      } catch {
        // Only a speed-up: without it the next task loads when asked for.
      } finally {
        prefetching.current = false;
      }
      if (again) prefetchNext(false);
    },
    [projectId],
  );

  const show = useCallback(
    (a: Assignment | "none") => {
      currentId.current = a === "none" ? null : a.id;
      setAssignment(a);
      if (a !== "none") prefetchNext();
    },
    [prefetchNext],
  );

  const next = useCallback(async () => {
    if (loading.current) return;
    setError("");
    setLost("");
    const ready = usablePrefetched(prefetched.current, currentId.current, serverNow());
    prefetched.current = null;
    if (ready) {
      show(ready);
      loadStats();
      return;
    }
    loading.current = true;
    try {
      const a = await api<Assignment | null>("POST", `/api/projects/${projectId}/assignments/next/`);
      show(a ?? "none");
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      loading.current = false;
    }
    loadStats();
  }, [projectId, loadStats, show]);

  useEffect(() => {
    next();
  }, [next]);

  const onDone = useCallback(
    (outcome: Outcome) => {
      if (outcome.kind === "lost") {
        setLost(outcome.message);
        return;
      }
      setNotice("Submitted.");
      window.setTimeout(() => setNotice(""), 2000);
      next(); // the next task loads at once
    },
    [next],
  );

  const skip = async (reason: string) => {
    if (!assignment || assignment === "none") return;
    setSkipping(false);
    try {
      await api("POST", `/api/assignments/${assignment.id}/skip/`, { reason });
      setNotice("Skipped.");
      window.setTimeout(() => setNotice(""), 2000);
      next();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (typing(e) || skipping || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "g") {
        e.preventDefault();
        setShowGuideline((v) => !v);
      } else if (e.key === "s" && assignment && assignment !== "none" && !lost) {
        e.preventDefault();
        setSkipping(true);
      } else if (e.key === "n" && lost) {
        e.preventDefault();
        next();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [assignment, lost, next, skipping]);

  const statsBar = stats && (
    <span className="stats" aria-label="Your figures">
      Today: <strong data-testid="today-count">{stats.submitted_today}</strong> submitted
      {stats.skipped_today ? `, ${stats.skipped_today} skipped` : ""} · median{" "}
      {stats.median_seconds == null ? "—" : `${Math.round(stats.median_seconds)} s`} per task
      {progressText(stats) && (
        <>
          {" · "}
          <span data-testid="progress">{progressText(stats)}</span>
        </>
      )}
    </span>
  );

  if (error && !assignment) return <p className="error">{error}</p>;
  if (assignment === null) return <p>Loading the next task…</p>;
  if (assignment === "none")
    return (
      <section className="empty">
        <h2>No work left for you here</h2>
        {statsBar}
        <p>
          Every open task has its annotations or was already done by you. <Link to="/">Back to projects</Link>
        </p>
      </section>
    );

  const guideline = assignment.guideline;
  const newestGuideline = assignment.project.guideline_version;
  return (
    <div className={"workspace" + (showGuideline ? " with-guideline" : "")} data-assignment={assignment.id}>
      <div className="task-column">
        <div className="task-head">
          <span className="badge kind">{assignment.task.kind}</span>
          {guideline && <span className="muted">guideline v{guideline.version}</span>}
          <LeaseTimer expiresAt={assignment.expires_at} key={assignment.id} />
          {statsBar}
          <span className="head-keys">
            <button
              type="button"
              aria-pressed={showGuideline}
              disabled={!guideline}
              onClick={() => setShowGuideline((v) => !v)}
            >
              Guideline <Kbd>g</Kbd>
            </button>
            <button type="button" aria-haspopup="dialog" disabled={!!lost || skipping} onClick={() => setSkipping(true)}>
              Skip… <Kbd>s</Kbd>
            </button>
          </span>
        </div>
        {newerGuideline(guideline, newestGuideline) && (
          <div className="notice guideline-updated" role="status" data-testid="guideline-updated">
            Guidelines updated to v{newestGuideline} —{" "}
            <button type="button" className="link" onClick={() => setShowGuideline(true)}>
              open the Guidelines tab to see what changed
            </button>
            . This task stays under v{guideline?.version}.
          </div>
        )}
        {notice && <div className="notice">{notice}</div>}
        {error && <div className="error">{error}</div>}
        {lost && (
          <div className="lost" role="alert">
            <strong>This work was not stored.</strong> {lost} Your work stays on screen and in this browser.{" "}
            <button onClick={next}>
              Next task <Kbd>n</Kbd>
            </button>
          </div>
        )}
        {skipping && (
          <ReasonDialog
            label="Skip this task"
            question="Why skip this task?"
            confirm="Skip task"
            name="skip-reason"
            placeholder="e.g. I lack the expertise for this topic"
            onConfirm={skip}
            onCancel={() => setSkipping(false)}
          />
        )}
        {assignment.task.kind === "ranking" && guideline && (
          <RankingTask
            key={assignment.id}
            assignment={assignment}
            guideline={guideline}
            onDone={onDone}
            paused={skipping || !!lost}
          />
        )}
        {assignment.task.kind === "demonstration" && (
          <DemonstrationTask key={assignment.id} assignment={assignment} onDone={onDone} paused={skipping || !!lost} />
        )}
        {assignment.task.kind === "prompt" && (
          <PromptTask key={assignment.id} assignment={assignment} onDone={onDone} paused={skipping || !!lost} />
        )}
        {assignment.task.kind === "dialogue" && (
          <DialogueTask key={assignment.id} assignment={assignment} onDone={onDone} paused={skipping || !!lost} />
        )}
      </div>
      {showGuideline && guideline && (
        <GuidelinePanel
          guideline={guideline}
          projectId={projectId}
          newest={newestGuideline}
          onClose={() => setShowGuideline(false)}
        />
      )}
    </div>
  );
}
