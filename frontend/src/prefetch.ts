// The workspace leases the task after the current one while the labeler works
// (POST /api/projects/{id}/assignments/next/?prefetch=1: at most one extra lease, returned again on repeat),
// so that after a submit or skip the next task shows at once. This decides whether a prefetched lease can be
// shown as it is, or the page must ask the server (plain next) instead.

export interface Lease {
  id: number;
  expires_at: string;
}

/** Time a prefetched lease must still have to be worth showing without asking the server. */
export const MIN_LEFT_MS = 60_000;

export function usablePrefetched<T extends Lease>(prefetched: T | null, currentId: number | null, nowMs: number): T | null {
  if (!prefetched || prefetched.id === currentId) return null;
  const expires = Date.parse(prefetched.expires_at);
  if (!Number.isFinite(expires) || expires - nowMs < MIN_LEFT_MS) return null;
  return prefetched;
}
