// Pure helpers of the win-rate tables on the Rounds page (tested with Vitest).
import type { Schemas } from "./api";

export type WinRates = Schemas["WinRates"];
export type WinRatePair = Schemas["WinRatePair"];
type Stats = Pick<WinRatePair, "win_rate" | "low" | "high">;

/** A proportion as a whole percent: 0.6249 -> "62%". */
export function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** The human win rate with its 95% interval, as "62% (55–69%)". */
export function winRateText(s: Stats): string {
  return `${pct(s.win_rate)} (${Math.round(s.low * 100)}–${pct(s.high)})`;
}

/** Where the interval bar's parts sit, in percent of its width: the interval from `left` over `width`, the rate at
 * `mark`. */
export function intervalBar(s: Stats): { left: number; width: number; mark: number } {
  const clamp = (x: number) => Math.min(100, Math.max(0, x * 100));
  const left = clamp(s.low);
  return { left, width: Math.max(clamp(s.high) - left, 0.5), mark: clamp(s.win_rate) };
}

/** "n comparisons in m rankings". */
export function comparisonsText(p: Pick<WinRatePair, "comparisons" | "rankings">): string {
  const c = `${p.comparisons} comparison${p.comparisons === 1 ? "" : "s"}`;
  return `${c} in ${p.rankings} ranking${p.rankings === 1 ? "" : "s"}`;
}

/** The reward model's predicted win rate, or why there is none. */
export function predictedText(p: Pick<WinRatePair, "rm_win_rate" | "rm_comparisons" | "comparisons">): string {
  if (p.rm_win_rate == null) return "not scored";
  const part = p.rm_comparisons < p.comparisons ? ` (${p.rm_comparisons} of ${p.comparisons} scored)` : "";
  return pct(p.rm_win_rate) + part;
}
