import { describe, expect, it } from "vitest";
import { agreementEmptyState } from "./agreement";

describe("agreement empty state", () => {
  it("says nothing once some task has several labelers", () => {
    expect(agreementEmptyState({ tasks_with_several_labelers: 3, gold_rankings: 0 }, 1)).toBeNull();
  });

  it("says that one labeler per task can never give agreement, and what to do", () => {
    const s = agreementEmptyState({ tasks_with_several_labelers: 0, gold_rankings: 0 }, 1)!;
    expect(s.reason).toContain("redundancy 1");
    expect(s.reason).toContain("can never be measured");
    expect(s.advice[0]).toContain("Raise Redundancy to 2 or more");
    expect(s.advice[1]).toContain("gold tasks");
  });

  it("with redundancy above 1, says agreement is only waiting for a second labeler", () => {
    const s = agreementEmptyState({ tasks_with_several_labelers: 0, gold_rankings: 0 }, 3)!;
    expect(s.reason).toContain("Each task goes to 3 labelers");
    expect(s.reason).not.toContain("never");
  });

  it("points at gold accuracy when gold rankings exist", () => {
    const s = agreementEmptyState({ tasks_with_several_labelers: 0, gold_rankings: 5 }, 1)!;
    expect(s.advice[1]).toBe("Gold accuracy already compares 5 ranking(s) with the expected order.");
  });

  it("still explains when the project's redundancy is unknown", () => {
    const s = agreementEmptyState({ tasks_with_several_labelers: 0, gold_rankings: 0 }, null)!;
    expect(s.reason).toContain("several labelers");
  });
});
