import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

describe("untrusted markdown", () => {
  it("shows raw HTML as text", () => {
    const out = renderMarkdown("<img src=x onerror=alert(1)><script>alert(2)</script>");
    expect(out).not.toMatch(/<img|<script/);
    expect(out).toContain("&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;");
  });

  it("refuses javascript: links and remote images", () => {
    expect(renderMarkdown("[x](javascript:alert(1))")).not.toMatch(/href="javascript/);
    expect(renderMarkdown("![a](http://evil/x.png)")).not.toMatch(/<img/);
  });

  it("renders code blocks escaped", () => {
    const out = renderMarkdown("```html\n<b>hi</b>\n```");
    expect(out).toContain("<pre><code");
    expect(out).toContain("&lt;b&gt;hi&lt;/b&gt;");
  });

  it("puts the text's headings below the page's own: # is h3 by default, h6 at most", () => {
    expect(renderMarkdown("# Guidelines\n\n## Ties")).toBe("<h3>Guidelines</h3>\n<h4>Ties</h4>\n");
    expect(renderMarkdown("# Top", { headingLevel: 2 })).toBe("<h2>Top</h2>\n");
    expect(renderMarkdown("##### Deep")).toBe("<h6>Deep</h6>\n");
  });

  it("keeps single line breaks as typed, and blank lines as paragraphs", () => {
    expect(renderMarkdown("Thanks!\nAlex")).toBe("<p>Thanks!<br>\nAlex</p>\n");
    expect(renderMarkdown("one\n\ntwo")).toBe("<p>one</p>\n<p>two</p>\n");
  });

  it("can show links as text with their address, with nothing to focus", () => {
    const out = renderMarkdown("See [the docs](https://example.org/a?b=1&c=<2>) or https://example.com.", {
      plainLinks: true,
    });
    expect(out).not.toMatch(/<a /);
    expect(out).toContain('<span class="md-link">the docs</span> <span class="md-href">(https://example.org/a?b=1&amp;c=%3C2%3E)</span>');
    expect(out).toContain('<span class="md-link">https://example.com</span>.');
    expect(renderMarkdown("[x](javascript:alert(1))", { plainLinks: true })).not.toMatch(/<a |href|md-link/);
  });
});
