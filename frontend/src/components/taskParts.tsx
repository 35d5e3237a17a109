// Pieces every task page shares: sending the submission (with the client id for idempotency and the time spent),
// the list of errors the server or the page's own checks gave, and the line saying where the draft is kept.
import { useRef, useState } from "react";
import { api, ApiError, uuid } from "../api";

export type Outcome = { kind: "submitted" } | { kind: "lost"; message: string };

export interface Submission {
  busy: boolean;
  errors: string[];
  setErrors: (errors: string[]) => void;
  /** POST `fields` (plus client_id and seconds_spent) to `path`; on success the local draft is dropped. */
  send: (path: string, fields: object) => Promise<void>;
}

export function useSubmission(storageKey: string, onDone: (o: Outcome) => void): Submission {
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const started = useRef(performance.now());
  const clientId = useRef(uuid());
  const send = async (path: string, fields: object) => {
    setBusy(true);
    setErrors([]);
    const body = {
      client_id: clientId.current,
      seconds_spent: Math.round((performance.now() - started.current) / 100) / 10,
      ...fields,
    };
    const result = await sendSubmission(path, body, storageKey);
    setBusy(false);
    if ("outcome" in result) onDone(result.outcome);
    else setErrors(result.errors);
  };
  return { busy, errors, setErrors, send };
}

/** The errors as a list in an alert (nothing when there are none). */
export function ErrorList({ errors }: { errors: string[] }) {
  if (!errors.length) return null;
  return (
    <div className="error" role="alert">
      <ul>
        {errors.map((m, i) => (
          <li key={i}>{m}</li>
        ))}
      </ul>
    </div>
  );
}

/** Where the draft stands: always in this browser, and `serverState` says how far the server copy got. */
export function DraftNote({ serverState }: { serverState: string }) {
  return (
    <p className="muted small" data-testid="draft-state">
      Draft kept in this browser; {serverState || "not yet saved to the server"}.
    </p>
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
