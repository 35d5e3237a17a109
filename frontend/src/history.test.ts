import { describe, expect, it } from "vitest";
import { historyWhen, kindLabel, reviewNote, snippetText } from "./history";

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

describe("what a history row shows", () => {
  it("dates finished work by its end and the lease in hand by its start", () => {
    expect(historyWhen({ status: "submitted", leased_at: "2026-01-01T10:00:00Z", finished_at: "2026-01-01T10:05:00Z" })).toEqual({
      label: "finished",
      iso: "2026-01-01T10:05:00Z",
    });
    expect(historyWhen({ status: "skipped", leased_at: "2026-01-01T10:00:00Z", finished_at: "2026-01-01T10:01:00Z" }).label).toBe(
      "skipped",
    );
    expect(historyWhen({ status: "active", leased_at: "2026-01-01T10:00:00Z", finished_at: null })).toEqual({
      label: "started",
      iso: "2026-01-01T10:00:00Z",
    });
  });

  it("names the kind in words and keeps an unknown kind as sent", () => {
    expect(kindLabel("prompt")).toBe("Prompt writing");
    expect(kindLabel("something-new")).toBe("something-new");
  });

  it("says why there is no snippet rather than leaving the cell blank", () => {
    expect(snippetText({ snippet: "Plan a day in Lisbon.", kind: "demonstration", status: "submitted" })).toBe("Plan a day in Lisbon.");
    expect(snippetText({ snippet: "", kind: "dialogue", status: "active" })).toMatch(/written from scratch/);
  });
});
