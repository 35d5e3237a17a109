// A dialogue task: the labeler writes a whole conversation, playing the user and the assistant (an optional
// system turn first, then user and assistant alternating, ending with the assistant's). A seeded task starts
// from its prompt's turns. Live preview, a draft kept in the browser and on the server (like the other
// editors), and keyboard-driven: ctrl+Enter in a turn adds the next one, ctrl+shift+Enter submits.
// The shape rules live in ../conversation.
import { useEffect, useRef, useState } from "react";
import { api, Assignment, uuid } from "../api";
import * as C from "../conversation";
import { Conversation, Kbd, Outcome, sendSubmission, typing } from "./Work";

interface DraftPayload {
  turns: C.Turn[];
  selected: number;
  savedAt: number; // ms since epoch, from the client that wrote it
}

interface Props {
  assignment: Assignment;
  onDone: (o: Outcome) => void;
  paused: boolean;
}

const SERVER_SAVE_MS = 800;

function readLocal(key: string): DraftPayload | null {
  try {
    const parsed = JSON.parse(localStorage.getItem(key) || "null");
    return C.fromStored(parsed) ? (parsed as DraftPayload) : null;
  } catch {
    return null;
  }
}

export function DialogueTask({ assignment, onDone, paused }: Props) {
  const storageKey = `annotate:dialogue:${assignment.id}`;
  const [state, setState] = useState<C.PromptState>(
    () => C.fromStored(readLocal(storageKey)) ?? C.dialogueInitial(assignment.task.messages),
  );
  const [serverState, setServerState] = useState("");
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [focusTurn, setFocusTurn] = useState<{ index: number } | null>({ index: state.selected });
  const editors = useRef<(HTMLTextAreaElement | null)[]>([]);
  const started = useRef(performance.now());
  const clientId = useRef(uuid());
  const timer = useRef<number | undefined>(undefined);
  const dirty = useRef(false);

  // On open: the server's draft wins when it is newer than this browser's copy (another browser, cleared storage).
  useEffect(() => {
    let cancelled = false;
    api<{ payload: DraftPayload; updated_at: string }>("GET", `/api/assignments/${assignment.id}/draft/`).then(
      (d) => {
        if (cancelled || dirty.current) return;
        const local = readLocal(storageKey);
        const fromServer = C.fromStored(d.payload);
        if (fromServer && (!local || (d.payload.savedAt ?? 0) > (local.savedAt ?? 0))) setState(fromServer);
        setServerState("draft restored from the server");
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [assignment.id, storageKey]);

  useEffect(() => {
    if (focusTurn && !paused) editors.current[focusTurn.index]?.focus();
  }, [focusTurn, paused]);

  const save = (next: C.PromptState) => {
    dirty.current = true;
    const payload: DraftPayload = { turns: next.turns, selected: next.selected, savedAt: Date.now() };
    localStorage.setItem(storageKey, JSON.stringify(payload));
    window.clearTimeout(timer.current);
    setServerState("saving to the server");
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

  const update = (f: (s: C.PromptState) => C.PromptState) => {
    const next = f(state);
    if (next === state) return;
    setState(next);
    if (next.turns !== state.turns) save(next);
  };

  const add = (next: C.PromptState) => {
    if (next === state) return;
    update(() => next);
    setFocusTurn({ index: next.selected });
  };

  const submit = async () => {
    if (busy) return;
    const problems = C.validateDialogue(state.turns);
    if (problems.length) {
      setErrors(problems);
      return;
    }
    setBusy(true);
    setErrors([]);
    window.clearTimeout(timer.current);
    const result = await sendSubmission(
      `/api/assignments/${assignment.id}/submit/`,
      {
        client_id: clientId.current,
        seconds_spent: Math.round((performance.now() - started.current) / 100) / 10,
        guideline_version: assignment.guideline?.version,
        messages: C.toMessages(state.turns),
      },
      storageKey,
    );
    setBusy(false);
    if ("outcome" in result) onDone(result.outcome);
    else setErrors(result.errors);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (paused) return;
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (e.shiftKey) submit();
        else add(C.continueDialogue(state));
        return;
      }
      if (e.key === "Escape" && typing(e)) {
        (e.target as HTMLElement).blur();
        return;
      }
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "j" || e.key === "ArrowDown") {
        e.preventDefault();
        update((s) => C.moveSelection(s, 1));
      } else if (e.key === "k" || e.key === "ArrowUp") {
        e.preventDefault();
        update((s) => C.moveSelection(s, -1));
      } else if (e.key === "e" || e.key === "Enter") {
        e.preventDefault();
        setFocusTurn({ index: state.selected });
      } else if (e.key === "a") {
        e.preventDefault();
        add(C.addTurn(state, state.selected));
      } else if (e.key === "x" || e.key === "Delete") {
        e.preventDefault();
        update((s) => C.removeTurn(s, s.selected));
      } else if (e.key === "t") {
        e.preventDefault();
        update(C.toggleSystem);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const written = state.turns.filter((t) => t.content.trim());
  const last = state.turns[state.turns.length - 1];
  return (
    <div className="prompt-task dialogue-task">
      <p className="muted">
        Write a whole conversation, playing both the user and the assistant: an optional system turn first, then the
        user and the assistant take turns; it ends with the assistant&apos;s answer. Write the assistant as it should
        ideally answer.
      </p>
      <div className="editor-grid">
        <div className="card turns" aria-label="Your dialogue">
          <h3>Your dialogue (markdown)</h3>
          {state.turns.map((t, i) => (
            <div
              key={i}
              data-turn={i}
              className={"turn-editor turn " + t.role + (i === state.selected ? " selected" : "")}
              onClick={() => update((s) => C.select(s, i))}
            >
              <div className="turn-editor-head">
                <span className="turn-n">{i + 1}</span>
                {i === 0 ? (
                  <select
                    name="role-0"
                    aria-label="Role of the first turn"
                    value={t.role}
                    onChange={(e) => update((s) => C.setRole(s, 0, e.target.value as C.Role))}
                  >
                    <option value="system">system</option>
                    <option value="user">user</option>
                  </select>
                ) : (
                  <span className="role" data-role={t.role}>
                    {t.role}
                  </span>
                )}
                <button
                  type="button"
                  className="link"
                  onClick={(e) => {
                    e.stopPropagation();
                    update((s) => C.removeTurn(s, i));
                  }}
                >
                  remove
                </button>
              </div>
              <textarea
                ref={(el) => {
                  editors.current[i] = el;
                }}
                name={`turn-${i}`}
                aria-label={`Turn ${i + 1}, ${t.role}`}
                value={t.content}
                rows={t.role === "system" ? 3 : 5}
                onFocus={() => state.selected !== i && update((s) => C.select(s, i))}
                onChange={(e) => update((s) => C.setContent(s, i, e.target.value))}
                placeholder={
                  t.role === "system"
                    ? "Instructions for the assistant (optional turn)…"
                    : t.role === "user"
                      ? "What the user says…"
                      : "The assistant's ideal answer…"
                }
              />
            </div>
          ))}
          <button
            type="button"
            onClick={() => add(C.addTurn(state, state.selected))}
            disabled={state.turns.length >= C.MAX_MESSAGES}
          >
            Add a {C.roleAfter(state.turns[state.selected]?.role)} turn after turn {state.selected + 1} <Kbd>a</Kbd>
          </button>
          <p className="muted small" data-testid="draft-state">
            Draft kept in this browser; {serverState || "not yet saved to the server"}.
          </p>
        </div>
        <div className="card preview" aria-label="Preview">
          <h3>Preview</h3>
          {written.length ? <Conversation messages={written} /> : <p className="muted">Nothing written yet.</p>}
          {last.role !== "assistant" && <p className="muted small">End with the assistant&apos;s answer.</p>}
        </div>
      </div>
      {errors.length > 0 && (
        <div className="error" role="alert">
          <ul>
            {errors.map((m, i) => (
              <li key={i}>{m}</li>
            ))}
          </ul>
        </div>
      )}
      <div className="actions">
        <button className="primary" disabled={busy} onClick={submit}>
          Submit dialogue <Kbd>ctrl</Kbd>+<Kbd>shift</Kbd>+<Kbd>Enter</Kbd>
        </button>
      </div>
      <div className="card keys" aria-label="Shortcuts">
        <h3>Keys</h3>
        <ul>
          <li>
            <Kbd>ctrl</Kbd>+<Kbd>Enter</Kbd> adds the next turn (the other role) and moves there ·{" "}
            <Kbd>ctrl</Kbd>+<Kbd>shift</Kbd>+<Kbd>Enter</Kbd> submits
          </li>
          <li>
            <Kbd>j</Kbd>/<Kbd>k</Kbd> or <Kbd>↓</Kbd>/<Kbd>↑</Kbd> select a turn · <Kbd>e</Kbd> or <Kbd>Enter</Kbd>{" "}
            edits it · <Kbd>Esc</Kbd> leaves the editor
          </li>
          <li>
            <Kbd>a</Kbd> adds a turn after the selected one · <Kbd>x</Kbd> removes the selected turn · <Kbd>t</Kbd>{" "}
            starts with a system turn or not · <Kbd>s</Kbd> skip · <Kbd>g</Kbd> guideline
          </li>
        </ul>
      </div>
    </div>
  );
}
