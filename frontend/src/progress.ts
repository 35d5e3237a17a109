// The labeler's progress line in the workspace, from GET /api/projects/{id}/my-stats/.
import type { Schemas } from "./api";

type Counts = Pick<Schemas["MyStats"], "tasks_left" | "tasks_total">;

/** "12 of 40 left in this project"; "none left in this project" when done; "" before the counts are known. */
export function progressText(stats: Counts | null | undefined): string {
  if (!stats || stats.tasks_total == null || stats.tasks_left == null) return "";
  if (stats.tasks_left === 0) return `none of ${stats.tasks_total} left in this project`;
  return `${stats.tasks_left} of ${stats.tasks_total} left in this project`;
}
