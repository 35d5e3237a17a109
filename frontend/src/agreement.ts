// Why the Agreement page has no agreement figure yet, and what an admin can do about it.
import type { Schemas } from "./api";

type Overall = Pick<Schemas["AgreementOverall"], "tasks_with_several_labelers" | "gold_rankings">;

export interface EmptyAgreement {
  reason: string;
  advice: string[];
}

/** The empty state's text, or null once some task has rankings by several labelers (agreement is measured). */
export function agreementEmptyState(overall: Overall, redundancy: number | null): EmptyAgreement | null {
  if (overall.tasks_with_several_labelers > 0) return null;
  const gold =
    overall.gold_rankings > 0
      ? `Gold accuracy already compares ${overall.gold_rankings} ranking(s) with the expected order.`
      : "Or add gold tasks (a task marked gold with its expected order, in the Django admin) and set a gold rate in Settings: each labeler is then measured against the expected order, even alone.";
  if (redundancy !== null && redundancy <= 1) {
    return {
      reason:
        "This project has one labeler per task (redundancy 1), so no two labelers ever rank the same task: agreement between labelers can never be measured here.",
      advice: [
        "Raise Redundancy to 2 or more in Settings; it applies to tasks imported or opened after the change, so import or open the tasks to compare afterwards.",
        gold,
      ],
    };
  }
  const each = redundancy === null ? "several labelers" : `${redundancy} labelers`;
  return {
    reason: `No task has been ranked by two labelers yet. Each task goes to ${each}; agreement appears once two of them have ranked the same task.`,
    advice: [
      "Make sure at least two labelers are members and working; tasks imported while redundancy was 1 never reach a second labeler.",
      gold,
    ],
  };
}
