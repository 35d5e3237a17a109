// Admins open dialogue tasks: a number of blank ones, or one per selected prompt (its turns are the opening).
import { useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api";
import { dialogueTasksBody, DialogueTasksForm, openedSummary, toggleSelected } from "../dialogueTasks";
import { errorView, type ErrorView } from "../importHelp";

type PromptRow = Schemas["Prompt"];

function preview(p: PromptRow): string {
  const last = p.messages[p.messages.length - 1]?.content ?? "";
  return last.length > 100 ? last.slice(0, 100) + "…" : last;
}

export function DialogueTasksCard({ projectId }: { projectId: number }) {
  const [form, setForm] = useState<DialogueTasksForm>({ mode: "blank", count: "10", promptIds: [], priority: "" });
  const [prompts, setPrompts] = useState<PromptRow[] | null>(null);
  const [result, setResult] = useState("");
  const [error, setError] = useState<{ message: string; errors: { message: string; field?: string }[] } | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (form.mode === "prompts" && prompts === null)
      api<{ results: PromptRow[] }>("GET", `/api/projects/${projectId}/prompts/`).then((d) => setPrompts(d.results));
  }, [form.mode, prompts, projectId]);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setResult("");
    setError(null);
    const built = dialogueTasksBody(form);
    if ("error" in built) {
      setError({ message: built.error, errors: [] });
      return;
    }
    setBusy(true);
    try {
      const tasks = await api<Schemas["TaskAdmin"][]>(
        "POST",
        `/api/projects/${projectId}/dialogue-tasks/`,
        built.body,
      );
      setResult(openedSummary(tasks));
      setForm({ ...form, promptIds: [] });
    } catch (err) {
      if (err instanceof ApiError) setError({ message: err.message, errors: err.errors });
      else throw err;
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card dialogue-tasks" onSubmit={submit} aria-label="Open dialogue tasks">
      <h2 className="section-title">Open dialogue tasks</h2>
      <p className="muted small">
        Labelers write a whole conversation, playing the user and the assistant. Served only while the project's
        dialogue tasks are on (Settings).
      </p>
      <div className="inline-form">
        <label>
          <input type="radio" checked={form.mode === "blank"} onChange={() => setForm({ ...form, mode: "blank" })} /> blank
        </label>
        <label>
          <input type="radio" checked={form.mode === "prompts"} onChange={() => setForm({ ...form, mode: "prompts" })} />{" "}
          from selected prompts
        </label>
        {form.mode === "blank" && (
          <label>
            count{" "}
            <input name="count" inputMode="numeric" size={6} value={form.count} onChange={(e) => setForm({ ...form, count: e.target.value })} />
          </label>
        )}
        <label>
          priority{" "}
          <input
            name="priority"
            inputMode="numeric"
            size={4}
            placeholder="0"
            value={form.priority}
            onChange={(e) => setForm({ ...form, priority: e.target.value })}
          />
        </label>
        <button type="submit" disabled={busy}>
          Open
        </button>
      </div>
      {form.mode === "prompts" && (
        <div className="prompt-picker">
          {prompts === null && <p>Loading prompts…</p>}
          {prompts?.length === 0 && <p>This project has no prompts yet: import some first.</p>}
          {prompts?.map((p) => (
            <label key={p.id} className="prompt-option">
              <input
                type="checkbox"
                data-prompt={p.id}
                checked={form.promptIds.includes(p.id)}
                onChange={() => setForm({ ...form, promptIds: toggleSelected(form.promptIds, p.id) })}
              />{" "}
              <span className="muted small">{p.external_id || `#${p.id}`}</span> {preview(p)}
            </label>
          ))}
          <p className="muted small">{form.promptIds.length} selected</p>
        </div>
      )}
      {result && (
        <p className="ok" role="status">
          {result}
        </p>
      )}
      {error && <DialogueTasksError {...errorView(error.message, error.errors)} />}
    </form>
  );
}

function DialogueTasksError({ summary, rows }: ErrorView) {
  return (
    <div className="error" role="alert">
      <strong>{summary}</strong>
      {rows.map((x, i) => (
        <div key={i}>
          {x.field ? `${x.field}: ` : ""}
          {x.message}
        </div>
      ))}
    </div>
  );
}
