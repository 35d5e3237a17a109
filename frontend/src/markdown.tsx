// Untrusted text (model answers, prompts, guidelines) rendered as markdown SAFELY: markdown-it with html: false
// escapes every raw HTML tag (shown as text), and its link validator refuses javascript:/vbscript:/data: URLs.
// Its output is therefore escaped-by-construction HTML; nothing else is ever passed to innerHTML.
import MarkdownIt from "markdown-it";

// breaks: a single line break shows as one, as the labeler typed it ("Thanks!\nAlex" stays two lines).
const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });
const defaultLinkOpen =
  md.renderer.rules.link_open || ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
const defaultLinkClose =
  md.renderer.rules.link_close || ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
/** Render-time options. `plainLinks`: links as text with their address (inside an answer that is a listbox
 * option, whose content may hold nothing focusable). */
interface RenderEnv {
  plainLinks?: boolean;
  hrefs?: string[];
  headingLevel?: number;
}
// Headings of embedded text sit below the page's own (its h1 and section h2s): `#` renders as h<headingLevel>,
// deeper ones below it, h6 at most, so the page keeps one outline.
const shiftHeading = (tokens: { tag: string }[], idx: number, env: RenderEnv) => {
  const level = Number(tokens[idx].tag.slice(1));
  tokens[idx].tag = `h${Math.min(6, level + (env.headingLevel ?? 1) - 1)}`;
};
md.core.ruler.push("shift_headings", (state) => {
  for (let i = 0; i < state.tokens.length; i++)
    if (state.tokens[i].type === "heading_open" || state.tokens[i].type === "heading_close")
      shiftHeading(state.tokens, i, state.env as RenderEnv);
});
md.renderer.rules.link_open = (tokens, idx, options, env: RenderEnv, self) => {
  if (env.plainLinks) {
    (env.hrefs ??= []).push(tokens[idx].attrGet("href") ?? "");
    return '<span class="md-link">';
  }
  tokens[idx].attrSet("rel", "noopener noreferrer nofollow");
  tokens[idx].attrSet("target", "_blank");
  return defaultLinkOpen(tokens, idx, options, env, self);
};
md.renderer.rules.link_close = (tokens, idx, options, env: RenderEnv, self) => {
  if (!env.plainLinks) return defaultLinkClose(tokens, idx, options, env, self);
  const href = env.hrefs?.pop() ?? "";
  const text = tokens[idx - 1]?.type === "text" ? tokens[idx - 1].content : "";
  // A bare address (linkify) already shows itself; a named link shows where it points.
  const shown = href && text !== href && "mailto:" + text !== href && "http://" + text !== href;
  return "</span>" + (shown ? ` <span class="md-href">(${md.utils.escapeHtml(href)})</span>` : "");
};
// No remote images from untrusted text: render the alt text and the address instead.
md.renderer.rules.image = (tokens, idx) => {
  const t = tokens[idx];
  return md.utils.escapeHtml(`[image: ${t.content || ""} ${t.attrGet("src") || ""}]`);
};

export function renderMarkdown(text: string, opts: { plainLinks?: boolean; headingLevel?: number } = {}): string {
  const env: RenderEnv = { plainLinks: !!opts.plainLinks, headingLevel: opts.headingLevel ?? 3 };
  return md.render(text ?? "", env);
}

/** `headingLevel`: the level a `#` heading of the text gets (3: below the page's h1 and its section h2s). */
export function Markdown({
  text,
  className,
  plainLinks,
  headingLevel,
}: {
  text: string;
  className?: string;
  plainLinks?: boolean;
  headingLevel?: number;
}) {
  return (
    <div
      className={"md " + (className ?? "")}
      dangerouslySetInnerHTML={{ __html: renderMarkdown(text, { plainLinks, headingLevel }) }}
    />
  );
}
