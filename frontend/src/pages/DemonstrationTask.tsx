import { useEffect, useRef, useState } from "react";
import { api, Assignment, uuid } from "../api";
import { Markdown } from "../markdown";
import { Conversation, Kbd, Outcome, sendSubmission, typing } from "./Work";

interface DraftPayload {
  text: string;
  savedAt: number; // ms since epoch, from the client that wrote it
}

interface Props {
  assignment: Assignment;
  onDone: (o: Outcome) => void;
  paused: boolean;
  /** Revising past work: the stored text, and where to send the new version. */
  initialText?: string;
  submitPath?: string;
}

const SERVER_SAVE_MS = 800;

export function DemonstrationTask({ assignment, onDone, paused, initialText, submitPath }: Props) {
  const revising = initialText !== undefined;
  const storageKey = `annotate:draft:${assignment.id}${revising ? ":revise" : ""}`;
  const [text, setText] = useState<string>(() => {
    if (revising) return initialText;
    try {
      return (JSON.parse(localStorage.getItem(storageKey) || "null") as DraftPayload | null)?.text ?? "";
    } catch {
      return "";
    }
  });
  const [serverState, setServerState] = useState("");
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const editor = useRef<HTMLTextAreaElement>(null);
  const started = useRef(performance.now());
  const clientId = useRef(uuid());
  const timer = useRef<number | undefined>(undefined);
  const dirty = useRef(false);

  // On open: the server's draft wins when it is newer than this browser's copy (another browser, cleared storage).
  useEffect(() => {
    let cancelled = false;
    if (revising) return;
    api<{ payload: DraftPayload; updated_at: string }>("GET", `/api/assignments/${assignment.id}/draft/`).then(
      (d) => {
        if (cancelled || dirty.current) return;
        const local = JSON.parse(localStorage.getItem(storageKey) || "null") as DraftPayload | null;
        if (d.payload?.text != null && (!local || (d.payload.savedAt ?? 0) > (local.savedAt ?? 0))) {
          setText(d.payload.text);
        }
        setServerState("draft restored from the server");
      },
      () => undefined,
    );
    editor.current?.focus();
    return () => {
      cancelled = true;
    };
  }, [assignment.id, storageKey, revising]);

  const change = (value: string) => {
    dirty.current = true;
    setText(value);
    const payload: DraftPayload = { text: value, savedAt: Date.now() };
    localStorage.setItem(storageKey, JSON.stringify(payload));
    window.clearTimeout(timer.current);
    if (revising) return;
    setServerState("saving…");
    timer.current = window.setTimeout(async () => {
      try {
        await api("PUT", `/api/assignments/${assignment.id}/draft/`, { payload });
        setServerState(`saved to the server at ${new Date().toLocaleTimeString()}`);
      } catch (e) {
        setServerState("not saved to the server (kept in this browser): " + (e instanceof Error ? e.message : e));
      }
    }, SERVER_SAVE_MS);
  };
  useEffect(() => () => window.clearTimeout(timer.current), []);

  const submit = async () => {
    if (busy) return;
    if (!text.trim()) {
      setErrors(["Write the ideal answer first."]);
      return;
    }
    setBusy(true);
    setErrors([]);
    window.clearTimeout(timer.current);
    const result = await sendSubmission(submitPath ?? `/api/assignments/${assignment.id}/submit/`, {
      client_id: clientId.current,
      seconds_spent: Math.round((performance.now() - started.current) / 100) / 10,
      guideline_version: assignment.guideline?.version,
      text,
    }, storageKey);
    setBusy(false);
    if ("outcome" in result) onDone(result.outcome);
    else setErrors(result.errors);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (paused) return;
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        submit();
      } else if (e.key === "Escape" && document.activeElement === editor.current) {
        editor.current?.blur();
      } else if (e.key === "e" && !typing(e) && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        editor.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  return (
    <div className="demonstration">
      <Conversation messages={assignment.task.messages} />
      <div className="editor-grid">
        <div className="card">
          <h3>Your ideal answer (markdown)</h3>
          <textarea
            ref={editor}
            name="demonstration"
            value={text}
            onChange={(e) => change(e.target.value)}
            rows={16}
            placeholder="Write the answer the assistant should have given…"
          />
          <p className="muted small" data-testid="draft-state">
            Draft kept in this browser; {serverState || "not yet saved to the server"}.
          </p>
        </div>
        <div className="card preview">
          <h3>Preview</h3>
          <Markdown text={text} />
        </div>
      </div>
      {errors.length > 0 && (
        <div className="error" role="alert">
          {errors.join(" ")}
        </div>
      )}
      <div className="actions">
        <button className="primary" disabled={busy} onClick={submit}>
          Submit answer <Kbd>ctrl</Kbd>+<Kbd>Enter</Kbd>
        </button>
        <span className="muted">
          <Kbd>Esc</Kbd> leaves the editor, <Kbd>e</Kbd> returns to it · <Kbd>g</Kbd> guideline · <Kbd>s</Kbd> skip
        </span>
      </div>
    </div>
  );
}
