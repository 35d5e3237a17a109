import { describe, expect, it } from "vitest";
import {
  advanceToUnranked,
  describeChange,
  dropInto,
  flagIndexForKey,
  flagKey,
  fromStored,
  initialState,
  moveSelection,
  normalize,
  setRank,
  setRating,
  tiersOf,
  toggleFlag,
  toPayload,
  validate,
} from "./ranking";

const scale = { min: 1, max: 7 };
const flags = ["hallucination", "harmful_advice"];

describe("tiers from ranks", () => {
  it("orders best first and groups equal ranks as ties", () => {
    let s = initialState([10, 11, 12, 13], true);
    s = setRank(s, 10, 2);
    s = setRank(s, 11, 1);
    s = setRank(s, 12, 2);
    s = setRank(s, 13, 4);
    expect(tiersOf(s)).toEqual([[11], [10, 12], [13]]);
    expect(validate(s, scale, flags)).toEqual([]);
    expect(normalize(s).ranks).toEqual({ 10: 2, 11: 1, 12: 2, 13: 3 });
  });

  it("reports unranked answers like the API", () => {
    let s = initialState([1, 2, 3, 4], true);
    s = setRank(s, 1, 1);
    expect(validate(s, scale, flags)[0]).toMatch(/3 answer\(s\) have no rank/);
  });

  it("refuses ranks outside 1..K", () => {
    const s = initialState([1, 2, 3, 4], true);
    expect(setRank(s, 1, 5)).toBe(s);
    expect(setRank(s, 1, 0)).toBe(s);
  });

  it("swaps instead of tying when the project forbids ties", () => {
    let s = initialState([1, 2, 3, 4], false);
    s = setRank(s, 1, 1);
    s = setRank(s, 2, 2);
    s = setRank(s, 2, 1); // swap: answer 1 takes answer 2's old rank
    expect(s.ranks[1]).toBe(2);
    expect(s.ranks[2]).toBe(1);
    s = setRank(s, 3, 2); // takes rank 2; answer 1 gets answer 3's old rank (none)
    expect(s.ranks[1]).toBeNull();
    s = setRank(s, 1, 3);
    s = setRank(s, 4, 4);
    expect(tiersOf(s)).toEqual([[2], [3], [1], [4]]);
    expect(validate(s, scale, flags)).toEqual([]);
  });

  it("flags ties as invalid when they are not allowed", () => {
    const s = { ...initialState([1, 2, 3, 4], false), ranks: { 1: 1, 2: 1, 3: 2, 4: 3 } };
    expect(validate(s, scale, flags).join()).toMatch(/does not allow ties/);
  });
});

describe("keyboard moves", () => {
  it("clamps selection and advances to the next unranked answer", () => {
    let s = initialState([1, 2, 3, 4], true);
    s = moveSelection(s, -1);
    expect(s.selected).toBe(0);
    s = moveSelection(s, 10);
    expect(s.selected).toBe(3);
    s = setRank(s, 4, 1);
    s = advanceToUnranked(s);
    expect(s.selected).toBe(0);
    s = setRank(s, 1, 2);
    s = advanceToUnranked(s);
    expect(s.selected).toBe(1);
  });

  it("maps flag keys 1-9 then a-z", () => {
    expect(flagKey(0)).toBe("1");
    expect(flagKey(9)).toBe("a");
    expect(flagIndexForKey("a", 11)).toBe(9);
    expect(flagIndexForKey("c", 11)).toBeNull();
    expect(flagIndexForKey("!", 11)).toBeNull();
  });
});

