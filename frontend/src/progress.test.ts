import { describe, expect, it } from "vitest";
import { progressText } from "./progress";

describe("progress line", () => {
  it("says how many tasks are left of how many", () => {
    expect(progressText({ tasks_left: 12, tasks_total: 40 })).toBe("12 of 40 left in this project");
    expect(progressText({ tasks_left: 0, tasks_total: 40 })).toBe("none of 40 left in this project");
  });

  it("says nothing before the figures are known", () => {
    expect(progressText(null)).toBe("");
    expect(progressText(undefined)).toBe("");
  });
});
