"""axe-core run in a Playwright page. Evaluated rather than added as a script tag: the app's CSP
(`script-src 'self'`) refuses an injected inline script, and the CSP stays as it is."""

from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}

# Runs axe on the whole document and returns what a failure message needs, as plain JSON.
RUN_AXE = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


def axe_violations(page: Page) -> list[dict]:
    """Every violation axe finds on the page as it is now: id, impact, help and the nodes."""
    page.evaluate(AXE.read_text())
    return page.evaluate(RUN_AXE)


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def axe_report(name: str, violations: list[dict]) -> str:
    lines = [f"axe on the {name} page:"]
    for v in violations:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']}")
        lines += [f"    {n['target']}: {n['summary']}".replace("\n", " / ") for n in v["nodes"]]
    return "\n".join(lines)
