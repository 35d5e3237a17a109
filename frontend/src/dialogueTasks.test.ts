import { describe, expect, it } from "vitest";
import { dialogueTasksBody, openedSummary, toggleSelected } from "./dialogueTasks";

const blank = { mode: "blank" as const, count: "3", promptIds: [], priority: "" };

describe("opening dialogue tasks", () => {
  it("builds a blank request with count and priority (empty priority is 0)", () => {
    expect(dialogueTasksBody(blank)).toEqual({ body: { count: 3, priority: 0 } });
    expect(dialogueTasksBody({ ...blank, priority: " -2 " })).toEqual({ body: { count: 3, priority: -2 } });
  });

  it("refuses a count outside 1..10000 or not a whole number, naming the field", () => {
    for (const count of ["0", "10001", "2.5", "", "three"]) {
      expect(dialogueTasksBody({ ...blank, count })).toEqual({ error: expect.stringContaining("Count") });
    }
    expect(dialogueTasksBody({ ...blank, priority: "high" })).toEqual({ error: expect.stringContaining("Priority") });
  });

  it("sends the selected prompts once each, and needs at least one", () => {
    const form = { ...blank, mode: "prompts" as const, promptIds: [7, 3, 7] };
    expect(dialogueTasksBody(form)).toEqual({ body: { prompt_ids: [7, 3], priority: 0 } });
    expect(dialogueTasksBody({ ...form, promptIds: [] })).toEqual({ error: expect.stringContaining("Select") });
  });

  it("toggles a prompt in the selection", () => {
    expect(toggleSelected([], 4)).toEqual([4]);
    expect(toggleSelected([4, 5], 4)).toEqual([5]);
  });

  it("summarises what was opened", () => {
    expect(openedSummary([{ id: 9, prompt: null }])).toBe("Opened 1 dialogue task, blank (task 9).");
    expect(
      openedSummary([
        { id: 10, prompt: 1 },
        { id: 11, prompt: 2 },
      ]),
    ).toBe("Opened 2 dialogue tasks, seeded with their prompts (tasks 10–11).");
  });
});
