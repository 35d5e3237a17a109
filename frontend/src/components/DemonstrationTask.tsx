import { useEffect, useRef, useState } from "react";
import { api, ApiError, Assignment } from "../api";
import { readDraft, useDraft } from "../draft";
import { Markdown } from "../markdown";
import { insertAt, pollDelay, POLL_GIVE_UP_MS, Suggestion, suggestionNote } from "../suggestion";
import { Conversation } from "./Conversation";
import { Kbd } from "./Kbd";
import { typing } from "./keys";
import { DraftNote, Outcome, useSubmission } from "./taskParts";

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

const parseDraft = (raw: unknown): DraftPayload | null =>
  raw && typeof (raw as DraftPayload).text === "string" ? (raw as DraftPayload) : null;

export function DemonstrationTask({ assignment, onDone, paused, initialText, submitPath }: Props) {
  const revising = initialText !== undefined;
  const storageKey = `annotate:draft:${assignment.id}${revising ? ":revise" : ""}`;
  const [text, setText] = useState<string>(() =>
    revising ? initialText : (readDraft(storageKey, parseDraft)?.text ?? ""),
  );
  // Revising keeps its draft in this browser only: the server's draft belongs to the open assignment.
  const draft = useDraft<DraftPayload>({
    assignmentId: assignment.id,
    storageKey,
    parse: parseDraft,
    onRestore: (p) => setText(p.text),
    serverSync: !revising,
    savingLabel: "saving…",
  });
  const { busy, errors, setErrors, send } = useSubmission(storageKey, onDone);
  const editor = useRef<HTMLTextAreaElement>(null);
  // The model suggestion asked for (ctrl+.); the server measures the edit distance from its own copy of it.
  const [suggestion, setSuggestion] = useState<Suggestion | null>(null);
  const [suggestError, setSuggestError] = useState("");
  const asking = useRef(false);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  useEffect(() => {
    editor.current?.focus();
  }, [assignment.id, storageKey, revising]);

  const change = (value: string) => {
    setText(value);
    draft.save({ text: value });
  };

  const latest = useRef(text); // the text as it is when a suggestion arrives, not when it was asked for
  latest.current = text;
  const suggest = async () => {
    if (asking.current || revising) return;
    asking.current = true;
    setSuggestError("");
    const path = `/api/assignments/${assignment.id}/suggestion/`;
    try {
      let s = await api<Suggestion>("POST", path);
      setSuggestion(s);
      const giveUp = Date.now() + POLL_GIVE_UP_MS;
      for (let attempt = 0; s.status === "pending" && alive.current; attempt++) {
        if (Date.now() > giveUp) throw new Error("no answer from the model yet; try again later");
        await new Promise((r) => window.setTimeout(r, pollDelay(attempt)));
        s = await api<Suggestion>("GET", `${path}?id=${s.id}`);
      }
      if (!alive.current) return;
      setSuggestion(s);
      if (s.status === "done") {
        const el = editor.current;
        const now = latest.current;
        const at = insertAt(now, el?.selectionStart ?? now.length, el?.selectionEnd ?? now.length, s.text);
        change(at.text);
        window.setTimeout(() => {
          el?.focus();
          el?.setSelectionRange(at.caret, at.caret);
        }, 0);
      }
    } catch (e) {
      if (alive.current) setSuggestError(e instanceof ApiError || e instanceof Error ? e.message : String(e));
    } finally {
      asking.current = false;
    }
  };

  const submit = async () => {
    if (busy) return;
    if (!text.trim()) {
      setErrors(["Write the ideal answer first."]);
      return;
    }
    draft.cancel();
    await send(submitPath ?? `/api/assignments/${assignment.id}/submit/`, {
      guideline_version: assignment.guideline?.version,
      text,
      ...(suggestion?.status === "done" ? { suggestion_id: suggestion.id } : {}),
    });
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (paused) return;
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        submit();
      } else if (e.key === "." && (e.ctrlKey || e.metaKey) && !revising) {
        e.preventDefault();
        suggest();
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
          <h2 className="section-title">Your ideal answer (markdown)</h2>
          <textarea
            ref={editor}
            name="demonstration"
            value={text}
            onChange={(e) => change(e.target.value)}
            rows={16}
            placeholder="Write the answer the assistant should have given…"
          />
          <DraftNote serverState={draft.serverState} />
        </div>
        <div className="card preview">
          <h2 className="section-title">Preview</h2>
          <Markdown text={text} />
        </div>
      </div>
      {(suggestion || suggestError) && (
        <p className={suggestError || suggestion?.status === "failed" ? "error" : "muted"} role="status" data-testid="suggestion-state">
          {suggestError ? `No suggestion: ${suggestError}` : suggestionNote(suggestion)}
        </p>
      )}
      {errors.length > 0 && (
        <div className="error" role="alert">
          {errors.join(" ")}
        </div>
      )}
      <div className="actions">
        <button className="primary" disabled={busy} onClick={submit}>
          Submit answer <Kbd>ctrl</Kbd>+<Kbd>Enter</Kbd>
        </button>
        {!revising && (
          <button type="button" disabled={suggestion?.status === "pending" && !suggestError} onClick={suggest}>
            {suggestion?.status === "pending" && !suggestError ? "Suggesting…" : "Suggest"} <Kbd>ctrl</Kbd>+<Kbd>.</Kbd>
          </button>
        )}
        <span className="muted">
          <Kbd>Esc</Kbd> leaves the editor, <Kbd>e</Kbd> returns to it · <Kbd>g</Kbd> guideline · <Kbd>s</Kbd> skip
        </span>
      </div>
    </div>
  );
}
