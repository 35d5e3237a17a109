// Pure helpers of the generation-jobs page (tested with Vitest).
import type { GenerationJob } from "./api";

export type JobStatus = GenerationJob["status"];

export function isActive(status: JobStatus): boolean {
  return status === "queued" || status === "running";
}

export function canResume(status: JobStatus): boolean {
  return status === "cancelled" || status === "failed";
}

/** Prompts handled (stored or skipped) out of the job's prompts, and a label like "3/8 prompts (1 skipped)". */
export function jobProgress(job: Pick<GenerationJob, "prompts_total" | "prompts_done" | "prompts_skipped">): {
  value: number;
  max: number;
  label: string;
} {
  const max = Math.max(job.prompts_total, 0);
  const value = Math.min(job.prompts_done + job.prompts_skipped, max);
  const skipped = job.prompts_skipped ? ` (${job.prompts_skipped} skipped)` : "";
  return { value, max, label: `${value}/${max} prompts${skipped}` };
}

/** One model of the form and how many of each prompt's K answers it writes (strings, as typed). */
export type SourceRow = { model: string; answers: string };

/** The answers the rows give so far and what is missing for K ("" when they add up), for the form's hint. */
export function sourcesHint(rows: SourceRow[], k: number): string {
  if (rows.length < 2) return "";
  const total = rows.reduce((sum, r) => sum + (Number(r.answers) || 0), 0);
  return total === k ? "" : `the answers add up to ${total}; each prompt needs K=${k}`;
}

/** The body of `POST …/generation-jobs/` from the form's strings; numbers left blank take the server's defaults.
 * One model row samples all K answers (`model`); several send `models`, each with its share of the K answers. */
export function jobRequest(form: Record<string, string>, sources: SourceRow[] = []): Record<string, unknown> {
  const settings: Record<string, number> = {};
  for (const key of ["k", "temperature", "top_p", "max_new_tokens", "seed", "best_of_n"]) {
    const raw = (form[key] ?? "").trim();
    if (raw !== "") settings[key] = Number(raw);
  }
  const body: Record<string, unknown> =
    sources.length > 1
      ? { models: sources.map((r) => ({ model: Number(r.model), answers: Number(r.answers) })) }
      : { model: Number(sources[0]?.model ?? form.model) };
  Object.assign(body, { prompts: form.prompts, backend: form.backend, settings });
  if ((form.limit ?? "").trim() !== "") body.limit = Number(form.limit);
  if (settings.best_of_n) body.reward_model = Number(form.reward_model);
  if (form.backend === "openai") {
    // An endpoint is named, never located: the operator's configuration says where it is and which key it takes.
    body.endpoint = form.endpoint ?? "";
    if ((form.endpoint_model ?? "") !== "") body.endpoint_model = form.endpoint_model;
  }
  return body;
}

/** How long a job ran ("1 min 05 s"), or has been running so far (`now` in ms); "–" before it starts. */
export function jobDuration(job: Pick<GenerationJob, "started_at" | "finished_at">, now: number): string {
  if (!job.started_at) return "–";
  const end = job.finished_at ? Date.parse(job.finished_at) : now;
  const s = Math.max(0, Math.round((end - Date.parse(job.started_at)) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${String(s % 60).padStart(2, "0")} s` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** "cut off at 256 tokens" for a job whose answers hit the limit, else "". */
export function truncatedBadge(job: Pick<GenerationJob, "truncated_answers" | "settings">): string {
  if (!job.truncated_answers) return "";
  const limit = job.settings.max_new_tokens;
  const n = job.truncated_answers;
  return `${n} answer${n === 1 ? "" : "s"} cut off at ${limit} tokens`;
}
