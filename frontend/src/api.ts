// The only way the app talks to the server: the DRF API with session auth and the CSRF header on writes.
// The API's types are generated from its OpenAPI schema (src/api/schema.d.ts, by `make api-client`): never write
// a server response's type by hand; name it here from `Schemas` (or `ResponseOf` an operation).
import type { components, paths } from "./api/schema";

/** Every component of the API schema: `Schemas["Project"]`, `Schemas["Error"]`, … */
export type Schemas = components["schemas"];

type Method = "get" | "put" | "post" | "patch" | "delete";
type JsonBody<R> = R extends { content: { "application/json": infer B } } ? B : never;
/** The JSON body an operation answers on success (its 200, 201 or 202), e.g. `ResponseOf<"/api/auth/me", "get">`. */
export type ResponseOf<P extends keyof paths, M extends Method> = paths[P][M] extends { responses: infer R }
  ? JsonBody<R[Extract<keyof R, 200 | 201 | 202>]>
  : never;

/** An error answer: the API's one error shape (`Schemas["Error"]`). */
export class ApiError extends Error {
  status: number;
  code: string;
  errors: Schemas["ErrorItem"][];
  constructor(status: number, body: Partial<Schemas["Error"]> | null) {
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

/** Call the API; `T` is the success body's type (name it from `Schemas` or `ResponseOf`). */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
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

export type Me = Schemas["Me"];
export type Project = Schemas["Project"];
export type Guideline = Schemas["Guideline"];
export type Message = Schemas["Message"];
/** A lease as the labeler sees it: the task (answers under the labeler's ids), its project and guideline. */
export type Assignment = Schemas["Assignment"];

export function uuid(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
    (Number(c) ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (Number(c) / 4)))).toString(16),
  );
}

/** An inference endpoint the operator configured (project API: inference-endpoints/), chosen by name;
 * `base_url` reaches site staff only (null for everyone else). */
export type InferenceEndpoint = Schemas["InferenceEndpoint"];

/** A generation job (project API: generation-jobs/): K sampled answers per prompt become ranking tasks. The
 * traceback (`error_detail`) reaches site staff only (null for everyone else). */
export type GenerationJob = Schemas["GenerationJob"];
