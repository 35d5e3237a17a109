import { describe, expect, it } from "vitest";
import { errorView, exampleHref, importErrorView, importExamples } from "./importHelp";

describe("import examples", () => {
  it("has one example per accepted format, each valid JSON per line (or CSV)", () => {
    const examples = importExamples(4);
    expect(examples.map((e) => e.id)).toEqual(["prompts-jsonl", "prompts-csv", "ranking-jsonl", "hh", "trl", "oasst"]);
    for (const e of examples.filter((x) => x.filename.endsWith(".jsonl"))) {
      const lines = e.text.trimEnd().split("\n");
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    }
    expect(examples[1].text.split("\n")[0]).toBe("external_id,prompt,system,priority");
  });

  it("gives ranking items exactly the project's K answers", () => {
    for (const k of [4, 7]) {
      const ranking = importExamples(k).find((e) => e.id === "ranking-jsonl")!;
      for (const line of ranking.text.trimEnd().split("\n")) expect(JSON.parse(line).answers).toHaveLength(k);
      expect(ranking.title).toContain(`exactly ${k} answers`);
    }
  });

  it("downloads as a data URL that decodes back to the text", () => {
    const e = { mime: "text/csv", text: 'a,b\n"x, y",z\n' };
    const href = exampleHref(e);
    expect(href.startsWith("data:text/csv;charset=utf-8,")).toBe(true);
    expect(decodeURIComponent(href.slice(href.indexOf(",") + 1))).toBe(e.text);
  });
});

describe("import error lines", () => {
  it("does not say 'nothing was imported' twice", () => {
    const v = importErrorView("The file has 1 error(s); nothing was imported", [
      { line: 2, field: "answers", message: "must have exactly 4 answers" },
    ]);
    expect(v.summary).toBe("The file has 1 error(s); nothing was imported");
    expect(v.rows).toHaveLength(1);
  });

  it("adds 'Nothing was imported.' once when the detail does not say it", () => {
    expect(importErrorView("The file is empty.", []).summary).toBe("The file is empty. Nothing was imported.");
  });

  it("drops repeated rows", () => {
    const row = { line: 3, field: "prompt", message: "must be a string" };
    const v = importErrorView("The file has 2 error(s); nothing was imported", [row, { ...row }]);
    expect(v.rows).toEqual([row]);
  });

  it("does not repeat a serializer error quoted in the detail", () => {
    const one = importErrorView("Invalid request (file: No file was submitted.)", [
      { field: "file", message: "No file was submitted." },
    ]);
    expect(one).toEqual({ summary: "Invalid request (file: No file was submitted.) Nothing was imported.", rows: [] });
    const two = importErrorView("Invalid request (kind: bad.)", [
      { field: "kind", message: "bad." },
      { field: "format", message: "worse." },
    ]);
    expect(two.summary).toBe("Invalid request. Nothing was imported.");
    expect(two.rows).toHaveLength(2);
  });

  it("drops a lone row without a line that the detail already says", () => {
    const v = importErrorView("The file has 1,000 bytes; the import limit is 1 KiB.", [
      { message: "the import limit is 1 KiB" },
    ]);
    expect(v.rows).toEqual([]);
  });
});

describe("error lines outside imports", () => {
  it("neither adds 'nothing was imported' nor repeats the quoted field error", () => {
    const v = errorView("Invalid request (count: Ensure this value is less than or equal to 1000.)", [
      { field: "count", message: "Ensure this value is less than or equal to 1000." },
    ]);
    expect(v).toEqual({ summary: "Invalid request (count: Ensure this value is less than or equal to 1000.)", rows: [] });
  });
});
