// Editing a prompt as a conversation (pure functions, no React): a list of turns, each a role and its content.
// The shape rules: a system turn may only come first; after it, turns alternate user, assistant, user, …; the
// last turn is the user's (the assistant answers next). Only the first turn's role is a choice (system or
// user); every later role follows from alternation, so the editor can never hold an out-of-order conversation.
// The server checks the same and more (labeling/services/conversations.py).

export type Role = "system" | "user" | "assistant";

export interface Turn {
  role: Role;
  content: string;
}

export interface PromptState {
  turns: Turn[];
  selected: number;
}

export const MAX_MESSAGES = 200;
export const MAX_MESSAGE_CHARS = 32_000;

export function initialState(): PromptState {
  return { turns: [{ role: "user", content: "" }], selected: 0 };
}

/** The role a turn must have after the given one. */
export function roleAfter(previous: Role | undefined): Role {
  if (previous === undefined) return "user";
  return previous === "user" ? "assistant" : "user";
}

/** The roles the turn at `index` may take: system or user first, then exactly the alternation. */
export function allowedRoles(turns: Turn[], index: number): Role[] {
  if (index === 0) return ["system", "user"];
  return [roleAfter(turns[index - 1]?.role)];
}

/** Recompute every role after the first from the alternation rule (after an insert, a removal or a role change). */
export function normalizeRoles(turns: Turn[]): Turn[] {
  const out: Turn[] = [];
  turns.forEach((t, i) => {
    const role: Role = i === 0 ? (t.role === "system" ? "system" : "user") : roleAfter(out[i - 1].role);
    out.push(role === t.role ? t : { ...t, role });
  });
  return out;
}

function clampSelected(s: PromptState): PromptState {
  const selected = Math.max(0, Math.min(s.selected, s.turns.length - 1));
  return selected === s.selected ? s : { ...s, selected };
}

/** Add an empty turn after `after` (default: at the end) with the role alternation asks for; select it. */
export function addTurn(s: PromptState, after: number = s.turns.length - 1): PromptState {
  if (s.turns.length >= MAX_MESSAGES) return s;
  const at = Math.max(0, Math.min(after + 1, s.turns.length));
  const turns = [...s.turns];
  turns.splice(at, 0, { role: roleAfter(turns[at - 1]?.role), content: "" });
  return { turns: normalizeRoles(turns), selected: at };
}

/** Remove a turn; the last remaining turn is emptied instead (a prompt always has at least one turn). */
export function removeTurn(s: PromptState, index: number): PromptState {
  if (index < 0 || index >= s.turns.length) return s;
  if (s.turns.length === 1) return { turns: [{ role: s.turns[0].role, content: "" }], selected: 0 };
  const turns = normalizeRoles(s.turns.filter((_, i) => i !== index));
  return clampSelected({ turns, selected: index >= turns.length ? turns.length - 1 : index });
}

export function setContent(s: PromptState, index: number, content: string): PromptState {
  if (index < 0 || index >= s.turns.length) return s;
  const turns = s.turns.map((t, i) => (i === index ? { ...t, content } : t));
  return { ...s, turns };
}

/** Change the first turn's role (system or user); later roles follow. Any other change is refused (no-op). */
export function setRole(s: PromptState, index: number, role: Role): PromptState {
  if (!allowedRoles(s.turns, index).includes(role) || s.turns[index]?.role === role) return s;
  const turns = s.turns.map((t, i) => (i === index ? { ...t, role } : t));
  return { ...s, turns: normalizeRoles(turns) };
}

/** Toggle whether the conversation starts with a system turn. */
export function toggleSystem(s: PromptState): PromptState {
  return setRole(s, 0, s.turns[0].role === "system" ? "user" : "system");
}

export function select(s: PromptState, index: number): PromptState {
  return clampSelected({ ...s, selected: index });
}

export function moveSelection(s: PromptState, delta: number): PromptState {
  return select(s, s.selected + delta);
}

