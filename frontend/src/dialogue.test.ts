import { describe, expect, it } from "vitest";
import { continueDialogue, dialogueInitial, initialState, setContent, toggleSystem, validateDialogue } from "./conversation";

describe("dialogue editing", () => {
  it("starts blank with a user turn, or from a seed prompt with the assistant's turn to write", () => {
    expect(dialogueInitial([])).toEqual(initialState());
    const seeded = dialogueInitial([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi?" },
    ]);
    expect(seeded.turns.map((t) => t.role)).toEqual(["system", "user", "assistant"]);
    expect(seeded.selected).toBe(2);
  });

  it("ctrl+Enter adds the other role's turn only once the last turn is written", () => {
    let s = initialState();
    expect(continueDialogue(s).turns).toHaveLength(1);
    s = setContent(s, 0, "Hello");
    s = continueDialogue(s);
    expect(s.turns.map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(s.selected).toBe(1);
    s = continueDialogue(setContent(s, 1, "Hi, how can I help?"));
    expect(s.turns.map((t) => t.role)).toEqual(["user", "assistant", "user"]);
  });

  it("names what is wrong, turn by turn, and accepts a dialogue ending with the assistant", () => {
    let s = initialState();
    expect(validateDialogue(s.turns)).toEqual([
      "Turn 1 (user) is empty.",
      "Write at least one user turn and the assistant's answer.",
    ]);
    s = continueDialogue(setContent(s, 0, "Hello"));
    expect(validateDialogue(s.turns)).toEqual(["Turn 2 (assistant) is empty."]);
    s = setContent(s, 1, "Hi!");
    expect(validateDialogue(s.turns)).toEqual([]);
    const open = continueDialogue(s);
    expect(validateDialogue(setContent(open, 2, "More?").turns)).toEqual([
      "Turn 3 is the user's: a dialogue ends with the assistant's turn.",
    ]);
    const withSystem = toggleSystem(s);
    // Turning the first turn into a system turn shifts the roles after it; the editor then asks for an answer.
    expect(withSystem.turns.map((t) => t.role)).toEqual(["system", "user"]);
    expect(validateDialogue(withSystem.turns)).toContain("Write at least one user turn and the assistant's answer.");
  });
});
