// Untrusted text (model answers, prompts, guidelines) rendered as markdown SAFELY: markdown-it with html: false
// escapes every raw HTML tag (shown as text), and its link validator refuses javascript:/vbscript:/data: URLs.
// Its output is therefore escaped-by-construction HTML; nothing else is ever passed to innerHTML.
import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false });
const defaultLinkOpen =
  md.renderer.rules.link_open || ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet("rel", "noopener noreferrer nofollow");
  tokens[idx].attrSet("target", "_blank");
  return defaultLinkOpen(tokens, idx, options, env, self);
};
// No remote images from untrusted text: render the alt text and the address instead.
md.renderer.rules.image = (tokens, idx) => {
  const t = tokens[idx];
  return md.utils.escapeHtml(`[image: ${t.content || ""} ${t.attrGet("src") || ""}]`);
};

export function renderMarkdown(text: string): string {
  return md.render(text ?? "");
}

export function Markdown({ text, className }: { text: string; className?: string }) {
  return <div className={"md " + (className ?? "")} dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}
