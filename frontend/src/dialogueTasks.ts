// The admin form that opens dialogue tasks (POST /api/projects/{id}/dialogue-tasks/): checked here with the
// same rules as the API so that a bad form is explained before sending; the server still has the last word.

export const MAX_OPEN_AT_ONCE = 10_000;

export interface DialogueTasksForm {
  mode: "blank" | "prompts";
  count: string; // as typed
  promptIds: number[]; // the selected prompts
  priority: string; // as typed; empty is 0
}

export type DialogueTasksBody = { count: number; priority: number } | { prompt_ids: number[]; priority: number };

function wholeNumber(text: string): number | null {
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : null;
}

/** The request body, or what is wrong with the form (naming the field). */
export function dialogueTasksBody(form: DialogueTasksForm): { body: DialogueTasksBody } | { error: string } {
  const priority = form.priority.trim() === "" ? 0 : wholeNumber(form.priority);
  if (priority === null) return { error: "Priority must be a whole number (higher is served first)." };
  if (form.mode === "blank") {
    const count = wholeNumber(form.count);
    if (count === null || count < 1 || count > MAX_OPEN_AT_ONCE)
      return { error: `Count must be a whole number from 1 to ${MAX_OPEN_AT_ONCE}.` };
    return { body: { count, priority } };
  }
  const ids = [...new Set(form.promptIds)];
  if (ids.length === 0) return { error: "Select at least one prompt: each becomes the opening of one dialogue." };
  if (ids.length > MAX_OPEN_AT_ONCE) return { error: `Select at most ${MAX_OPEN_AT_ONCE} prompts.` };
  return { body: { prompt_ids: ids, priority } };
}

/** One line saying what was opened. */
export function openedSummary(tasks: { id: number; prompt: number | null }[]): string {
  const seeded = tasks.filter((t) => t.prompt !== null).length;
  const n = tasks.length;
  const what = seeded === n ? `seeded with ${n === 1 ? "its prompt" : "their prompts"}` : "blank";
  const ids = tasks.map((t) => t.id);
  const range = n === 0 ? "" : n === 1 ? ` (task ${ids[0]})` : ` (tasks ${Math.min(...ids)}–${Math.max(...ids)})`;
  return `Opened ${n} dialogue task${n === 1 ? "" : "s"}, ${what}${range}.`;
}

/** Toggle one prompt in the selection, keeping the selection's order of first choice. */
export function toggleSelected(selected: number[], id: number): number[] {
  return selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id];
}
