import { describe, expect, it } from "vitest";
import { trapTarget } from "./focus";
import { onControl, typing } from "./keys";

describe("focus trap", () => {
  it("wraps Tab and shift+Tab at both ends", () => {
    expect(trapTarget(0, 3, false)).toBe(1);
    expect(trapTarget(2, 3, false)).toBe(0);
    expect(trapTarget(0, 3, true)).toBe(2);
    expect(trapTarget(1, 3, true)).toBe(0);
  });

  it("brings focus back in from outside, and has nowhere to go when empty", () => {
    expect(trapTarget(-1, 3, false)).toBe(0);
    expect(trapTarget(-1, 3, true)).toBe(2);
    expect(trapTarget(-1, 0, false)).toBeNull();
  });
});

describe("shortcut targets", () => {
  const on = (tagName: string, isContentEditable = false) => ({ target: { tagName, isContentEditable } as never });
  it("treats text fields as typing", () => {
    expect(["INPUT", "TEXTAREA", "SELECT"].map((t) => typing(on(t)))).toEqual([true, true, true]);
    expect(typing(on("DIV", true))).toBe(true);
    expect(typing(on("LI"))).toBe(false);
    expect(typing({ target: null })).toBe(false);
  });

  it("leaves Enter on buttons and links to them, not on answers", () => {
    expect(onControl(on("BUTTON"))).toBe(true);
    expect(onControl(on("A"))).toBe(true);
    expect(onControl(on("LI"))).toBe(false);
    expect(onControl(on("BODY"))).toBe(false);
  });
});
