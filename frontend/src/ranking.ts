// Pure ranking state: ranks given by the labeler, tiers derived from them, ratings, flags, and the same
// validation rules as the API (labeling/services/submission.py: ranking_errors). No React, no DOM.

import type { Schemas } from "./api";

/** A flag a guideline offers, and its rating scale (the API's types). */
export type Flag = Schemas["Flag"];
export type RatingScale = Schemas["RatingScale"];

export interface RankingState {
  ids: number[]; // candidate ids in display order
  ranks: Record<number, number | null>; // 1 = best; equal ranks are a tie
  ratings: Record<number, number>;
  flags: Record<number, string[]>;
  selected: number; // index into ids
  allowTies: boolean;
}

export function initialState(ids: number[], allowTies: boolean): RankingState {
  const ranks: Record<number, number | null> = {};
  for (const id of ids) ranks[id] = null;
  return { ids: [...ids], ranks, ratings: {}, flags: {}, selected: 0, allowTies };
}

/** State from a stored ranking (tiers, ratings and flags keyed by candidate id), for revising it. */
export function fromStored(
  ids: number[],
  allowTies: boolean,
  stored: { tiers: number[][]; ratings?: Record<string, number>; flags?: Record<string, string[]> },
): RankingState {
  const state = initialState(ids, allowTies);
  stored.tiers.forEach((tier, i) => tier.forEach((id) => (state.ranks[id] = i + 1)));
  for (const [id, v] of Object.entries(stored.ratings ?? {})) state.ratings[Number(id)] = v;
  for (const [id, keys] of Object.entries(stored.flags ?? {})) if (keys.length) state.flags[Number(id)] = [...keys];
  return state;
}

/** Tiers best first: the ids sharing each distinct rank, in display order. Unranked ids are left out. */
export function tiersOf(state: RankingState): number[][] {
  const distinct = [...new Set(state.ids.map((id) => state.ranks[id]).filter((r): r is number => r != null))];
  distinct.sort((a, b) => a - b);
  return distinct.map((r) => state.ids.filter((id) => state.ranks[id] === r));
}

export function unranked(state: RankingState): number[] {
  return state.ids.filter((id) => state.ranks[id] == null);
}

/** Renumber ranks densely (1, 2, 3 …) keeping the order and ties. */
export function normalize(state: RankingState): RankingState {
  const ranks = { ...state.ranks };
  tiersOf(state).forEach((tier, i) => tier.forEach((id) => (ranks[id] = i + 1)));
  return { ...state, ranks };
}

/**
 * Give candidate `id` rank `rank` (1..K). With ties allowed an equal rank makes a tie; without, the candidate
 * that held the rank takes the moved one's old rank (a swap), or becomes unranked if it had none.
 */
export function setRank(state: RankingState, id: number, rank: number | null): RankingState {
  const k = state.ids.length;
  if (rank != null && (rank < 1 || rank > k || !Number.isInteger(rank))) return state;
  const ranks = { ...state.ranks };
  if (rank != null && !state.allowTies) {
    const previous = ranks[id];
    for (const other of state.ids) {
      if (other !== id && ranks[other] === rank) ranks[other] = previous ?? null;
    }
  }
  ranks[id] = rank;
  return { ...state, ranks };
}

export function select(state: RankingState, index: number): RankingState {
  const n = state.ids.length;
  if (n === 0) return state;
  return { ...state, selected: Math.max(0, Math.min(n - 1, index)) };
}

export function moveSelection(state: RankingState, delta: number): RankingState {
  return select(state, state.selected + delta);
}

/** After ranking, go to the next unranked answer (wrapping), or stay when all are ranked. */
export function advanceToUnranked(state: RankingState): RankingState {
  const n = state.ids.length;
  for (let step = 1; step <= n; step++) {
    const i = (state.selected + step) % n;
    if (state.ranks[state.ids[i]] == null) return { ...state, selected: i };
  }
  return state;
}

/** Drag and drop: put `id` into the existing tier `tierIndex` (a tie), or with `newTier` before that tier. */
export function dropInto(state: RankingState, id: number, tierIndex: number, newTier: boolean): RankingState {
  const tiers = tiersOf(state).map((t) => t.filter((x) => x !== id)).filter((t) => t.length > 0);
  // tierIndex refers to the tiers before removal; adjust when the dragged id's own tier vanished above.
  const before = tiersOf(state);
  let target = tierIndex;
  const ownTier = before.findIndex((t) => t.includes(id));
  if (ownTier >= 0 && before[ownTier].length === 1 && ownTier < tierIndex) target -= 1;
  if (newTier || !state.allowTies) {
    tiers.splice(Math.max(0, Math.min(tiers.length, target)), 0, [id]);
  } else if (target >= tiers.length) {
    tiers.push([id]);
  } else {
    tiers[target] = [...tiers[target], id];
  }
  const ranks: Record<number, number | null> = {};
  for (const x of state.ids) ranks[x] = null;
  tiers.forEach((tier, i) => tier.forEach((x) => (ranks[x] = i + 1)));
  for (const x of state.ids) if (ranks[x] == null && x !== id) ranks[x] = null;
  return { ...state, ranks };
}

