// The admin's guideline form as text fields, to and from the API's shapes: flags one per line as
// `key | label | description` (label and description optional), scale labels as `1=Terrible, 7=Excellent`.
import type { Guideline } from "./api";

type Flags = Guideline["flags"];

export function flagsToText(flags: Flags): string {
  return flags.map((f) => [f.key, f.label, ...(f.description ? [f.description] : [])].join(" | ")).join("\n");
}

export function textToFlags(text: string): Flags {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [key, label = "", ...rest] = l.split("|").map((p) => p.trim());
      const description = rest.join(" | ");
      return { key, label: label || key, ...(description ? { description } : {}) };
    });
}

export function labelsToText(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

export function textToLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [k, ...v] = part.split("=");
    out[k.trim()] = v.join("=").trim();
  }
  return out;
}
