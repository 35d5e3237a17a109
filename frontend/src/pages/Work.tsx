import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, Assignment, Guideline, type Schemas, serverNow } from "../api";
import { Markdown } from "../markdown";
import { Link } from "../router";
import { RankingTask } from "./RankingTask";
import { DemonstrationTask } from "./DemonstrationTask";
import { PromptTask } from "./PromptTask";
import { DialogueTask } from "./DialogueTask";
import { usablePrefetched } from "../prefetch";

export type Stats = Schemas["MyStats"];

export type Outcome = { kind: "submitted" } | { kind: "lost"; message: string };

/** Returns true when the key event comes from a text field (so single-letter shortcuts must not fire). */
export function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
}

export function Conversation({ messages }: { messages: { role: string; content: string }[] }) {
  return (
    <div className="conversation" aria-label="Conversation">
      {messages.map((m, i) => (
        <div className={"turn " + m.role} key={i}>
          <div className="role">{m.role}</div>
          <Markdown text={m.content} />
        </div>
      ))}
    </div>
  );
}

export function Kbd({ children }: { children: React.ReactNode }) {
  return <kbd>{children}</kbd>;
}

function LeaseTimer({ expiresAt }: { expiresAt: string }) {
  const [now, setNow] = useState(serverNow());
  useEffect(() => {
    const t = window.setInterval(() => setNow(serverNow()), 1000);
    return () => window.clearInterval(t);
  }, []);
  const left = Math.round((new Date(expiresAt).getTime() - now) / 1000);
  if (left <= 0)
    return (
      <div className="lease expired" role="status">
        Your lease expired at {new Date(expiresAt).toLocaleTimeString()}. The task went back to the pool: you can
        still submit while it needs annotations; if others have completed it meanwhile, you will be told and your
        work stays on screen.
      </div>
    );
  const mm = Math.floor(left / 60);
  const ss = String(left % 60).padStart(2, "0");
  return (
    <span className={"lease" + (left < 120 ? " warn" : "")} title="Time left on your lease of this task">
      Lease: {mm}:{ss} left
    </span>
  );
}

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

function SkipDialog({ onSkip, onCancel }: { onSkip: (reason: string) => void; onCancel: () => void }) {
  const [reason, setReason] = useState("");
  return (
    <div className="dialog" role="dialog" aria-label="Skip this task">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (reason.trim()) onSkip(reason.trim());
        }}
      >
        <label>
          Why skip this task? <Kbd>Enter</Kbd> skips, <Kbd>Esc</Kbd> cancels
          <input
            autoFocus
            name="skip-reason"
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            onKeyDown={(e) => e.key === "Escape" && onCancel()}
            placeholder="e.g. I lack the expertise for this topic"
          />
        </label>
      </form>
    </div>
  );
}

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
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
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
  }, [assignment, lost, next]);

  const statsBar = stats && (
    <span className="stats" aria-label="Your figures">
      Today: <strong data-testid="today-count">{stats.submitted_today}</strong> submitted
      {stats.skipped_today ? `, ${stats.skipped_today} skipped` : ""} · median{" "}
      {stats.median_seconds == null ? "—" : `${Math.round(stats.median_seconds)} s`} per task
    </span>
  );

  if (error && !assignment) return <p className="error">{error}</p>;
  if (assignment === null) return <p>Loading the next task…</p>;
  if (assignment === "none")
    return (
      <section className="empty">
        <h1>No work left for you here</h1>
        {statsBar}
        <p>
          Every open task has its annotations or was already done by you. <Link to="/">Back to projects</Link>
        </p>
      </section>
    );

  const guideline = assignment.guideline;
  return (
    <div className={"workspace" + (showGuideline ? " with-guideline" : "")} data-assignment={assignment.id}>
      <div className="task-column">
        <div className="task-head">
          <span className="badge kind">{assignment.task.kind}</span>
          {guideline && <span className="muted">guideline v{guideline.version}</span>}
          <LeaseTimer expiresAt={assignment.expires_at} key={assignment.id} />
          {statsBar}
          <span className="head-keys">
            <Kbd>g</Kbd> guideline · <Kbd>s</Kbd> skip
          </span>
        </div>
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
        {skipping && <SkipDialog onSkip={skip} onCancel={() => setSkipping(false)} />}
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
      {showGuideline && guideline && <GuidelinePanel guideline={guideline} onClose={() => setShowGuideline(false)} />}
    </div>
  );
}

/** POST a task's work. Returns the outcome to hand on (and clears the browser draft), or the error lines to
 * show with the work kept on screen. A repeat of an already stored submission counts as submitted. */
export async function sendSubmission(
  path: string,
  body: object,
  storageKey: string,
): Promise<{ outcome: Outcome } | { errors: string[] }> {
  try {
    await api("POST", path, body);
    localStorage.removeItem(storageKey);
    return { outcome: { kind: "submitted" } };
  } catch (e) {
    const lost = lostMessage(e);
    if (lost) return { outcome: { kind: "lost", message: lost } };
    if (e instanceof ApiError && e.code === "already_submitted") return { outcome: { kind: "submitted" } };
    if (e instanceof ApiError)
      return { errors: [e.message, ...e.errors.map((x) => (x.field ? `${x.field}: ` : "") + x.message)] };
    return { errors: [String(e)] };
  }
}

/** Turn a failed submission into what the labeler needs to know; returns null when it was not a loss. */
export function lostMessage(e: unknown): string | null {
  if (e instanceof ApiError && e.status === 409 && e.code === "lease_expired") return e.message;
  if (e instanceof ApiError && e.status === 404) return "This assignment is no longer yours. " + e.message;
  return null;
}
