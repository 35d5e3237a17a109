// Pieces every task page shares: sending the submission (with the client id for idempotency and the time spent),
// the list of errors the server or the page's own checks gave, and the line saying where the draft is kept.
import { useRef, useState } from "react";
import { uuid } from "./api";
import { Outcome, sendSubmission } from "./pages/Work";

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
