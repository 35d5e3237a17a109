import { describe, expect, it } from "vitest";
import { guidelineChanges, type GuidelineRules } from "./guidelineChanges";

const v1: GuidelineRules = {
  criteria: ["helpful", "harmless"],
  rating_scale: { name: "Overall quality", min: 1, max: 7, labels: { "1": "Terrible", "7": "Excellent" } },
  flags: [
    { key: "hallucination", label: "Hallucination" },
    { key: "rude", label: "Rude" },
  ],
};

describe("guidelineChanges", () => {
  it("is empty for the same rules", () => {
    expect(guidelineChanges(v1, structuredClone(v1))).toEqual([]);
  });

  it("names each added, removed and changed criterion, scale point and flag", () => {
    const v2: GuidelineRules = {
      criteria: ["helpful", "concise"],
      rating_scale: { name: "Quality", min: 1, max: 5, labels: { "1": "Bad", "3": "Fine" } },
      flags: [
        { key: "hallucination", label: "Makes things up", description: "States a false fact" },
        { key: "unsafe", label: "Unsafe" },
      ],
    };
    expect(guidelineChanges(v1, v2)).toEqual([
      { kind: "added", text: "Criterion “concise”" },
      { kind: "removed", text: "Criterion “harmless”" },
      { kind: "changed", text: "Rating scale name: “Overall quality” → “Quality”" },
      { kind: "changed", text: "Rating range: 1–7 → 1–5" },
      { kind: "changed", text: "Rating 1 label: “Terrible” → “Bad”" },
      { kind: "added", text: "Rating 3 label “Fine”" },
      { kind: "removed", text: "Rating 7 label “Excellent”" },
      { kind: "changed", text: "Flag hallucination label: “Hallucination” → “Makes things up”" },
      { kind: "changed", text: "Flag hallucination description: none → “States a false fact”" },
      { kind: "added", text: "Flag unsafe: “Unsafe”" },
      { kind: "removed", text: "Flag rude: “Rude”" },
    ]);
  });
});
