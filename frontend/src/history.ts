// What a row of the labeler's history says about the review of their work.

import type { Schemas } from "./api";

export type ReviewOutcome = Schemas["ReviewOutcome"];
/** A row of GET /api/assignments/. */
export type HistoryRow = Schemas["AssignmentHistory"];

export interface ReviewNote {
  label: string;
  tone: "pending" | "accepted" | "rejected";
  // The reviewer's comment, shown (as plain text) only while the work stands rejected.
  comment: string | null;
}

const LABELS = { pending: "Pending review", accepted: "Accepted", rejected: "Rejected" } as const;

export function reviewNote(row: Pick<HistoryRow, "review_status" | "review">): ReviewNote | null {
  const status = row.review_status;
  if (!status) return null;
  const comment = status === "rejected" && row.review?.comment ? row.review.comment : null;
  return { label: LABELS[status], tone: status, comment };
}

/** When a row happened, for its "When" column: the end of finished work, the start of the lease in hand. */
export function historyWhen(row: Pick<HistoryRow, "status" | "leased_at" | "finished_at">): {
  label: string;
  iso: string;
} {
  if (row.finished_at) return { label: row.status === "skipped" ? "skipped" : "finished", iso: row.finished_at };
  return { label: row.status === "active" ? "started" : "leased", iso: row.leased_at };
}

const KIND_LABELS: Record<string, string> = {
  ranking: "Ranking",
  demonstration: "Demonstration",
  prompt: "Prompt writing",
  dialogue: "Dialogue",
};

/** The task kind as a row names it ("Ranking"); an unknown kind as the server spells it. */
export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind;
}

/** What the Task column says when the server has no snippet (a prompt or dialogue not written yet). */
export function snippetText(row: Pick<HistoryRow, "snippet" | "kind" | "status">): string {
  if (row.snippet) return row.snippet;
  return row.kind === "prompt" || row.kind === "dialogue" ? "(written from scratch; nothing kept yet)" : "(no text)";
}
