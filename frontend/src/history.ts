// What a row of the labeler's history says about the review of their work.

export interface ReviewOutcome {
  decision: "accept" | "reject";
  comment: string;
  reviewed_at: string;
}

export interface HistoryRow {
  id: number;
  status: string;
  kind: string;
  project_id: number;
  task_id: number;
  leased_at: string;
  finished_at: string | null;
  review_status: "pending" | "accepted" | "rejected" | null;
  review: ReviewOutcome | null;
  can_revise: boolean;
}

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
