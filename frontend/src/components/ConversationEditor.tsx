// The turn-by-turn conversation editor of the prompt-writing and dialogue pages: the state (../conversation holds
// the shape rules), its draft (./draft), the keyboard (j/k select, e edits, a adds, x removes, t toggles the system
// turn, Esc leaves the editor; ctrl+Enter is the page's), submitting, the editor card with its live preview.
import { ReactNode, useEffect, useRef, useState } from "react";
import { Assignment } from "../api";
import * as C from "../conversation";
import { Draft, readDraft, useDraft } from "../draft";
import { Conversation } from "./Conversation";
import { Kbd } from "./Kbd";
import { onControl, typing } from "./keys";
import { DraftNote, Outcome, Submission, useSubmission } from "./taskParts";

interface DraftPayload {
  turns: C.Turn[];
  selected: number;
  savedAt: number; // ms since epoch, from the client that wrote it
}

const parseDraft = (raw: unknown): DraftPayload | null => (C.fromStored(raw) ? (raw as DraftPayload) : null);

interface Options {
  assignment: Assignment;
  storageKey: string;
  paused: boolean;
  onDone: (o: Outcome) => void;
  /** The problems that keep the turns from being submitted (none: submit). */
  validate: (turns: C.Turn[]) => string[];
  /** The state when this browser has no draft. */
  initial: () => C.PromptState;
  /** The turn whose editor gets the caret on open. */
  openAt: (s: C.PromptState) => number;
  /** ctrl+Enter (shift tells whether shift was held too). */
  onCtrlEnter: (shift: boolean, editing: ConversationEditing) => void;
}

export interface ConversationEditing {
  state: C.PromptState;
  draft: Draft<DraftPayload>;
  editors: React.RefObject<(HTMLTextAreaElement | null)[]>;
  /** Apply an edit; the draft is saved when the turns changed (not for a mere change of selection). */
  update: (f: (s: C.PromptState) => C.PromptState) => void;
  /** Take a state with a new turn and move the caret into it. */
  add: (next: C.PromptState) => void;
  submission: Submission;
  /** Check the turns, then send them as the task's messages. */
  submit: () => Promise<void>;
}

export function useConversationEditor({
  assignment,
  storageKey,
  paused,
  onDone,
  validate,
  initial,
  openAt,
  onCtrlEnter,
}: Options): ConversationEditing {
  const [state, setState] = useState<C.PromptState>(() => C.fromStored(readDraft(storageKey, parseDraft)) ?? initial());
  const [focusTurn, setFocusTurn] = useState<{ index: number } | null>(() => ({ index: openAt(state) }));
  const editors = useRef<(HTMLTextAreaElement | null)[]>([]);
  const submission = useSubmission(storageKey, onDone);
  const draft = useDraft<DraftPayload>({
    assignmentId: assignment.id,
    storageKey,
    parse: parseDraft,
    onRestore: (p) => setState(C.fromStored(p) ?? initial()),
  });

  // Move the caret into a turn when asked (after `a`, `e`, or on open).
  useEffect(() => {
    if (focusTurn && !paused) editors.current[focusTurn.index]?.focus();
  }, [focusTurn, paused]);

  const update = (f: (s: C.PromptState) => C.PromptState) => {
    const next = f(state);
    if (next === state) return;
    setState(next);
    if (next.turns !== state.turns) draft.save({ turns: next.turns, selected: next.selected });
  };

  const add = (next: C.PromptState) => {
    if (next === state) return;
    update(() => next);
    setFocusTurn({ index: next.selected });
  };

  const submit = async () => {
    if (submission.busy) return;
    const problems = validate(state.turns);
    if (problems.length) {
      submission.setErrors(problems);
      return;
    }
    draft.cancel();
    await submission.send(`/api/assignments/${assignment.id}/submit/`, {
      guideline_version: assignment.guideline?.version,
      messages: C.toMessages(state.turns),
    });
  };

  const editing: ConversationEditing = { state, draft, editors, update, add, submission, submit };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (paused) return;
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        onCtrlEnter(e.shiftKey, editing);
        return;
      }
      if (e.key === "Escape" && typing(e)) {
        (e.target as HTMLElement).blur();
        return;
      }
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if ((e.key === "Enter" || e.key === " ") && onControl(e)) return; // the focused button's
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

  return editing;
}

/** The keys list's lines on selecting and editing turns; `more` ends the second line. */
export function TurnKeys({ more }: { more?: ReactNode }) {
  return (
    <>
      <li>
        <Kbd>j</Kbd>/<Kbd>k</Kbd> or <Kbd>↓</Kbd>/<Kbd>↑</Kbd> select a turn · <Kbd>e</Kbd> or <Kbd>Enter</Kbd> edits
        it · <Kbd>Esc</Kbd> leaves the editor
      </li>
      <li>
        <Kbd>a</Kbd> adds a turn after the selected one · <Kbd>x</Kbd> removes the selected turn · <Kbd>t</Kbd> starts
        with a system turn or not{more}
      </li>
    </>
  );
}

interface Props {
  editing: ConversationEditing;
  /** What is written, e.g. "Your prompt": the card's label and (with " (markdown)") its heading. */
  label: string;
  /** Placeholders of the user's and the assistant's turns. */
  placeholders: { user: string; assistant: string };
  /** Under the preview: what the conversation still needs, or what happens next. */
  previewNote: ReactNode;
}

/** The editor card (one textarea a turn, the first turn's role, add and remove) beside the live preview. */
export function ConversationEditor({ editing, label, placeholders, previewNote }: Props) {
  const { state, editors, update, add, draft } = editing;
  const written = state.turns.filter((t) => t.content.trim());
  return (
    <div className="editor-grid">
      <div className="card turns" aria-label={label}>
        <h2 className="section-title">{label} (markdown)</h2>
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
                    ? placeholders.user
                    : placeholders.assistant
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
        <DraftNote serverState={draft.serverState} />
      </div>
      <div className="card preview" aria-label="Preview">
        <h2 className="section-title">Preview</h2>
        {written.length ? <Conversation messages={written} /> : <p className="muted">Nothing written yet.</p>}
        {previewNote}
      </div>
    </div>
  );
}
