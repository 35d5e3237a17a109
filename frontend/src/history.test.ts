import { describe, expect, it } from "vitest";
import { reviewNote } from "./history";

const review = (decision: "accept" | "reject", comment: string) => ({
  decision,
  comment,
  reviewed_at: "2026-01-01T12:00:00Z",
});

describe("the review note of a history row", () => {
  it("is absent for work that is never reviewed (rankings, prompts, skipped)", () => {
    expect(reviewNote({ review_status: null, review: null })).toBeNull();
  });

  it("shows the comment of a rejection, as given", () => {
    const note = reviewNote({ review_status: "rejected", review: review("reject", "<b>Too short</b>") });
    expect(note).toEqual({ label: "Rejected", tone: "rejected", comment: "<b>Too short</b>" });
  });

  it("hides an old rejection's comment once the work is revised (pending) or accepted", () => {
    expect(reviewNote({ review_status: "pending", review: review("reject", "Too short") })).toEqual({
      label: "Pending review",
      tone: "pending",
      comment: null,
    });
    expect(reviewNote({ review_status: "accepted", review: review("accept", "") })?.comment).toBeNull();
  });
});
