import { describe, expect, it } from "vitest";
import { comparisonsText, intervalBar, pct, predictedText, winRateText } from "./winRates";

describe("win rates", () => {
  it("writes a rate with its interval as text", () => {
    expect(pct(0.6249)).toBe("62%");
    expect(winRateText({ win_rate: 0.62, low: 0.55, high: 0.69 })).toBe("62% (55–69%)");
    expect(winRateText({ win_rate: 5 / 12, low: 0.1933, high: 0.6805 })).toBe("42% (19–68%)");
  });

  it("places the interval and the rate on a 0–100% bar", () => {
    const bar = intervalBar({ win_rate: 0.62, low: 0.55, high: 0.69 });
    expect([bar.left, bar.width, bar.mark].map((x) => Math.round(x * 1000) / 1000)).toEqual([55, 14, 62]);
    expect(intervalBar({ win_rate: 1, low: 1, high: 1 })).toEqual({ left: 100, width: 0.5, mark: 100 });
  });

  it("counts comparisons and says when the reward model scored only part of them", () => {
    expect(comparisonsText({ comparisons: 1, rankings: 1 })).toBe("1 comparison in 1 ranking");
    expect(comparisonsText({ comparisons: 12, rankings: 3 })).toBe("12 comparisons in 3 rankings");
    expect(predictedText({ rm_win_rate: null, rm_comparisons: 0, comparisons: 4 })).toBe("not scored");
    expect(predictedText({ rm_win_rate: 0.595, rm_comparisons: 4, comparisons: 12 })).toBe("60% (4 of 12 scored)");
    expect(predictedText({ rm_win_rate: 0.7, rm_comparisons: 4, comparisons: 4 })).toBe("70%");
  });
});
