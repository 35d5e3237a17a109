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
});
