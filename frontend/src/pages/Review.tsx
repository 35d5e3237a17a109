// The review queue: pending demonstrations and dialogues, each named by who wrote it, decided by mouse or by
// keyboard (j/k select, a accept, r reject, u undo). A rejection is confirmed in a dialog with its comment (it is
// shown to the labeler and reopens the task); any decision can be taken back for a few minutes (the server
// decides how long, and refuses once something has followed the decision).
import { useEffect, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api";
import { Markdown } from "../markdown";
import { Conversation } from "../components/Conversation";
import { ReasonDialog } from "../components/Dialog";
import { Kbd } from "../components/Kbd";
import { typing } from "../components/keys";
import {
  describeItem,
  type LastDecision,
  type QueuedDemonstration,
  type QueuedDialogue,
  reviewKeyAction,
  reviewPath,
  reviewQueue,
  type ReviewItem,
  selectionAfterReload,
  stepSelection,
} from "../review";

function errorText(e: unknown): string {
  if (e instanceof ApiError) return [e.message, ...e.errors.map((x) => (x.field ? `${x.field}: ` : "") + x.message)].join("\n");
  return String(e);
}

export function ReviewPage({ projectId }: { projectId: number }) {
  const [queue, setQueue] = useState<ReviewItem[] | null>(null);
  const [selected, setSelected] = useState(-1);
  const [rejecting, setRejecting] = useState<ReviewItem | null>(null);
  const [last, setLast] = useState<LastDecision | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const cards = useRef(new Map<string, HTMLElement>());

  const load = async (wanted: string | null, previousIndex: number) => {
    const [demonstrations, dialogues] = await Promise.all([
      api<{ results: QueuedDemonstration[] }>("GET", `/api/projects/${projectId}/demonstrations/?review_status=pending`),
      api<{ results: QueuedDialogue[] }>("GET", `/api/projects/${projectId}/dialogues/?review_status=pending`),
    ]);
    const next = reviewQueue(demonstrations.results, dialogues.results);
    setQueue(next);
    setSelected(selectionAfterReload(next, wanted, previousIndex));
  };

  useEffect(() => {
    setQueue(null);
    setLast(null);
    load(null, 0).catch((e) => setError(errorText(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [projectId]);

  const current = queue && selected >= 0 ? queue[selected] : null;
  useEffect(() => {
    if (current) cards.current.get(current.key)?.scrollIntoView?.({ block: "nearest" });
  }, [current]);

  const decide = async (q: ReviewItem, decision: "accept" | "reject", comment = "") => {
    if (busy) return;
    setBusy(true);
    setError("");
    try {
      const review = await api<Schemas["Review"]>("POST", reviewPath(q), { decision, comment });
      const what = describeItem(q);
      setRejecting(null);
      // Announced once the queue has reloaded (in the same render as `busy` clears), so the undo it offers works
      // at once.
      await load(q.key, queue?.indexOf(q) ?? selected).catch((e) => setError(errorText(e)));
      setLast({ key: q.key, reviewId: review.id, decision, what });
      setAnnouncement(`${decision === "accept" ? "Accepted" : "Rejected"} ${what}.`);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const undo = async () => {
    if (!last || busy) return;
    setBusy(true);
    setError("");
    try {
      await api<Schemas["ReviewUndone"]>("POST", `/api/reviews/${last.reviewId}/undo/`);
      setLast(null);
      await load(last.key, selected).catch((e) => setError(errorText(e)));
      setAnnouncement(`Undid the ${last.decision === "accept" ? "acceptance" : "rejection"} of ${last.what}; it is pending again.`);
    } catch (e) {
      setError(errorText(e));
      // The server said no (too late, or the work moved on): this decision can no longer be taken back.
      if (e instanceof ApiError && (e.status === 403 || e.status === 404 || e.status === 409)) setLast(null);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (rejecting || typing(e) || e.ctrlKey || e.metaKey || e.altKey || !queue) return;
      const action = reviewKeyAction(e.key);
      if (action == null) return;
      e.preventDefault();
      if (action === "next" || action === "previous") setSelected((i) => stepSelection(i, action === "next" ? 1 : -1, queue.length));
      else if (action === "undo") undo();
      else if (current && action === "accept") decide(current, "accept");
      else if (current && action === "reject") setRejecting(current);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  if (error && !queue) return <pre className="error">{error}</pre>;
  if (!queue) return <p>Loading…</p>;
  const version = (v: number) => (
    <span className="badge guideline-version" data-guideline-version={v} title="The guideline version this was written under">
      guideline v{v}
    </span>
  );
  const demonstrations = queue.filter((q) => q.kind === "demonstration");
  const dialogues = queue.filter((q) => q.kind === "dialogue");

  const card = (q: ReviewItem) => {
    const isSelected = current?.key === q.key;
    return (
      <article
        key={q.key}
        ref={(el) => {
          if (el) cards.current.set(q.key, el);
          else cards.current.delete(q.key);
        }}
        className={"card review-item" + (isSelected ? " selected" : "")}
        aria-current={isSelected ? "true" : undefined}
        aria-label={describeItem(q)}
        data-demonstration={q.kind === "demonstration" ? q.item.id : undefined}
        data-dialogue={q.kind === "dialogue" ? q.item.id : undefined}
        onClick={() => setSelected(queue.indexOf(q))}
      >
        <p className="muted small">
          {version(q.item.guideline_version)} {q.kind === "dialogue" ? "Dialogue" : "Demonstration"} {q.item.id} by{" "}
          <strong className="labeler-name">{q.item.user_name}</strong>
          {q.kind === "dialogue" && ` (${q.item.messages.length} turns, every one written by the labeler)`},{" "}
          {new Date(q.item.created_at).toLocaleString()}
        </p>
        <Conversation messages={q.item.messages} />
        {q.kind === "demonstration" && (
          <div className="turn assistant">
            <div className="role">labeler's answer</div>
            <Markdown text={q.item.text} />
          </div>
        )}
        <div className="actions">
          <button className="primary" disabled={busy} onClick={() => decide(q, "accept")}>
            Accept {isSelected && <Kbd>a</Kbd>}
          </button>
          <button disabled={busy} onClick={() => setRejecting(q)}>
            Reject… {isSelected && <Kbd>r</Kbd>}
          </button>
        </div>
      </article>
    );
  };

  return (
    <div className="review">
      <p className="muted small hints">
        <Kbd>j</Kbd>/<Kbd>k</Kbd> select · <Kbd>a</Kbd> accept · <Kbd>r</Kbd> reject (asks for a comment) · <Kbd>u</Kbd> undo
        your last decision
      </p>
      <div className="review-status" role="status" aria-live="polite">
        {announcement && <span>{announcement}</span>}
        {last && (
          <>
            {" "}
            <button onClick={undo} disabled={busy}>
              Undo <Kbd>u</Kbd>
            </button>
          </>
        )}
      </div>
      {error && <pre className="error">{error}</pre>}
      <h2 className="section-title">Demonstrations</h2>
      {demonstrations.length === 0 && <p>No demonstrations are waiting for review.</p>}
      {demonstrations.map(card)}
      <h2 className="section-title">Dialogues</h2>
      {dialogues.length === 0 && <p>No dialogues are waiting for review.</p>}
      {dialogues.map(card)}
      {rejecting && (
        <ReasonDialog
          label={`Reject ${describeItem(rejecting)}`}
          question={`What is wrong with ${describeItem(rejecting)}? The labeler reads this comment, and the task reopens for another labeler.`}
          confirm="Reject and reopen the task"
          name="comment"
          placeholder="Comment for the labeler"
          onConfirm={(comment) => decide(rejecting, "reject", comment)}
          onCancel={() => setRejecting(null)}
        />
      )}
    </div>
  );
}
