// The review queue as one list a reviewer walks with the keyboard: the pending demonstrations, then the pending
// dialogues; which key does what; and which item stays selected when the queue reloads. No React, no DOM.

import type { Schemas } from "./api";

export type QueuedDemonstration = Schemas["DemonstrationForReview"];
export type QueuedDialogue = Schemas["DialogueForReview"];
export type ReviewKind = "demonstration" | "dialogue";

export type ReviewItem =
  | { kind: "demonstration"; key: string; item: QueuedDemonstration }
  | { kind: "dialogue"; key: string; item: QueuedDialogue };

export function reviewQueue(demonstrations: QueuedDemonstration[], dialogues: QueuedDialogue[]): ReviewItem[] {
  return [
    ...demonstrations.map((item): ReviewItem => ({ kind: "demonstration", key: `demonstration:${item.id}`, item })),
    ...dialogues.map((item): ReviewItem => ({ kind: "dialogue", key: `dialogue:${item.id}`, item })),
  ];
}

export type ReviewAction = "accept" | "reject" | "next" | "previous" | "undo";

/** The page's single-key shortcuts (j/k as in the ranking workspace); null for any other key. */
export function reviewKeyAction(key: string): ReviewAction | null {
  switch (key) {
    case "a":
      return "accept";
    case "r":
      return "reject";
    case "j":
    case "ArrowDown":
      return "next";
    case "k":
    case "ArrowUp":
      return "previous";
    case "u":
      return "undo";
    default:
      return null;
  }
}

/** The index `delta` steps from `index`, kept inside the queue; -1 for an empty queue. */
export function stepSelection(index: number, delta: number, length: number): number {
  if (length === 0) return -1;
  return Math.min(length - 1, Math.max(0, index + delta));
}

/** After a reload: the item that was selected if it is still queued (an undone one is back), else whatever now
 * stands where it stood (the next item, after a decision took it out of the queue). */
export function selectionAfterReload(queue: ReviewItem[], wanted: string | null, previousIndex: number): number {
  const found = wanted == null ? -1 : queue.findIndex((q) => q.key === wanted);
  if (found >= 0) return found;
  return stepSelection(previousIndex, 0, queue.length);
}

/** The decision a reviewer may still take back: which item, what was decided, and the review to undo. */
export interface LastDecision {
  key: string;
  reviewId: number;
  decision: "accept" | "reject";
  what: string;
}

/** "Demonstration 12 by Alice Liddell": how the page and its announcements name an item. */
export function describeItem(q: ReviewItem): string {
  return `${q.kind === "dialogue" ? "Dialogue" : "Demonstration"} ${q.item.id} by ${q.item.user_name}`;
}

/** The review endpoint of an item. */
export function reviewPath(q: Pick<ReviewItem, "kind" | "item">): string {
  return q.kind === "dialogue" ? `/api/dialogues/${q.item.id}/review/` : `/api/demonstrations/${q.item.id}/review/`;
}
