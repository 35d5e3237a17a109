import { describe, expect, it } from "vitest";
import { describeItem, reviewKeyAction, reviewPath, reviewQueue, selectionAfterReload, stepSelection } from "./review";
import type { QueuedDemonstration, QueuedDialogue } from "./review";

const demo = (id: number, user_name = "Alice Liddell") => ({ id, user_name }) as QueuedDemonstration;
const dialogue = (id: number) => ({ id, user_name: "bob" }) as QueuedDialogue;

describe("the review queue", () => {
  const queue = reviewQueue([demo(1), demo(2)], [dialogue(1)]);

  it("lists demonstrations then dialogues, each with a key that tells the kinds apart", () => {
    expect(queue.map((q) => q.key)).toEqual(["demonstration:1", "demonstration:2", "dialogue:1"]);
    expect(describeItem(queue[0])).toBe("Demonstration 1 by Alice Liddell");
    expect(describeItem(queue[2])).toBe("Dialogue 1 by bob");
    expect(reviewPath(queue[2])).toBe("/api/dialogues/1/review/");
    expect(reviewPath(queue[1])).toBe("/api/demonstrations/2/review/");
  });

  it("maps the single keys, and nothing else", () => {
    expect(["a", "r", "j", "k", "u", "ArrowDown", "ArrowUp"].map(reviewKeyAction)).toEqual([
      "accept",
      "reject",
      "next",
      "previous",
      "undo",
      "next",
      "previous",
    ]);
    expect(reviewKeyAction("A")).toBeNull();
    expect(reviewKeyAction("Enter")).toBeNull();
  });

  it("steps inside the queue", () => {
    expect(stepSelection(0, -1, 3)).toBe(0);
    expect(stepSelection(2, 1, 3)).toBe(2);
    expect(stepSelection(1, 1, 3)).toBe(2);
    expect(stepSelection(0, 1, 0)).toBe(-1);
  });

  it("keeps the selection on the same item across a reload, or on what took the place of a decided one", () => {
    // An undone item is back: select it again.
    expect(selectionAfterReload(queue, "demonstration:2", 0)).toBe(1);
    // The decided item left the queue: the one that moved up into its place.
    const after = reviewQueue([demo(1)], [dialogue(1)]);
    expect(selectionAfterReload(after, "demonstration:2", 1)).toBe(1);
    // The last one left: the new last.
    expect(selectionAfterReload(reviewQueue([demo(1)], []), "dialogue:1", 2)).toBe(0);
    expect(selectionAfterReload([], "dialogue:1", 2)).toBe(-1);
  });
});
