import { describe, expect, it } from "vitest";
import { flagsToText, labelsToText, textToFlags, textToLabels } from "./guidelineForm";

describe("guideline form text", () => {
  it("reads flags with and without label and description, and writes them back", () => {
    const flags = textToFlags("rude | Rude | Insults the user\n\n  spam  \nlong | Too long");
    expect(flags).toEqual([
      { key: "rude", label: "Rude", description: "Insults the user" },
      { key: "spam", label: "spam" },
      { key: "long", label: "Too long" },
    ]);
    expect(flagsToText(flags)).toBe("rude | Rude | Insults the user\nspam | spam\nlong | Too long");
  });

  it("reads and writes scale labels", () => {
    expect(textToLabels("1=Terrible, 7 = Excellent, ")).toEqual({ "1": "Terrible", "7": "Excellent" });
    expect(labelsToText({ "1": "Terrible", "7": "Excellent" })).toBe("1=Terrible, 7=Excellent");
  });
});
