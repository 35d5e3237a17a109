import { describe, expect, it } from "vitest";
import type { Schemas } from "./api";
import {
  baseModelChoices, compareColumns, fieldText, foldText, formatMetric, hyperparamsBody, isLive, metricRows,
  repeatedTrigrams, rewardModelChoices, runColumns, runProgress, sampleTableAt, splitRecords, withConstant, withRun,
} from "./runs";

const model = (id: number, kind: Schemas["RegisteredModel"]["kind"]) => ({ id, kind, name: `m${id}` }) as Schemas["RegisteredModel"];
const metric = (id: number, kind: string, step: number, values: Record<string, number | null>) =>
  ({ id, kind, step, values, created_at: "" }) as Schemas["RunMetric"];

describe("base models for a run", () => {
  const models = [model(1, "rm"), model(2, "base"), model(3, "sft"), model(4, "sft"), model(5, "policy")];

  it("puts the best kinds first, newest first within a kind, and refuses reward models for sft and dpo", () => {
    const sft = baseModelChoices({ kind: "sft", base_model_kinds: ["base", "sft", "policy"] }, models);
    expect(sft.allowed.map((m) => m.id)).toEqual([2, 4, 3, 5]);
    expect(sft.refused).toEqual([{ model: models[0], reason: "a sft run cannot start from a reward model" }]);
    const dpo = baseModelChoices({ kind: "dpo", base_model_kinds: ["sft", "policy", "base"] }, models);
    expect(dpo.allowed.map((m) => m.kind)).toEqual(["sft", "sft", "policy", "base"]);
  });

  it("offers reward models for a reward-model run, after the SFT and base models", () => {
    const rm = baseModelChoices({ kind: "rm", base_model_kinds: ["sft", "base", "rm", "policy"] }, models);
    expect(rm.allowed.map((m) => m.id)).toEqual([4, 3, 2, 1, 5]);
    expect(rm.refused).toEqual([]);
  });
});

describe("typed hyper-parameters", () => {
  const fields = [
    { name: "lr", type: "number" as const },
    { name: "max_steps", type: "integer" as const },
    { name: "prefix_sharing", type: "boolean" as const },
    { name: "shared_attention", type: "string" as const },
  ];

  it("shows defaults as text and parses each field by its type, blank ones left to the trainer", () => {
    expect(fieldText({ type: "number", default: 1e-5 })).toBe("0.00001");
    expect(fieldText({ type: "boolean", default: true })).toBe("true");
    expect(fieldText({ type: "integer", default: null })).toBe("");
    const body = hyperparamsBody(fields, { lr: "0.001", max_steps: "30", prefix_sharing: "false", shared_attention: "" }, "");
    expect(body).toEqual({ hyperparams: { lr: 0.001, max_steps: 30, prefix_sharing: false }, errors: [] });
  });

  it("names the fields that do not parse, and lays the advanced JSON on top", () => {
    const bad = hyperparamsBody(fields, { lr: "fast", max_steps: "2.5" }, "[1]");
    expect(bad.errors).toEqual([
      "lr: must be a number",
      "max_steps: must be a whole number",
      'advanced: must be a JSON object, e.g. {"warmup_ratio": 0.1}',
    ]);
    const extra = hyperparamsBody(fields, { lr: "0.1" }, '{"lr": 0.2, "warmup_ratio": 0}');
    expect(extra.hyperparams).toEqual({ lr: 0.2, warmup_ratio: 0 });
  });
});

describe("curves", () => {
  const metrics = [
    metric(1, "start", 0, {}),
    metric(2, "step", 1, { loss: 0.7, accuracy: 0.5 }),
    metric(3, "step", 2, { loss: 0.6, accuracy: null }),
    metric(4, "eval", 2, { val_loss: 0.65, val_accuracy: 0.55 }),
    metric(5, "step", 3, { loss: 0.4, accuracy: 0.75 }),
    metric(6, "end", 3, { val_loss: 0.5, val_accuracy: 0.6, train_loss: 0.4 }),
  ];

  it("aligns the training curve and the validation points on the steps", () => {
    expect(runColumns(metrics, "loss")).toEqual({
      steps: [1, 2, 3],
      curves: [
        { label: "train loss", kind: "line", values: [0.7, 0.6, 0.4] },
        { label: "validation loss", kind: "points", values: [null, 0.65, 0.5] },
      ],
    });
    expect(runColumns(metrics, "accuracy").curves[0].values).toEqual([0.5, null, 0.75]);
  });

  it("leaves out a curve with no point (no validation data), and is empty before the first step", () => {
    const train = metrics.filter((m) => m.kind === "step");
    expect(runColumns(train, "loss").curves.map((c) => c.label)).toEqual(["train loss"]);
    expect(runColumns([metric(1, "start", 0, {})], "loss")).toEqual({ steps: [], curves: [] });
  });

  it("compares runs on the union of their steps, one labelled line per run", () => {
    const other = [metric(7, "step", 2, { loss: 0.9 }), metric(8, "step", 4, { loss: 0.3 })];
    const c = compareColumns([{ id: 1, kind: "rm", metrics }, { id: 2, kind: "dpo", metrics: other }], "loss");
    expect(c.steps).toEqual([1, 2, 3, 4]);
    expect(c.curves).toEqual([
      { label: "run 1 (rm)", kind: "line", values: [0.7, 0.6, 0.4, null] },
      { label: "run 2 (dpo)", kind: "line", values: [null, 0.9, null, 0.3] },
    ]);
  });
});

