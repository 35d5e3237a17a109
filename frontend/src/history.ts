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
