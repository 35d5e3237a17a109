import { describe, expect, it } from "vitest";
import { serverWins } from "./draft";

describe("serverWins", () => {
  it("takes the server's draft when this browser has none", () => {
    expect(serverWins({ savedAt: 5 }, null)).toBe(true);
  });
  it("takes the later of the two copies", () => {
    expect(serverWins({ savedAt: 10 }, { savedAt: 5 })).toBe(true);
    expect(serverWins({ savedAt: 5 }, { savedAt: 10 })).toBe(false);
    expect(serverWins({ savedAt: 5 }, { savedAt: 5 })).toBe(false);
  });
  it("counts a copy without a stamp as the oldest", () => {
    expect(serverWins({}, { savedAt: 1 })).toBe(false);
    expect(serverWins({ savedAt: 1 }, {})).toBe(true);
  });
});
