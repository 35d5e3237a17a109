import { describe, expect, it } from "vitest";
import { insertAt, pollDelay, suggestionNote } from "./suggestion";

describe("suggestion helpers", () => {
  it("inserts at the caret or in place of the selection and puts the caret after it", () => {
    expect(insertAt("", 0, 0, "Hello.")).toEqual({ text: "Hello.", caret: 6 });
    expect(insertAt("ab", 1, 1, "X")).toEqual({ text: "aXb", caret: 2 });
    expect(insertAt("abcd", 1, 3, "X")).toEqual({ text: "aXd", caret: 2 });
    expect(insertAt("ab", 10, 12, "X")).toEqual({ text: "abX", caret: 3 }); // out of range: clamped to the end
  });

  it("polls quickly first, then at most every 3 s", () => {
    expect([0, 1, 2, 3, 4, 10].map(pollDelay)).toEqual([500, 1000, 2000, 3000, 3000, 3000]);
  });

  it("says what state a suggestion is in", () => {
    const base = { id: 1, text: "", error: "" };
    expect(suggestionNote(null)).toBe("");
    expect(suggestionNote({ ...base, status: "pending" })).toContain("Asking the model");
    expect(suggestionNote({ ...base, status: "failed", error: "OSError: no model" })).toContain("OSError: no model");
    expect(suggestionNote({ ...base, status: "done", text: "Hi" })).toContain("inserted");
    expect(suggestionNote({ ...base, status: "done" })).toContain("suggested nothing");
  });
});