export function setRating(state: RankingState, id: number, value: number | null, scale: RatingScale): RankingState {
  const ratings = { ...state.ratings };
  if (value == null) delete ratings[id];
  else {
    const { min, max } = scaleBounds(scale);
    if (value < min || value > max) return state;
    ratings[id] = value;
  }
  return { ...state, ratings };
}

export function toggleFlag(state: RankingState, id: number, key: string): RankingState {
  const current = state.flags[id] ?? [];
  const next = current.includes(key) ? current.filter((k) => k !== key) : [...current, key];
  const flags = { ...state.flags, [id]: next };
  if (next.length === 0) delete flags[id];
  return { ...state, flags };
}

export function scaleBounds(scale: RatingScale | undefined): { min: number; max: number } {
  return { min: scale?.min ?? 1, max: scale?.max ?? 7 };
}

/** Everything that stops the ranking from being submitted, as the API would say it; empty when valid. */
export function validate(state: RankingState, scale: RatingScale, allowedFlags: string[]): string[] {
  const errors: string[] = [];
  const missing = unranked(state);
  if (missing.length > 0) errors.push(`${missing.length} answer(s) have no rank yet: every answer must be placed once`);
  if (!state.allowTies) {
    for (const tier of tiersOf(state)) {
      if (tier.length > 1) errors.push(`this project does not allow ties (${tier.length} answers share a rank)`);
    }
  }
  const { min, max } = scaleBounds(scale);
  for (const [id, value] of Object.entries(state.ratings)) {
    if (!state.ids.includes(Number(id))) errors.push(`rating for unknown answer ${id}`);
    else if (!Number.isInteger(value) || value < min || value > max) errors.push(`rating ${value} is outside ${min}–${max}`);
  }
  for (const [id, keys] of Object.entries(state.flags)) {
    for (const key of keys) if (!allowedFlags.includes(key)) errors.push(`unknown flag ${key} on answer ${id}`);
    if (new Set(keys).size !== keys.length) errors.push(`a flag is repeated on answer ${id}`);
  }
  return errors;
}

/** The body of POST /api/assignments/{id}/submit/ for this ranking (without client_id and timing). */
export function toPayload(state: RankingState): {
  tiers: number[][];
  ratings: Record<string, number>;
  flags: Record<string, string[]>;
} {
  const ratings: Record<string, number> = {};
  for (const [id, v] of Object.entries(state.ratings)) ratings[id] = v;
  const flags: Record<string, string[]> = {};
  for (const [id, keys] of Object.entries(state.flags)) if (keys.length) flags[id] = [...keys];
  return { tiers: tiersOf(state), ratings, flags };
}

/** The key that picks flag number i (0-based) in the flag picker: 1–9, then a–z. */
export function flagKey(i: number): string {
  return i < 9 ? String(i + 1) : String.fromCharCode("a".charCodeAt(0) + i - 9);
}

export function flagIndexForKey(key: string, count: number): number | null {
  let i: number;
  if (/^[1-9]$/.test(key)) i = Number(key) - 1;
  else if (/^[a-z]$/.test(key)) i = key.charCodeAt(0) - "a".charCodeAt(0) + 9;
  else return null;
  return i < count ? i : null;
}

/**
 * What a screen reader should hear after `before` became `after`: each answer whose rank, rating or flags
 * changed ("C: rank 2, tied with A"), joined by "; ". Empty when only the selection moved.
 */
export function describeChange(
  before: RankingState,
  after: RankingState,
  letterOf: (id: number) => string,
  flagLabel: (key: string) => string,
  ratingMax: number,
): string {
  const parts: string[] = [];
  for (const id of after.ids) {
    const name = letterOf(id);
    const rank = after.ranks[id];
    if (rank !== before.ranks[id]) {
      const ties = after.ids.filter((x) => x !== id && rank != null && after.ranks[x] === rank).map(letterOf);
      parts.push(rank == null ? `${name}: unranked` : `${name}: rank ${rank}${ties.length ? `, tied with ${ties.join(", ")}` : ""}`);
    }
    const rating = after.ratings[id];
    if (rating !== before.ratings[id])
      parts.push(rating == null ? `${name}: rating cleared` : `${name}: rated ${rating} of ${ratingMax}`);
    const was = before.flags[id] ?? [];
    const now = after.flags[id] ?? [];
    for (const key of now) if (!was.includes(key)) parts.push(`${name}: flagged ${flagLabel(key)}`);
    for (const key of was) if (!now.includes(key)) parts.push(`${name}: flag ${flagLabel(key)} removed`);
  }
  return parts.join("; ");
}
