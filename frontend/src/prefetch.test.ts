import { describe, expect, it } from "vitest";
import { usablePrefetched } from "./prefetch";

const now = Date.parse("2026-01-01T12:00:00Z");
const lease = (id: number, minutesLeft: number) => ({ id, expires_at: new Date(now + minutesLeft * 60_000).toISOString() });

describe("showing a prefetched task", () => {
  it("uses a live lease on another task", () => {
    const b = lease(2, 20);
    expect(usablePrefetched(b, 1, now)).toBe(b);
  });

  it("asks the server when there is none, it is the current one, or it is about to expire", () => {
    expect(usablePrefetched(null, 1, now)).toBeNull();
    expect(usablePrefetched(lease(1, 20), 1, now)).toBeNull();
    expect(usablePrefetched(lease(2, 0.5), 1, now)).toBeNull();
    expect(usablePrefetched(lease(2, -5), 1, now)).toBeNull();
    expect(usablePrefetched({ id: 2, expires_at: "garbage" }, 1, now)).toBeNull();
  });
});
