// A dialogue task: the labeler writes a whole conversation, playing the user and the assistant (an optional
// system turn first, then user and assistant alternating, ending with the assistant's). A seeded task starts
// from its prompt's turns. Live preview, a draft kept in the browser and on the server (like the other
// editors), and keyboard-driven: ctrl+Enter in a turn adds the next one, ctrl+shift+Enter submits.
// The shape rules live in ../conversation; the editor in ../ConversationEditor.
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

export function DialogueTask({ assignment, onDone, paused }: Props) {
  const storageKey = `annotate:dialogue:${assignment.id}`;
  const editing = useConversationEditor({
    assignment,
    storageKey,
    paused,
    onDone,
    validate: C.validateDialogue,
    initial: () => C.dialogueInitial(assignment.task.messages),
    openAt: (s) => s.selected,
    onCtrlEnter: (shift, ed) => (shift ? ed.submit() : ed.add(C.continueDialogue(ed.state))),
  });
  const { state, submission, submit } = editing;

  return (
    <div className="prompt-task dialogue-task">
      <p className="muted">
        Write a whole conversation, playing both the user and the assistant: an optional system turn first, then the
        user and the assistant take turns; it ends with the assistant&apos;s answer. Write the assistant as it should
        ideally answer.
      </p>
      <ConversationEditor
        editing={editing}
        label="Your dialogue"
        placeholders={{ user: "What the user says…", assistant: "The assistant's ideal answer…" }}
        previewNote={
          state.turns[state.turns.length - 1].role !== "assistant" && (
            <p className="muted small">End with the assistant&apos;s answer.</p>
          )
        }
      />
      <ErrorList errors={submission.errors} />
      <div className="actions">
        <button className="primary" disabled={submission.busy} onClick={submit}>
          Submit dialogue <Kbd>ctrl</Kbd>+<Kbd>shift</Kbd>+<Kbd>Enter</Kbd>
        </button>
      </div>
      <div className="card keys" aria-label="Shortcuts">
        <h2 className="section-title">Keys</h2>
        <ul>
          <li>
            <Kbd>ctrl</Kbd>+<Kbd>Enter</Kbd> adds the next turn (the other role) and moves there ·{" "}
            <Kbd>ctrl</Kbd>+<Kbd>shift</Kbd>+<Kbd>Enter</Kbd> submits
          </li>
          <TurnKeys
            more={
              <>
                {" "}
                · <Kbd>s</Kbd> skip · <Kbd>g</Kbd> guideline
              </>
            }
          />
        </ul>
      </div>
    </div>
  );
}
