// A modal dialog: focus moves in when it opens, Tab and shift+Tab stay inside, Esc closes it, and focus goes
// back to where it was (the answer, the button) when it closes.
import { ReactNode, useEffect, useRef, useState } from "react";
import { trapTarget } from "./focus";

const FOCUSABLE =
  'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

interface Props {
  label: string;
  onClose: () => void;
  className?: string;
  children: ReactNode;
}

export function Dialog({ label, onClose, className, children }: Props) {
  const box = useRef<HTMLDivElement>(null);
  // Read during the first render, before anything inside can take focus.
  const [opener] = useState(() => document.activeElement as HTMLElement | null);
  useEffect(() => {
    const first = box.current?.querySelector<HTMLElement>(FOCUSABLE);
    (first ?? box.current)?.focus();
    return () => {
      if (opener && opener !== document.body && opener.isConnected) opener.focus({ preventScroll: true });
    };
  }, [opener]);

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClose();
      return;
    }
    if (e.key !== "Tab" || !box.current) return;
    const items = [...box.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const next = trapTarget(items.indexOf(document.activeElement as HTMLElement), items.length, e.shiftKey);
    e.preventDefault();
    e.stopPropagation();
    if (next != null) items[next].focus();
  };

  return (
    <div
      ref={box}
      className={"dialog" + (className ? " " + className : "")}
      role="dialog"
      aria-modal="true"
      aria-label={label}
      tabIndex={-1}
      onKeyDown={onKeyDown}
    >
      {children}
    </div>
  );
}

/** A dialog that asks for a reason (skipping a task, marking it cannot be ranked), with its two buttons. */
export function ReasonDialog(props: {
  label: string;
  question: string;
  confirm: string;
  name: string;
  placeholder?: string;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}) {
  const [reason, setReason] = useState("");
  const ready = reason.trim().length > 0;
  return (
    <Dialog label={props.label} onClose={props.onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (ready) props.onConfirm(reason.trim());
        }}
      >
        <label>
          {props.question}
          <input
            name={props.name}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            placeholder={props.placeholder}
          />
        </label>
        <div className="dialog-actions">
          <button type="submit" className="primary" disabled={!ready}>
            {props.confirm} <kbd>Enter</kbd>
          </button>
          <button type="button" onClick={props.onCancel}>
            Cancel <kbd>Esc</kbd>
          </button>
        </div>
      </form>
    </Dialog>
  );
}
