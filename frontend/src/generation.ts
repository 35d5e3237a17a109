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

/** The body of `POST …/generation-jobs/` from the form's strings; numbers left blank take the server's defaults. */
export function jobRequest(form: Record<string, string>): Record<string, unknown> {
  const settings: Record<string, number> = {};
  for (const key of ["k", "temperature", "top_p", "max_new_tokens", "seed", "best_of_n"]) {
    const raw = (form[key] ?? "").trim();
    if (raw !== "") settings[key] = Number(raw);
  }
  const body: Record<string, unknown> = {
    model: Number(form.model),
    prompts: form.prompts,
    backend: form.backend,
    settings,
  };
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