describe("drag and drop", () => {
  it("drops into a tier (tie) or as a new tier", () => {
    let s = initialState([1, 2, 3, 4], true);
    s = { ...s, ranks: { 1: 1, 2: 2, 3: 3, 4: 4 } };
    const tied = dropInto(s, 4, 0, false);
    expect(tiersOf(tied)).toEqual([[1, 4], [2], [3]]);
    const moved = dropInto(s, 1, 3, true);
    expect(tiersOf(moved)).toEqual([[2], [3], [1], [4]]);
  });

  it("places an unranked answer", () => {
    let s = initialState([1, 2, 3, 4], true);
    s = { ...s, ranks: { 1: 1, 2: null, 3: 2, 4: null } };
    expect(tiersOf(dropInto(s, 2, 1, true))).toEqual([[1], [2], [3]]);
    expect(tiersOf(dropInto(s, 4, 5, false))).toEqual([[1], [3], [4]]);
  });

  it("never ties by dropping when ties are off", () => {
    const s = { ...initialState([1, 2, 3, 4], false), ranks: { 1: 1, 2: 2, 3: 3, 4: 4 } };
    expect(tiersOf(dropInto(s, 4, 0, false))).toEqual([[4], [1], [2], [3]]);
  });
});

describe("ratings, flags and payload", () => {
  it("keeps ratings on the scale and builds the API body", () => {
    let s = initialState([1, 2, 3, 4], true);
    s = { ...s, ranks: { 1: 1, 2: 1, 3: 2, 4: 3 } };
    s = setRating(s, 2, 9, scale);
    expect(s.ratings).toEqual({});
    s = setRating(s, 2, 6, scale);
    s = toggleFlag(s, 3, "hallucination");
    s = toggleFlag(s, 3, "harmful_advice");
    s = toggleFlag(s, 3, "harmful_advice");
    expect(toPayload(s)).toEqual({ tiers: [[1, 2], [3], [4]], ratings: { 2: 6 }, flags: { 3: ["hallucination"] } });
    expect(validate(toggleFlag(s, 1, "nope"), scale, flags).join()).toMatch(/unknown flag nope/);
  });
});

describe("revising", () => {
  it("rebuilds the state of a stored ranking", () => {
    const s = fromStored([1, 2, 3, 4], true, { tiers: [[2], [1, 3], [4]], ratings: { 3: 5 }, flags: { 3: ["hallucination"] } });
    expect(tiersOf(s)).toEqual([[2], [1, 3], [4]]);
    expect(toPayload(s)).toEqual({ tiers: [[2], [1, 3], [4]], ratings: { 3: 5 }, flags: { 3: ["hallucination"] } });
  });
});

describe("what a screen reader hears", () => {
  const letters = (id: number) => "ABCD"[id - 10];
  const label = (key: string) => key.replace("_", " ");
  const say = (a: ReturnType<typeof initialState>, b: ReturnType<typeof initialState>) =>
    describeChange(a, b, letters, label, 7);

  it("names the answer, its rank and its ties", () => {
    const s0 = initialState([10, 11, 12, 13], true);
    const s1 = setRank(s0, 10, 2);
    expect(say(s0, s1)).toBe("A: rank 2");
    const s2 = setRank(s1, 12, 2);
    expect(say(s1, s2)).toBe("C: rank 2, tied with A");
    expect(say(s2, setRank(s2, 12, null))).toBe("C: unranked");
  });

  it("says both answers of a swap, ratings and flags, and nothing for a selection move", () => {
    let s = setRank(setRank(initialState([10, 11, 12, 13], false), 10, 1), 11, 2);
    expect(say(s, setRank(s, 11, 1))).toBe("A: rank 2; B: rank 1");
    const rated = setRating(s, 12, 5, scale);
    expect(say(s, rated)).toBe("C: rated 5 of 7");
    expect(say(rated, setRating(rated, 12, null, scale))).toBe("C: rating cleared");
    const flagged = toggleFlag(s, 13, "harmful_advice");
    expect(say(s, flagged)).toBe("D: flagged harmful advice");
    expect(say(flagged, toggleFlag(flagged, 13, "harmful_advice"))).toBe("D: flag harmful advice removed");
    s = moveSelection(s, 1);
    expect(say(moveSelection(s, -1), s)).toBe("");
  });
});
