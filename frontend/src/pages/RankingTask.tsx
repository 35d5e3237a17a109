import { useEffect, useMemo, useRef, useState } from "react";
import { Assignment, Guideline } from "../api";
import { Markdown } from "../markdown";
import * as R from "../ranking";
import { ErrorList, useSubmission } from "../taskParts";
import { Conversation, Kbd, Outcome, typing } from "./Work";

const LETTERS = "ABCDEFGHI";

interface Props {
  assignment: Assignment;
  guideline: Guideline;
  onDone: (o: Outcome) => void;
  paused: boolean;
  /** Revising past work: the stored ranking to start from, and where to send the new version. */
  initial?: { tiers: number[][]; ratings: Record<string, number>; flags: Record<string, string[]> };
  submitPath?: string;
}

export function RankingTask({ assignment, guideline, onDone, paused, initial, submitPath }: Props) {
  const ids = useMemo(() => assignment.task.candidates.map((c) => c.id), [assignment]);
  const storageKey = `annotate:ranking:${assignment.id}${initial ? ":revise" : ""}`;
  const [state, setState] = useState<R.RankingState>(() => {
    if (initial) return R.fromStored(ids, assignment.project.allow_ties, initial);
    const saved = localStorage.getItem(storageKey);
    if (saved) {
      try {
        const parsed = JSON.parse(saved) as R.RankingState;
        if (parsed.ids?.join() === ids.join()) return parsed;
      } catch {
        /* a broken local copy is ignored */
      }
    }
    return R.initialState(ids, assignment.project.allow_ties);
  });
  const [flagPicker, setFlagPicker] = useState(false);
  const [unrankable, setUnrankable] = useState<string | null>(null);
  const { busy, errors, setErrors, send } = useSubmission(storageKey, onDone);
  const dragged = useRef<number | null>(null);
  const scale = guideline.rating_scale;
  const { min, max } = R.scaleBounds(scale);
  const flagKeys = guideline.flags.map((f) => f.key);
  const letter = (id: number) => LETTERS[ids.indexOf(id)] ?? String(id);

  useEffect(() => {
    localStorage.setItem(storageKey, JSON.stringify(state));
  }, [state, storageKey]);

  const submit = async (reason?: string) => {
    if (busy) return;
    const body: Record<string, unknown> = { guideline_version: guideline.version };
    if (reason) body.unrankable_reason = reason;
    else {
      const problems = R.validate(state, scale, flagKeys);
      if (problems.length) {
        setErrors(problems);
        return;
      }
      Object.assign(body, R.toPayload(state));
    }
    await send(submitPath ?? `/api/assignments/${assignment.id}/submit/`, body);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (paused || typing(e) || e.metaKey || e.altKey) return;
      const id = state.ids[state.selected];
      if (flagPicker) {
        e.preventDefault();
        if (e.key === "Escape" || e.key === "f" || e.key === "Enter") setFlagPicker(false);
        else {
          const i = R.flagIndexForKey(e.key, flagKeys.length);
          if (i != null) setState((s) => R.toggleFlag(s, id, flagKeys[i]));
        }
        return;
      }
      if (e.key === "Enter") {
        e.preventDefault();
        submit();
        return;
      }
      if (e.ctrlKey) return;
      const digit = /^Digit([0-9])$/.exec(e.code)?.[1] ?? /^Numpad([0-9])$/.exec(e.code)?.[1];
      if (e.shiftKey && digit != null) {
        e.preventDefault();
        const v = Number(digit);
        setState((s) => R.setRating(s, id, v === 0 ? null : v, scale));
        return;
      }
      if (e.key === "j" || e.key === "ArrowDown") {
        e.preventDefault();
        setState((s) => R.moveSelection(s, 1));
      } else if (e.key === "k" || e.key === "ArrowUp") {
        e.preventDefault();
        setState((s) => R.moveSelection(s, -1));
      } else if (/^[1-9]$/.test(e.key) && Number(e.key) <= ids.length) {
        e.preventDefault();
        setState((s) => R.advanceToUnranked(R.setRank(s, id, Number(e.key))));
      } else if (e.key === "0" || e.key === "Backspace" || e.key === "Delete") {
        e.preventDefault();
        setState((s) => R.setRank(s, id, null));
      } else if (e.key === "f") {
        e.preventDefault();
        setFlagPicker(true);
      } else if (e.key === "u") {
        e.preventDefault();
        setUnrankable("");
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const tiers = R.tiersOf(state);
  const loose = R.unranked(state);
  const onDrop = (tierIndex: number, newTier: boolean) => (e: React.DragEvent) => {
    e.preventDefault();
    const id = dragged.current;
    dragged.current = null;
    if (id != null) setState((s) => R.normalize(R.dropInto(s, id, tierIndex, newTier)));
  };
  const allowDrop = (e: React.DragEvent) => e.preventDefault();
  const chip = (id: number) => (
    <span
      key={id}
      className="chip"
      draggable
      onDragStart={() => (dragged.current = id)}
      onClick={() => setState((s) => R.select(s, ids.indexOf(id)))}
    >
      {letter(id)}
    </span>
  );

  return (
    <div className="ranking">
      <Conversation messages={assignment.task.messages} />
      <div className="ranking-body">
        <ol className="answers" aria-label="Answers">
          {state.ids.map((id, i) => {
            const c = assignment.task.candidates[i];
            const rank = state.ranks[id];
            const tied = rank != null && state.ids.filter((x) => state.ranks[x] === rank).length > 1;
            return (
              <li
                key={id}
                data-candidate={id}
                className={"answer card" + (i === state.selected ? " selected" : "")}
                draggable
                onDragStart={() => (dragged.current = id)}
                onClick={() => setState((s) => R.select(s, i))}
              >
                <div className="answer-head">
                  <span className="letter">{LETTERS[i]}</span>
                  <span className="rank" data-rank={rank ?? ""}>
                    {rank == null ? "unranked" : `rank ${rank}${tied ? " (tie)" : ""}`}
                  </span>
                  <span className="rating" data-rating={state.ratings[id] ?? ""}>
                    {state.ratings[id] != null ? `rated ${state.ratings[id]}/${max}` : ""}
                  </span>
                  {(state.flags[id] ?? []).map((k) => (
                    <span className="badge flag" key={k}>
                      {guideline.flags.find((f) => f.key === k)?.label ?? k}
                    </span>
                  ))}
                </div>
                <Markdown text={c.text} className="answer-text" />
              </li>
            );
          })}
        </ol>
        <aside className="side">
          <div className="card tiers" aria-label="Ranking, best first">
            <h3>Ranking, best first</h3>
            <div className="gap" onDragOver={allowDrop} onDrop={onDrop(0, true)} />
            {tiers.map((tier, t) => (
              <div key={t}>
                <div className="tier" data-tier={t + 1} onDragOver={allowDrop} onDrop={onDrop(t, false)}>
                  <span className="tier-n">{t + 1}</span>
                  {tier.map(chip)}
                  {tier.length > 1 && <span className="muted"> tie</span>}
                </div>
                <div className="gap" onDragOver={allowDrop} onDrop={onDrop(t + 1, true)} />
              </div>
            ))}
            {loose.length > 0 && (
              <div className="tier unranked">
                <span className="tier-n">?</span>
                {loose.map(chip)}
              </div>
            )}
            <p className="muted small">Drag a letter onto a tier to tie, or between tiers to place it.</p>
          </div>
          <div className="card keys" aria-label="Shortcuts">
            <h3>Keys</h3>
            <ul>
              <li>
                <Kbd>j</Kbd>/<Kbd>k</Kbd> or <Kbd>↓</Kbd>/<Kbd>↑</Kbd> select an answer
              </li>
              <li>
                <Kbd>1</Kbd>…<Kbd>{ids.length}</Kbd> give it a rank{assignment.project.allow_ties ? " (same rank = tie)" : ""};{" "}
                <Kbd>0</Kbd> clears
              </li>
              <li>
                <Kbd>shift</Kbd>+<Kbd>{min}</Kbd>…<Kbd>{max}</Kbd> rate it ({scale.name ?? "rating"}); <Kbd>shift</Kbd>+<Kbd>0</Kbd>{" "}
                clears
              </li>
              <li>
                <Kbd>f</Kbd> flags · <Kbd>u</Kbd> cannot be ranked
              </li>
              <li>
                <Kbd>Enter</Kbd> submit · <Kbd>s</Kbd> skip · <Kbd>g</Kbd> guideline
              </li>
            </ul>
          </div>
          <ErrorList errors={errors} />
          <button className="primary" disabled={busy} onClick={() => submit()}>
            Submit ranking <Kbd>Enter</Kbd>
          </button>
        </aside>
      </div>
      {flagPicker && (
        <div className="dialog flag-picker" role="dialog" aria-label="Flags">
          <h3>Flags for answer {LETTERS[state.selected]}</h3>
          <ul>
            {guideline.flags.map((f, i) => {
              const on = (state.flags[state.ids[state.selected]] ?? []).includes(f.key);
              return (
                <li key={f.key} className={on ? "on" : ""}>
                  <Kbd>{R.flagKey(i)}</Kbd> {on ? "☑" : "☐"} {f.label}
                </li>
              );
            })}
          </ul>
          <p className="muted">
            <Kbd>Esc</Kbd>, <Kbd>f</Kbd> or <Kbd>Enter</Kbd> closes
          </p>
        </div>
      )}
      {unrankable !== null && (
        <div className="dialog" role="dialog" aria-label="Cannot be ranked">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (unrankable.trim()) {
                const reason = unrankable.trim();
                setUnrankable(null);
                submit(reason);
              }
            }}
          >
            <label>
              Why can these answers not be ranked? <Kbd>Enter</Kbd> submits, <Kbd>Esc</Kbd> cancels
              <input
                autoFocus
                name="unrankable-reason"
                value={unrankable}
                onChange={(e) => setUnrankable(e.target.value)}
                onKeyDown={(e) => e.key === "Escape" && setUnrankable(null)}
              />
            </label>
          </form>
        </div>
      )}
    </div>
  );
}
