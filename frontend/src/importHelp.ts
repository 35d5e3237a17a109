// The Import page's format help (one small example per accepted format, downloadable) and its error lines.
import type { Schemas } from "./api";

type ErrorItem = Schemas["ErrorItem"];

export interface ImportExample {
  id: string;
  title: string;
  /** How the file is imported: the page's kind and format, or the shell command for existing preference data. */
  how: string;
  filename: string;
  mime: string;
  text: string;
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

const EGG = "How do I boil an egg?";
const GOOD = "Lower it into boiling water for 9 minutes, then cool it in cold water.";
const BAD = "Eggs cannot be boiled.";

/** One example per accepted format; ranking items carry exactly the project's `k` answers. */
export function importExamples(k: number): ImportExample[] {
  const answers = Array.from({ length: k }, (_, i) => `Answer ${i + 1} to the prompt.`);
  return [
    {
      id: "prompts-jsonl",
      title: "Prompts, JSONL",
      how: "Kind prompts, format JSONL. One prompt per line: \"prompt\", or \"messages\" ending with the user's turn; \"priority\" and \"metadata\" optional.",
      filename: "prompts.jsonl",
      mime: "application/jsonl",
      text: jsonl([
        { external_id: "q1", prompt: EGG },
        {
          external_id: "q2",
          messages: [
            { role: "system", content: "You are concise." },
            { role: "user", content: "Name three primes." },
          ],
          priority: 2,
          metadata: { source: "faq" },
        },
      ]),
    },
    {
      id: "prompts-csv",
      title: "Prompts, CSV",
      how: "Kind prompts, format CSV. Columns external_id and prompt, optionally system and priority.",
      filename: "prompts.csv",
      mime: "text/csv",
      text: `external_id,prompt,system,priority\nq1,${EGG},,0\nq2,"Name three primes, please.",You are concise.,2\n`,
    },
    {
      id: "ranking-jsonl",
      title: `Ranking items, JSONL (exactly ${k} answers)`,
      how: `Kind ranking items, format JSONL. A prompt plus "answers": exactly this project's ${k}, each a string or {"text", "model", "sampling"}.`,
      filename: "ranking_items.jsonl",
      mime: "application/jsonl",
      text: jsonl([
        { external_id: "r1", prompt: EGG, answers },
        {
          external_id: "r2",
          prompt: "Name three primes.",
          answers: answers.map((text, i) => (i === 0 ? { text, model: "sft-v1", sampling: { temperature: 0.7 } } : text)),
        },
      ]),
    },
    {
      id: "hh",
      title: "Anthropic HH-RLHF (existing preferences)",
      how: "From the shell: python manage.py import_preferences <project> hh.jsonl --format hh (gzip accepted). Each item becomes a completed ranking.",
      filename: "hh.jsonl",
      mime: "application/jsonl",
      text: jsonl([{ chosen: `\n\nHuman: ${EGG}\n\nAssistant: ${GOOD}`, rejected: `\n\nHuman: ${EGG}\n\nAssistant: ${BAD}` }]),
    },
    {
      id: "trl",
      title: "TRL preference pairs (existing preferences)",
      how: "From the shell: python manage.py import_preferences <project> trl.jsonl --format trl. \"prompt\", \"chosen\" and \"rejected\" as strings or message lists.",
      filename: "trl.jsonl",
      mime: "application/jsonl",
      text: jsonl([{ prompt: EGG, chosen: GOOD, rejected: BAD }]),
    },
    {
      id: "oasst",
      title: "OpenAssistant oasst1 (existing preferences)",
      how: "From the shell: python manage.py import_preferences <project> oasst.jsonl --format oasst. Flat messages or nested trees; two or more ranked assistant replies (rank 0 best) make a ranking.",
      filename: "oasst.jsonl",
      mime: "application/jsonl",
      text: jsonl([
        { message_id: "m1", parent_id: null, role: "prompter", text: EGG },
        { message_id: "m2", parent_id: "m1", role: "assistant", text: GOOD, rank: 0 },
        { message_id: "m3", parent_id: "m1", role: "assistant", text: BAD, rank: 1 },
      ]),
    },
  ];
}

/** A link target that downloads the example without a request to the server. */
export function exampleHref(example: Pick<ImportExample, "mime" | "text">): string {
  return `data:${example.mime};charset=utf-8,${encodeURIComponent(example.text)}`;
}

export interface ErrorView {
  summary: string;
  rows: ErrorItem[];
}

const rowText = (e: ErrorItem) => (e.field ? `${e.field}: ${e.message}` : e.message);

/** An API refusal as one summary line plus the rows it does not already say, each once. */
export function errorView(detail: string, errors: ErrorItem[]): ErrorView {
  const seen = new Set<string>();
  let rows = errors.filter((e) => {
    const key = `${e.line ?? ""}\u0000${e.field ?? ""}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  let summary = detail.trim();
  // Serializer refusals quote their first error in the detail: "Invalid request (file: No file was submitted.)".
  const quoted = rows.length > 0 ? ` (${rowText(rows[0])})` : "";
  if (quoted && summary.endsWith(quoted)) {
    if (rows.length === 1 && rows[0].line == null) rows = [];
    else summary = summary.slice(0, -quoted.length);
  }
  // A lone row without a line that the detail already says adds nothing.
  if (rows.length === 1 && rows[0].line == null && summary.includes(rows[0].message)) rows = [];
  return { summary, rows };
}

/** `errorView` for an import, saying once that nothing was imported (the server's detail often says it already). */
export function importErrorView(detail: string, errors: ErrorItem[]): ErrorView {
  let { summary, rows } = errorView(detail, errors);
  if (!/nothing was imported/i.test(summary)) summary = `${summary}${/[.!?)]$/.test(summary) ? "" : "."} Nothing was imported.`;
  return { summary, rows };
}
