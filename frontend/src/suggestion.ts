// Asking the project's SFT model for a suggestion while writing a demonstration (pure helpers, no React).
// The server samples it on a gpu worker; the client polls until it is done or failed.

import type { Schemas } from "./api";

// The server never says which model wrote a suggestion: labelers do not learn it. (The fields used here.)
export type Suggestion = Pick<Schemas["Suggestion"], "id" | "status" | "text" | "error">;

/** Milliseconds before the next poll: quick at first, then slower, capped at 3 s. */
export function pollDelay(attempt: number): number {
  return Math.min(3000, 500 * 2 ** Math.min(attempt, 3));
}

/** Give up polling after this long (the server fails a pending suggestion after 5 minutes). */
export const POLL_GIVE_UP_MS = 5 * 60 * 1000;

/** The editor's text with `insert` in place of the selection [start, end); the caret lands after it. */
export function insertAt(text: string, start: number, end: number, insert: string): { text: string; caret: number } {
  const a = Math.max(0, Math.min(start, text.length));
  const b = Math.max(a, Math.min(end, text.length));
  return { text: text.slice(0, a) + insert + text.slice(b), caret: a + insert.length };
}

/** What to tell the labeler about a suggestion's state. */
export function suggestionNote(s: Suggestion | null): string {
  if (!s) return "";
  if (s.status === "pending") return "Asking the model for a suggestion…";
  if (s.status === "failed") return `The suggestion failed: ${s.error || "unknown error"}`;
  return s.text ? "Suggestion inserted; edit it into the ideal answer." : "The model suggested nothing.";
}