/** What is wrong with the conversation, in words; empty when it can be submitted. */
export function validate(turns: Turn[]): string[] {
  const problems: string[] = [];
  if (turns.length === 0) return ["Write at least one user turn."];
  if (turns.length > MAX_MESSAGES) problems.push(`At most ${MAX_MESSAGES} turns are allowed.`);
  turns.forEach((t, i) => {
    const expected = allowedRoles(turns, i);
    if (!expected.includes(t.role)) problems.push(`Turn ${i + 1} should be ${expected.join(" or ")}, not ${t.role}.`);
    if (!t.content.trim()) problems.push(`Turn ${i + 1} (${t.role}) is empty.`);
    else if (t.content.length > MAX_MESSAGE_CHARS)
      problems.push(`Turn ${i + 1} has ${t.content.length} characters; at most ${MAX_MESSAGE_CHARS}.`);
  });
  if (turns[turns.length - 1].role !== "user")
    problems.push("The last turn must be the user's (the assistant answers next): add a user turn.");
  return problems;
}

/** The body's `messages`: exactly the turns as written. */
export function toMessages(turns: Turn[]): { role: Role; content: string }[] {
  return turns.map((t) => ({ role: t.role, content: t.content }));
}

/** Accept a stored draft only when it has the right shape; roles are re-derived so a stale copy stays valid. */
export function fromStored(value: unknown): PromptState | null {
  if (!value || typeof value !== "object") return null;
  const turns = (value as { turns?: unknown }).turns;
  if (!Array.isArray(turns) || turns.length === 0) return null;
  const clean: Turn[] = [];
  for (const t of turns.slice(0, MAX_MESSAGES)) {
    if (!t || typeof t !== "object") return null;
    const { role, content } = t as { role?: unknown; content?: unknown };
    if (typeof content !== "string" || !["system", "user", "assistant"].includes(String(role))) return null;
    clean.push({ role: role as Role, content });
  }
  const selected = Number((value as { selected?: unknown }).selected) || 0;
  return clampSelected({ turns: normalizeRoles(clean), selected });
}

// Dialogue tasks: the labeler writes a whole conversation, playing both roles. The same shape rules, except
// that it ends with the assistant's turn (labeling/services/conversations.py `dialogue_errors`).

/** Where a dialogue starts: the task's seed prompt when it has one (then the assistant's turn to write), else
 * an empty user turn. */
export function dialogueInitial(seed: { role: string; content: string }[]): PromptState {
  const turns: Turn[] = seed
    .filter((m) => ["system", "user", "assistant"].includes(m.role))
    .slice(0, MAX_MESSAGES - 1)
    .map((m) => ({ role: m.role as Role, content: m.content }));
  if (turns.length === 0) return initialState();
  const normalized = normalizeRoles(turns);
  const withAnswer = addTurn({ turns: normalized, selected: normalized.length - 1 });
  return withAnswer.turns[withAnswer.turns.length - 1].role === "assistant"
    ? withAnswer
    : { turns: normalized, selected: normalized.length - 1 };
}

/** What is wrong with a dialogue, in words, each naming its turn; empty when it can be submitted. */
export function validateDialogue(turns: Turn[]): string[] {
  const problems = validate(turns).filter((p) => !p.startsWith("The last turn must be the user's"));
  const answered = turns.some((t) => t.role === "assistant");
  if (!answered) problems.push("Write at least one user turn and the assistant's answer.");
  else if (turns[turns.length - 1].role !== "assistant")
    problems.push(`Turn ${turns.length} is the user's: a dialogue ends with the assistant's turn.`);
  return problems;
}

/** ctrl+Enter in the last turn: add the next turn when the last one is written (the other role speaks next). */
export function continueDialogue(s: PromptState): PromptState {
  const last = s.turns[s.turns.length - 1];
  if (!last.content.trim()) return { ...s, selected: s.turns.length - 1 };
  return addTurn(s, s.turns.length - 1);
}
