// A prompt-writing task: the labeler writes a new prompt as a conversation (an optional system turn, then
// alternating user/assistant turns, ending with the user's), with a live preview, a draft kept in the browser
// and on the server (like the demonstration editor), and submit. The shape rules live in ../conversation; the
// editor in ../ConversationEditor.
import { Assignment } from "../api";
import * as C from "../conversation";
import { ConversationEditor, TurnKeys, useConversationEditor } from "./ConversationEditor";
import { Kbd } from "./Kbd";
import { ErrorList, Outcome } from "./taskParts";

interface Props {
  assignment: Assignment;
  onDone: (o: Outcome) => void;
  paused: boolean;
}

export function PromptTask({ assignment, onDone, paused }: Props) {
  const storageKey = `annotate:prompt:${assignment.id}`;
  const editing = useConversationEditor({
    assignment,
    storageKey,
    paused,
    onDone,
    validate: C.validate,
    initial: C.initialState,
    openAt: () => 0,
    onCtrlEnter: (_shift, ed) => ed.submit(),
  });
  const { state, submission, submit } = editing;

  return (
    <div className="prompt-task">
      <p className="muted">
        Write a new prompt for the assistant: a conversation that ends with the user's turn. An optional system turn
        comes first; then user and assistant alternate.
      </p>
      <ConversationEditor
        editing={editing}
        label="Your prompt"
        placeholders={{
          user: "What the user asks…",
          assistant: "What the assistant answered earlier in the conversation…",
        }}
        previewNote={
          state.turns[state.turns.length - 1].role === "user" ? (
            <p className="muted small">The assistant answers next; your prompt becomes a demonstration task.</p>
          ) : (
            <p className="muted small">End with a user turn: the assistant answers next.</p>
          )
        }
      />
      <ErrorList errors={submission.errors} />
      <div className="actions">
        <button className="primary" disabled={submission.busy} onClick={submit}>
          Submit prompt <Kbd>ctrl</Kbd>+<Kbd>Enter</Kbd>
        </button>
      </div>
      <div className="card keys" aria-label="Shortcuts">
        <h2 className="section-title">Keys</h2>
        <ul>
          <TurnKeys />
          <li>
            <Kbd>ctrl</Kbd>+<Kbd>Enter</Kbd> submit · <Kbd>s</Kbd> skip · <Kbd>g</Kbd> guideline
          </li>
        </ul>
      </div>
    </div>
  );
}
