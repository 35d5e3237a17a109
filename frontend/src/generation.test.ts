import { describe, expect, it } from "vitest";
import { canResume, isActive, jobDuration, jobProgress, jobRequest, sourcesHint, truncatedBadge } from "./generation";

describe("generation jobs", () => {
  it("counts stored and skipped prompts as progress", () => {
    expect(jobProgress({ prompts_total: 8, prompts_done: 3, prompts_skipped: 1 })).toEqual({
      value: 4,
      max: 8,
      label: "4/8 prompts (1 skipped)",
    });
    expect(jobProgress({ prompts_total: 2, prompts_done: 2, prompts_skipped: 0 }).label).toBe("2/2 prompts");
  });

  it("offers cancel while a job is active and resume once it stopped", () => {
    expect(isActive("queued") && isActive("running")).toBe(true);
    expect(isActive("succeeded")).toBe(false);
    expect(canResume("failed") && canResume("cancelled")).toBe(true);
    expect(canResume("running") || canResume("succeeded")).toBe(false);
  });

  it("builds the request: blank numbers are left to the server, endpoint fields only for openai", () => {
    const local = jobRequest({ model: "3", prompts: "no_ranking_task", backend: "local", k: "4", temperature: "0.7", top_p: "", limit: "" });
    expect(local).toEqual({ model: 3, prompts: "no_ranking_task", backend: "local", settings: { k: 4, temperature: 0.7 } });
    const remote = jobRequest({
      model: "3", prompts: "accepted_demonstration", backend: "openai", best_of_n: "8", reward_model: "5",
      endpoint: "vllm", endpoint_model: "m", limit: "10",
    });
    expect(remote).toMatchObject({
      limit: 10, reward_model: 5, settings: { best_of_n: 8 }, endpoint: "vllm", endpoint_model: "m",
    });
    const byDefault = jobRequest({ model: "3", prompts: "no_ranking_task", backend: "openai", endpoint: "vllm", endpoint_model: "" });
    expect(byDefault).toEqual({ model: 3, prompts: "no_ranking_task", backend: "openai", settings: {}, endpoint: "vllm" });
    for (const body of [local, remote, byDefault]) {
      expect(Object.keys(body)).not.toContain("endpoint_url");
      expect(Object.keys(body)).not.toContain("api_key_env");
    }
  });
});

describe("jobs drawing from several models", () => {
  it("sends one model as `model` (the old form) and several as `models` with their answers", () => {
    const form = { model: "", prompts: "no_ranking_task", backend: "local" };
    expect(jobRequest(form, [{ model: "3", answers: "4" }])).toEqual({ model: 3, prompts: "no_ranking_task", backend: "local", settings: {} });
    const mixed = jobRequest(form, [{ model: "3", answers: "2" }, { model: "7", answers: "2" }]);
    expect(mixed).toEqual({
      models: [{ model: 3, answers: 2 }, { model: 7, answers: 2 }], prompts: "no_ranking_task", backend: "local", settings: {},
    });
    expect(Object.keys(mixed)).not.toContain("model");
  });

  it("says when the answers do not add up to K", () => {
    expect(sourcesHint([{ model: "3", answers: "4" }], 4)).toBe("");
    expect(sourcesHint([{ model: "3", answers: "2" }, { model: "7", answers: "2" }], 4)).toBe("");
    expect(sourcesHint([{ model: "3", answers: "2" }, { model: "7", answers: "1" }], 4)).toBe("the answers add up to 3; each prompt needs K=4");
  });

  it("counts answers cut at the token limit", () => {
    const settings = { max_new_tokens: 256 };
    expect(truncatedBadge({ truncated_answers: 0, settings })).toBe("");
    expect(truncatedBadge({ truncated_answers: 1, settings })).toBe("1 answer cut off at 256 tokens");
    expect(truncatedBadge({ truncated_answers: 5, settings })).toBe("5 answers cut off at 256 tokens");
  });
});

describe("jobDuration", () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  it("counts from the start to the end, or to now while running", () => {
    expect(jobDuration({ started_at: null, finished_at: null }, 0)).toBe("–");
    expect(jobDuration({ started_at: at(0), finished_at: at(42) }, 0)).toBe("42 s");
    expect(jobDuration({ started_at: at(0), finished_at: at(65) }, 0)).toBe("1 min 05 s");
    expect(jobDuration({ started_at: at(0), finished_at: null }, Date.parse(at(3725)))).toBe("1 h 02 min");
  });
});
