// Which key events the workspace's single-key shortcuts may act on. No React, no DOM beyond the event target.

/** Minimal view of an event target, so the rules can be tested without a DOM. */
export interface KeyTarget {
  tagName: string;
  isContentEditable?: boolean;
  getAttribute?: (name: string) => string | null;
}

/** True when the key event comes from a text field (so single-letter shortcuts must not fire). */
export function typing(e: { target: EventTarget | null }): boolean {
  const t = e.target as KeyTarget | null;
  return !!t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || !!t.isContentEditable);
}

/** True when Enter or Space on this target belongs to the focused control (a button or a link activates it), so a
 * page-wide shortcut on the same key (Enter submits) must leave it alone. */
export function onControl(e: { target: EventTarget | null }): boolean {
  const t = e.target as KeyTarget | null;
  if (!t) return false;
  return t.tagName === "BUTTON" || t.tagName === "A" || t.tagName === "SUMMARY";
}
