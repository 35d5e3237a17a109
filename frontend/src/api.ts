// The only way the app talks to the server: the DRF API with session auth and the CSRF header on writes.

export class ApiError extends Error {
  status: number;
  code: string;
  errors: { message: string; field?: string; line?: number }[];
  constructor(status: number, body: any) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || "";
    this.errors = (body && Array.isArray(body.errors) && body.errors) || [];
  }
}

let csrfToken: string | null = null;
let serverOffsetMs = 0;

/** The server's clock (from the last response's Date header), so lease countdowns ignore a skewed client clock. */
export function serverNow(): number {
  return Date.now() + serverOffsetMs;
}

function cookie(name: string): string | null {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : null;
}

async function ensureCsrf(): Promise<string> {
  const fromCookie = cookie("csrftoken");
  if (fromCookie) return fromCookie;
  if (csrfToken) return csrfToken;
  const r = await fetch("/api/auth/csrf", { credentials: "same-origin" });
  csrfToken = (await r.json()).csrf_token;
  return csrfToken!;
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const init: RequestInit = { method, credentials: "same-origin", headers };
  if (method !== "GET") {
    headers["X-CSRFToken"] = await ensureCsrf();
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const r = await fetch(path, init);
  const date = r.headers.get("date");
  if (date) serverOffsetMs = Date.parse(date) + 500 - Date.now(); // the header has 1 s resolution
  if (r.status === 204) return null as T;
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, data);
  return data as T;
}

export function resetCsrf(): void {
  csrfToken = null;
}

export interface Me {
  id: number;
  username: string;
  is_staff: boolean;
  projects: { id: number; name: string; role: string }[];
}

export interface Project {
  id: number;
  name: string;
  slug: string;
  description: string;
  k_answers: number;
  redundancy: number;
  lease_seconds: number;
  allow_ties: boolean;
  gold_rate: number;
  prompt_tasks_enabled: boolean;
  dialogue_tasks_enabled: boolean;
  open_tasks?: number;
  my_active_assignments?: number;
  my_role: string | null;
}

export interface Guideline {
  id: number;
  version: number;
  body_md: string;
  criteria: string[];
  rating_scale: { name?: string; min?: number; max?: number; labels?: Record<string, string> };
  flags: { key: string; label: string }[];
  created_at: string;
}

export interface Message {
  role: string;
  content: string;
}

export interface Assignment {
  id: number;
  status: string;
  leased_at: string;
  expires_at: string;
  finished_at: string | null;
  task: { id: number; kind: "ranking" | "demonstration" | "prompt" | "dialogue"; messages: Message[]; candidates: { id: number; text: string }[] };
  project: { id: number; name: string; allow_ties: boolean; k_answers: number };
  guideline: Guideline | null;
}

export function uuid(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
    (Number(c) ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (Number(c) / 4)))).toString(16),
  );
}

/** An inference endpoint the operator configured (project API: inference-endpoints/), chosen by name. */
export interface InferenceEndpoint {
  name: string;
  api: "chat" | "completions";
  models: string[];
  default_model: string;
  /** Site staff only; null for everyone else. */
  base_url: string | null;
}

/** A generation job (project API: generation-jobs/): K sampled answers per prompt become ranking tasks. */
export interface GenerationJob {
  id: number;
  model: number;
  model_name: string;
  backend: "local" | "openai";
  /** The name of an inference endpoint the operator configured (openai backend), and the model it serves. */
  endpoint: string;
  endpoint_model: string;
  settings: Record<string, number>;
  reward_model: number | null;
  reward_model_name: string | null;
  selection: { prompts?: string; prompt_ids?: number[]; limit?: number | null };
  status: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  cancel_requested: boolean;
  attempts: number;
  prompts_total: number;
  prompts_done: number;
  prompts_skipped: number;
  skipped: { prompt: number; reason: string }[];
  /** One line for admins; the traceback (`error_detail`) reaches site staff only (null for everyone else). */
  error: string;
  error_detail: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}
