import { describe, expect, it } from "vitest";
import {
  addTurn,
  allowedRoles,
  fromStored,
  initialState,
  moveSelection,
  removeTurn,
  setContent,
  setRole,
  toggleSystem,
  toMessages,
  validate,
} from "./conversation";

const roles = (s: { turns: { role: string }[] }) => s.turns.map((t) => t.role);

describe("building a conversation", () => {
  it("starts with one empty user turn and refuses to submit it", () => {
    const s = initialState();
    expect(roles(s)).toEqual(["user"]);
    expect(validate(s.turns)).toEqual(["Turn 1 (user) is empty."]);
  });

  it("alternates roles when turns are added, and selects the new turn", () => {
    let s = initialState();
    s = addTurn(s);
    expect(roles(s)).toEqual(["user", "assistant"]);
    expect(s.selected).toBe(1);
    s = addTurn(s);
    expect(roles(s)).toEqual(["user", "assistant", "user"]);
    expect(s.selected).toBe(2);
  });

  it("allows system only as the first turn, and shifts the alternation after it", () => {
    let s = setContent(initialState(), 0, "Be brief.");
    s = toggleSystem(s);
    expect(roles(s)).toEqual(["system"]);
    s = setContent(addTurn(s), 1, "What is RLHF?");
    expect(roles(s)).toEqual(["system", "user"]);
    expect(allowedRoles(s.turns, 0)).toEqual(["system", "user"]);
    expect(allowedRoles(s.turns, 1)).toEqual(["user"]);
    expect(setRole(s, 1, "system")).toBe(s); // refused
    expect(validate(s.turns)).toEqual([]);
    expect(toMessages(s.turns)).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "What is RLHF?" },
    ]);
    // Switching the first turn back to user re-derives the rest.
    expect(roles(toggleSystem(s))).toEqual(["user", "assistant"]);
  });

  it("inserts in the middle and keeps the alternation", () => {
    let s = addTurn(addTurn(initialState())); // user, assistant, user
    s = addTurn(s, 0); // after the first
    expect(roles(s)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(s.selected).toBe(1);
  });

  it("re-derives roles after a removal and never leaves zero turns", () => {
    let s = addTurn(addTurn(initialState()));
    s = setContent(setContent(setContent(s, 0, "a"), 1, "b"), 2, "c");
    s = removeTurn(s, 1);
    expect(toMessages(s.turns)).toEqual([
      { role: "user", content: "a" },
      { role: "assistant", content: "c" },
    ]);
    expect(s.selected).toBe(1);
    s = removeTurn(removeTurn(s, 1), 0);
    expect(s.turns).toEqual([{ role: "user", content: "" }]);
  });

  it("keeps the selection inside the conversation", () => {
    let s = addTurn(initialState());
    s = moveSelection(s, 5);
    expect(s.selected).toBe(1);
    s = moveSelection(s, -9);
    expect(s.selected).toBe(0);
  });
});

describe("validation, as the server checks it", () => {
  it("requires the last turn to be the user's", () => {
    let s = setContent(initialState(), 0, "Hi");
    s = setContent(addTurn(s), 1, "Hello! How can I help?");
    expect(validate(s.turns)).toEqual([
      "The last turn must be the user's (the assistant answers next): add a user turn.",
    ]);
  });

  it("refuses blank turns and a lone system turn", () => {
    const s = toggleSystem(setContent(initialState(), 0, "   "));
    const problems = validate(s.turns);
    expect(problems).toContain("Turn 1 (system) is empty.");
    expect(problems.some((p) => p.startsWith("The last turn must be the user's"))).toBe(true);
  });

  it("refuses an out-of-order conversation given from outside", () => {
    expect(
      validate([
        { role: "user", content: "a" },
        { role: "system", content: "b" },
        { role: "user", content: "c" },
      ]),
    ).toEqual(["Turn 2 should be assistant, not system."]);
  });

  it("refuses an over-long turn", () => {
    expect(validate([{ role: "user", content: "x".repeat(32_001) }])).toEqual([
      "Turn 1 has 32001 characters; at most 32000.",
    ]);
  });
});

describe("drafts", () => {
  it("round-trips a draft and repairs stale roles", () => {
    expect(
      fromStored({
        turns: [
          { role: "system", content: "s" },
          { role: "assistant", content: "u" },
        ],
        selected: 7,
      }),
    ).toEqual({
      turns: [
        { role: "system", content: "s" },
        { role: "user", content: "u" },
      ],
      selected: 1,
    });
  });

  it("ignores anything that is not a draft of turns", () => {
    expect(fromStored(null)).toBeNull();
    expect(fromStored({ text: "a demonstration" })).toBeNull();
    expect(fromStored({ turns: [] })).toBeNull();
    expect(fromStored({ turns: [{ role: "robot", content: "x" }] })).toBeNull();
    expect(fromStored({ turns: [{ role: "user", content: 3 }] })).toBeNull();
  });
});
