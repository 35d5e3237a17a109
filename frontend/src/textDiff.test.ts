import { describe, expect, it } from "vitest";
import { diffMarker, lineDiff } from "./textDiff";

const show = (before: string, after: string) =>
  lineDiff(before, after).map((l) => diffMarker(l.kind) + l.text);

describe("lineDiff", () => {
  it("marks nothing for equal texts", () => {
    expect(show("a\nb", "a\nb")).toEqual([" a", " b"]);
    expect(lineDiff("", "")).toEqual([]);
  });

  it("finds a changed line between kept ones", () => {
    expect(show("# Title\nRank by help.\nBe kind.", "# Title\nRank by honesty.\nBe kind.")).toEqual([
      " # Title",
      "-Rank by help.",
      "+Rank by honesty.",
      " Be kind.",
    ]);
  });

  it("keeps the longest common run of lines when lines move", () => {
    expect(show("a\nb\nc\nd", "b\nc\nx\na")).toEqual(["-a", " b", " c", "-d", "+x", "+a"]);
  });

  it("treats an empty text as no lines, and other line endings as newlines", () => {
    expect(show("", "one\ntwo")).toEqual(["+one", "+two"]);
    expect(show("one\r\ntwo", "")).toEqual(["-one", "-two"]);
    expect(show("one\r\ntwo", "one\ntwo")).toEqual([" one", " two"]);
  });

  it("keeps every line of both sides, in order", () => {
    const before = Array.from({ length: 60 }, (_, i) => `line ${i % 7}`).join("\n");
    const after = Array.from({ length: 50 }, (_, i) => `line ${i % 5}`).join("\n");
    const diff = lineDiff(before, after);
    expect(diff.filter((l) => l.kind !== "added").map((l) => l.text)).toEqual(before.split("\n"));
    expect(diff.filter((l) => l.kind !== "removed").map((l) => l.text)).toEqual(after.split("\n"));
  });

  it("falls back to removed-then-added beyond the size limit, still a correct diff", () => {
    const before = Array.from({ length: 2100 }, (_, i) => `old ${i}`).join("\n");
    const after = Array.from({ length: 2100 }, (_, i) => `new ${i}`).join("\n");
    const diff = lineDiff("same\n" + before, "same\n" + after);
    expect(diff[0]).toEqual({ kind: "same", text: "same" });
    expect(diff.slice(1, 2101).every((l) => l.kind === "removed")).toBe(true);
    expect(diff.slice(2101).every((l) => l.kind === "added")).toBe(true);
  });
});
