import { Fragment, useEffect, useMemo, useRef, useState } from "react";
import { Assignment, Guideline } from "../api";
import { Markdown } from "../markdown";
import * as R from "../ranking";
import { Conversation } from "./Conversation";
import { Kbd } from "./Kbd";
import { Dialog, ReasonDialog } from "./Dialog";
import { onControl, typing } from "./keys";
import { ErrorList, Outcome, useSubmission } from "./taskParts";

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
  const [unrankable, setUnrankable] = useState(false);
  const { busy, errors, setErrors, send } = useSubmission(storageKey, onDone);
  // Errors from the page's own checks are re-checked on every change, so a fixed one goes away at once.
  const [localErrors, setLocalErrors] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  const dragged = useRef<number | null>(null);
  const previous = useRef(state);
  const byKeyboard = useRef(false);
  const options = useRef<(HTMLLIElement | null)[]>([]);
  const scale = guideline.rating_scale;
  const { min, max } = R.scaleBounds(scale);
  const flagKeys = guideline.flags.map((f) => f.key);
  const letter = (id: number) => LETTERS[ids.indexOf(id)] ?? String(id);
  const flagLabel = (key: string) => guideline.flags.find((f) => f.key === key)?.label ?? key;
  const selectedId = state.ids[state.selected];

  useEffect(() => {
    localStorage.setItem(storageKey, JSON.stringify(state));
    const said = R.describeChange(previous.current, state, letter, flagLabel, max);
    previous.current = state;
    if (said) setAnnouncement(said);
    if (localErrors) setErrors(R.validate(state, scale, flagKeys));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [state, storageKey]);

  // Focus follows a selection made from the keyboard, and the selected answer is scrolled into view.
  useEffect(() => {
    if (!byKeyboard.current) return;
    byKeyboard.current = false;
    const el = options.current[state.selected];
    if (!el) return;
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest" });
  }, [state.selected, state]);

  const update = (change: (s: R.RankingState) => R.RankingState, fromKeyboard = false) => {
    byKeyboard.current = fromKeyboard;
    setState(change);
  };
  const rank = (value: number | null, fromKeyboard = false) =>
    update((s) => {
      const id = s.ids[s.selected];
      return value == null ? R.setRank(s, id, null) : R.advanceToUnranked(R.setRank(s, id, value));
    }, fromKeyboard);
  const rate = (value: number | null) => update((s) => R.setRating(s, s.ids[s.selected], value, scale));
  const toggleFlag = (key: string) => update((s) => R.toggleFlag(s, s.ids[s.selected], key));

  const submit = async (reason?: string) => {
    if (busy) return;
    const body: Record<string, unknown> = { guideline_version: guideline.version };
    if (reason) body.unrankable_reason = reason;
    else {
      const problems = R.validate(state, scale, flagKeys);
      if (problems.length) {
        setLocalErrors(true);
        setErrors(problems);
        return;
      }
      Object.assign(body, R.toPayload(state));
    }
    setLocalErrors(false);
    await send(submitPath ?? `/api/assignments/${assignment.id}/submit/`, body);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (paused || unrankable || typing(e) || e.metaKey || e.altKey) return;
      // Enter and space on a focused button are that button's.
      if ((e.key === "Enter" || e.key === " ") && onControl(e)) return;
      if (e.key === "Tab") return;
      if (flagPicker) {
        e.preventDefault();
        if (e.key === "Escape" || e.key === "f" || e.key === "Enter") setFlagPicker(false);
        else {
          const i = R.flagIndexForKey(e.key, flagKeys.length);
          if (i != null) toggleFlag(flagKeys[i]);
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
        rate(v === 0 ? null : v);
        return;
      }
      if (e.key === "j" || e.key === "ArrowDown") {
        e.preventDefault();
        update((s) => R.moveSelection(s, 1), true);
      } else if (e.key === "k" || e.key === "ArrowUp") {
        e.preventDefault();
        update((s) => R.moveSelection(s, -1), true);
      } else if (e.key === "Home" || e.key === "End") {
        e.preventDefault();
        update((s) => R.select(s, e.key === "Home" ? 0 : s.ids.length - 1), true);
      } else if (/^[1-9]$/.test(e.key) && Number(e.key) <= ids.length) {
        e.preventDefault();
        rank(Number(e.key), true);
      } else if (e.key === "0" || e.key === "Backspace" || e.key === "Delete") {
        e.preventDefault();
        rank(null, true);
      } else if (e.key === "f" && flagKeys.length) {
        e.preventDefault();
        setFlagPicker(true);
      } else if (e.key === "u") {
        e.preventDefault();
        setUnrankable(true);
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
    if (id != null) update((s) => R.normalize(R.dropInto(s, id, tierIndex, newTier)));
  };
  const allowDrop = (e: React.DragEvent) => e.preventDefault();
  const chip = (id: number) => (
    <span
      key={id}
      className="chip"
      draggable
      onDragStart={() => (dragged.current = id)}
      onClick={() => update((s) => R.select(s, ids.indexOf(id)))}
    >
      {letter(id)}
    </span>
  );
  const selectedRank = state.ranks[selectedId];
  const selectedRating = state.ratings[selectedId];
  const selectedFlags = state.flags[selectedId] ?? [];
  const ratingValues = Array.from({ length: Math.max(0, max - min + 1) }, (_, i) => min + i);
  const locked = busy || paused;

  return (
    <div className="ranking">
      <Conversation messages={assignment.task.messages} />
      <div className="ranking-body">
        <ol
          className="answers"
          role="listbox"
          aria-label="Answers: j and k select, 1 to 9 rank"
          aria-orientation="vertical"
        >
          {state.ids.map((id, i) => {
            const c = assignment.task.candidates[i];
            const rank = state.ranks[id];
            const tied = rank != null && state.ids.filter((x) => state.ranks[x] === rank).length > 1;
            const selected = i === state.selected;
            return (
              <li
                key={id}
                ref={(el) => {
                  options.current[i] = el;
                }}
                role="option"
                aria-selected={selected}
                // Named by its head and its whole text: an option's name must hold what it shows.
                aria-labelledby={`answer-head-${id} answer-text-${id}`}
                tabIndex={selected ? 0 : -1}
                data-candidate={id}
                className={"answer card" + (selected ? " selected" : "")}
                draggable
                onDragStart={() => (dragged.current = id)}
                onClick={() => update((s) => R.select(s, i))}
              >
                {/* The spaces between the parts keep their words apart in the option's name ("A rank 2"). */}
                <div className="answer-head" id={`answer-head-${id}`}>
                  <span className="letter">{LETTERS[i]}</span>{" "}
                  <span className="rank" data-rank={rank ?? ""}>
                    {rank == null ? "unranked" : `rank ${rank}${tied ? " (tie)" : ""}`}
                  </span>{" "}
                  <span className="rating" data-rating={state.ratings[id] ?? ""}>
                    {state.ratings[id] != null ? `rated ${state.ratings[id]}/${max}` : ""}
                  </span>
                  {(state.flags[id] ?? []).map((k) => (
                    <Fragment key={k}>
                      {" "}
                      <span className="badge flag">{flagLabel(k)}</span>
                    </Fragment>
                  ))}
                  {c.truncated && (
                    <>
                      {" "}
                      {/* Neutral: says nothing of which model wrote the answer, only that it hit the limit. */}
                      <span className="badge cut-off">answer was cut off (length limit)</span>
                    </>
                  )}
                </div>{" "}
                <div id={`answer-text-${id}`}>
                  <Markdown text={c.text} className="answer-text" plainLinks />
                </div>
              </li>
            );
          })}
        </ol>
        <aside className="side">
          <div className="card controls" role="group" aria-label={`Answer ${LETTERS[state.selected]}`}>
            <h2 className="section-title">
              Answer <span data-testid="selected-letter">{LETTERS[state.selected]}</span>
            </h2>
            <div className="control-row" role="group" aria-label="Rank">
              <span className="control-name">Rank</span>
              {ids.map((_, i) => (
                <button
                  key={i}
                  type="button"
                  className="small"
                  data-rank-button={i + 1}
                  aria-pressed={selectedRank === i + 1}
                  disabled={locked}
                  onClick={() => rank(i + 1)}
                >
                  {i + 1}
                </button>
              ))}
              <button
                type="button"
                className="small"
                data-rank-button="clear"
                disabled={locked || selectedRank == null}
                onClick={() => rank(null)}
              >
                clear <Kbd>0</Kbd>
              </button>
            </div>
            <div className="control-row" role="group" aria-label={`Rating (${scale.name ?? "rating"})`}>
              <span className="control-name">Rate</span>
              {ratingValues.map((v) => (
                <button
                  key={v}
                  type="button"
                  className="small"
                  data-rate-button={v}
                  aria-pressed={selectedRating === v}
                  disabled={locked}
                  onClick={() => rate(v)}
                >
                  {v}
                </button>
              ))}
              <button
                type="button"
                className="small"
                data-rate-button="clear"
                disabled={locked || selectedRating == null}
                onClick={() => rate(null)}
              >
                clear
              </button>
            </div>
            <div className="control-row">
              <button
                type="button"
                aria-haspopup="dialog"
                disabled={locked || flagKeys.length === 0}
                onClick={() => setFlagPicker(true)}
              >
                Flags{selectedFlags.length ? ` (${selectedFlags.length})` : ""}… <Kbd>f</Kbd>
              </button>
            </div>
          </div>
          <div className="card tiers" aria-label="Ranking, best first">
            <h2 className="section-title">Ranking, best first</h2>
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
            <h2 className="section-title">Keys</h2>
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
          <div className="actions">
            <button className="primary" disabled={locked} onClick={() => submit()}>
              Submit ranking <Kbd>Enter</Kbd>
            </button>
            <button type="button" aria-haspopup="dialog" disabled={locked} onClick={() => setUnrankable(true)}>
              Cannot be ranked… <Kbd>u</Kbd>
            </button>
          </div>
        </aside>
      </div>
      <div className="sr-only" role="status" aria-live="polite" aria-atomic="true" data-testid="ranking-live">
        {announcement}
      </div>
      {flagPicker && (
        <Dialog label={`Flags for answer ${LETTERS[state.selected]}`} className="flag-picker" onClose={() => setFlagPicker(false)}>
          <h2 className="section-title">Flags for answer {LETTERS[state.selected]}</h2>
          <ul>
            {guideline.flags.map((f, i) => {
              const on = selectedFlags.includes(f.key);
              return (
                <li key={f.key} className={on ? "on" : ""}>
                  <button
                    type="button"
                    className="flag-toggle"
                    role="checkbox"
                    aria-checked={on}
                    data-flag={f.key}
                    onClick={() => toggleFlag(f.key)}
                  >
                    <Kbd>{R.flagKey(i)}</Kbd> <span aria-hidden="true">{on ? "☑" : "☐"}</span> {f.label}
                  </button>
                </li>
              );
            })}
          </ul>
          <div className="dialog-actions">
            <button type="button" className="primary" onClick={() => setFlagPicker(false)}>
              Done <Kbd>Esc</Kbd>
            </button>
          </div>
        </Dialog>
      )}
      {unrankable && (
        <ReasonDialog
          label="Cannot be ranked"
          question="Why can these answers not be ranked?"
          confirm="Mark cannot be ranked"
          name="unrankable-reason"
          onConfirm={(reason) => {
            setUnrankable(false);
            submit(reason);
          }}
          onCancel={() => setUnrankable(false)}
        />
      )}
    </div>
  );
}