describe("status, progress and metrics", () => {
  it("labels progress the same way everywhere, never 0/?", () => {
    expect(runProgress({ status: "succeeded", step: 30, total_steps: 30 })).toBe("30/30 steps");
    expect(runProgress({ status: "queued", step: 0, total_steps: 0 })).toBe("not started");
    expect(runProgress({ status: "running", step: 0, total_steps: 0 })).toBe("starting");
    expect(runProgress({ status: "running", step: 4, total_steps: 0 })).toBe("4 steps");
    expect(isLive("building") && isLive("running") && !isLive("succeeded") && !isLive("ready")).toBe(true);
  });

  it("replaces a run in the list by the card's newer copy", () => {
    const runs = [{ id: 1, status: "running" }, { id: 2, status: "queued" }];
    expect(withRun(runs, { id: 1, status: "succeeded" })).toEqual([{ id: 1, status: "succeeded" }, { id: 2, status: "queued" }]);
  });

  it("lists final metrics as rows, validation first, formatted", () => {
    const rows = metricRows({ train_loss: 0.123456, val_accuracy: 0.75, elapsed_s: 75.2, steps: 30, stopped: 0, val_pairs: 1200 });
    expect(rows).toEqual([
      { name: "val_accuracy", value: "0.7500" },
      { name: "val_pairs", value: "1,200" },
      { name: "train_loss", value: "0.1235" },
      { name: "elapsed_s", value: "1 min 15 s" },
      { name: "steps", value: "30" },
    ]);
    expect(formatMetric("val_loss", null)).toBe("–");
    expect(formatMetric("elapsed_s", 2.25)).toBe("2.3 s");
  });

  it("counts a split's records only once the snapshot is ready", () => {
    expect(splitRecords({ status: "queued", counts: {} }, "validation")).toBeNull();
    expect(splitRecords({ status: "ready", counts: { train: { records: 5, prompts: 2 } } }, "validation")).toBe(0);
  });
});

describe("RL run page helpers", () => {
  it("offers only reward models for an RL run's judge, newest first", () => {
    const models = [model(1, "rm"), model(2, "sft"), model(3, "rm"), model(4, "policy")];
    expect(rewardModelChoices({ reward_model_kinds: ["rm"] }, models).map((m) => m.id)).toEqual([3, 1]);
    expect(rewardModelChoices({ reward_model_kinds: [] }, models)).toEqual([]);
  });

  it("draws the KL target as a flat line over the steps, only when there is one", () => {
    const kl = runColumns([metric(1, "step", 1, { kl: 0 }), metric(2, "step", 2, { kl: 0.5 }), metric(3, "eval", 2, { val_kl: 0.4 })], "kl");
    const withTarget = withConstant(kl, "KL target", 2);
    expect(withTarget.curves.map((c) => c.label)).toEqual(["train kl", "validation kl", "KL target"]);
    expect(withTarget.curves[2].values).toEqual([2, 2]);
    expect(withConstant(kl, "KL target", 0)).toBe(kl);
    expect(withConstant(kl, "KL target", undefined)).toBe(kl);
  });

  it("formats rates as numbers, not durations", () => {
    expect(formatMetric("train_samples_per_s", 31.94)).toBe("31.94");
    expect(formatMetric("elapsed_s", 2)).toBe("2.0 s");
  });

  it("folds long answers and measures repeated phrases", () => {
    expect(foldText("short")).toEqual({ text: "short", folded: false });
    const long = "word ".repeat(100).trim();
    const folded = foldText(long, 50);
    expect(folded.folded).toBe(true);
    expect(folded.text.length).toBeLessThanOrEqual(51);
    expect(folded.text.endsWith("…")).toBe(true);
    expect(repeatedTrigrams("the cat sat on the mat")).toBe(0);
    // 9 words, 7 trigrams: the last 4 repeat the first 3
    expect(repeatedTrigrams("apple is good apple is good apple is good")).toBeCloseTo(4 / 7);
    expect(repeatedTrigrams("too short")).toBe(0);
  });

  it("shows the chosen step's answers, or the newest when none is chosen or it is gone", () => {
    const tables = [{ step: 10 }, { step: 20 }];
    expect(sampleTableAt(tables, null)).toEqual({ step: 20 });
    expect(sampleTableAt(tables, 10)).toEqual({ step: 10 });
    expect(sampleTableAt(tables, 30)).toEqual({ step: 20 });
    expect(sampleTableAt([], null)).toBeNull();
  });
});
