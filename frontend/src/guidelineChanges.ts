// What changed between two guideline versions besides the body: criteria, the rating scale and the flags, one
// line each, so that a labeler sees at a glance which rules moved. Pure, unit-tested.
import type { Guideline } from "./api";

export type GuidelineRules = Pick<Guideline, "criteria" | "rating_scale" | "flags">;
export type Change = { kind: "added" | "removed" | "changed"; text: string };

function quoted(s: string | undefined): string {
  return s ? `“${s}”` : "none";
}

function criteriaChanges(a: string[], b: string[]): Change[] {
  return [
    ...b.filter((c) => !a.includes(c)).map((c): Change => ({ kind: "added", text: `Criterion ${quoted(c)}` })),
    ...a.filter((c) => !b.includes(c)).map((c): Change => ({ kind: "removed", text: `Criterion ${quoted(c)}` })),
  ];
}

function scaleChanges(a: GuidelineRules["rating_scale"], b: GuidelineRules["rating_scale"]): Change[] {
  const out: Change[] = [];
  if ((a.name ?? "") !== (b.name ?? ""))
    out.push({ kind: "changed", text: `Rating scale name: ${quoted(a.name)} → ${quoted(b.name)}` });
  if (a.min !== b.min || a.max !== b.max)
    out.push({
      kind: "changed",
      text: `Rating range: ${a.min ?? "?"}–${a.max ?? "?"} → ${b.min ?? "?"}–${b.max ?? "?"}`,
    });
  const la = a.labels ?? {};
  const lb = b.labels ?? {};
  const points = [...new Set([...Object.keys(la), ...Object.keys(lb)])].sort((x, y) => Number(x) - Number(y));
  for (const p of points) {
    if (!(p in la)) out.push({ kind: "added", text: `Rating ${p} label ${quoted(lb[p])}` });
    else if (!(p in lb)) out.push({ kind: "removed", text: `Rating ${p} label ${quoted(la[p])}` });
    else if (la[p] !== lb[p])
      out.push({ kind: "changed", text: `Rating ${p} label: ${quoted(la[p])} → ${quoted(lb[p])}` });
  }
  return out;
}

function flagChanges(a: GuidelineRules["flags"], b: GuidelineRules["flags"]): Change[] {
  const before = new Map(a.map((f) => [f.key, f]));
  const after = new Map(b.map((f) => [f.key, f]));
  const out: Change[] = [];
  for (const f of b) {
    const old = before.get(f.key);
    if (!old) out.push({ kind: "added", text: `Flag ${f.key}: ${quoted(f.label)}` });
    else {
      if (old.label !== f.label)
        out.push({ kind: "changed", text: `Flag ${f.key} label: ${quoted(old.label)} → ${quoted(f.label)}` });
      if ((old.description ?? "") !== (f.description ?? ""))
        out.push({
          kind: "changed",
          text: `Flag ${f.key} description: ${quoted(old.description)} → ${quoted(f.description)}`,
        });
    }
  }
  for (const f of a)
    if (!after.has(f.key)) out.push({ kind: "removed", text: `Flag ${f.key}: ${quoted(f.label)}` });
  return out;
}

/** The changes from `before` to `after` in criteria, rating scale and flags (empty when they are the same). */
export function guidelineChanges(before: GuidelineRules, after: GuidelineRules): Change[] {
  return [
    ...criteriaChanges(before.criteria, after.criteria),
    ...scaleChanges(before.rating_scale, after.rating_scale),
    ...flagChanges(before.flags, after.flags),
  ];
}
