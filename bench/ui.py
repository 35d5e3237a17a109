"""The browser workspace's speed, in Debian's Chromium driven by Playwright, against gunicorn on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/ui.py [--loads 15 --keys 120]

Seeds a project from the demo data on the database named by DATABASE_URL, collects the built frontend
(frontend/dist, `make frontend`) into a temporary static root, starts gunicorn on a free port, signs a labeler in
and measures:
  workspace_load_ms  navigation to /projects/{id}/work until the ranking workspace is interactive (answers shown
                     and the keyboard handler attached), median and p95 over --loads fresh page loads;
  key_action_ms      a keyboard action (select, rank, rate) dispatched in the page until the next animation frame
                     after React changed the DOM (performance.now() around it), p50 and p95 over --keys actions;
  submit_to_next_ms  Enter on a complete ranking until the next task is on screen (median of 4).
Targets: load < 1000 ms, key action < 50 ms. `--screenshots DIR` also saves PNGs of the ranking workspace, the
demonstration editor and the admin dashboard. The last line is a JSON object.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchlib import free_port, percentile, setup_django, start_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = os.environ.get("ANNOTATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "bench-" + uuid.uuid4().hex[:12]

# Dispatch one key in the page and resolve with the ms until the frame after the DOM changed (or -1: no change).
KEY_ACTION_JS = """
([key, code, shift]) => new Promise((resolve) => {
  const root = document.querySelector(".ranking");  // not the lease clock, which ticks every second
  let done = false;
  const t0 = performance.now();
  const obs = new MutationObserver(() => {
    if (done) return;
    done = true;
    obs.disconnect();
    requestAnimationFrame(() => resolve(performance.now() - t0));
  });
  obs.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
  window.dispatchEvent(new KeyboardEvent("keydown", { key, code, shiftKey: shift, bubbles: true }));
  setTimeout(() => { if (!done) { done = true; obs.disconnect(); resolve(-1); } }, 300);
})
"""


# Press Enter on a complete ranking and resolve with the ms until the next task's answers are on screen.
SUBMIT_NEXT_JS = """
() => new Promise((resolve) => {
  const before = document.querySelector(".workspace").dataset.assignment;
  const t0 = performance.now();
  const obs = new MutationObserver(() => {
    const ws = document.querySelector(".workspace");
    if (ws && ws.dataset.assignment !== before && document.querySelector(".answers .answer, textarea")) {
      obs.disconnect();
      requestAnimationFrame(() => resolve(performance.now() - t0));
    }
  });
  obs.observe(document.getElementById("root"), { subtree: true, childList: true, attributes: true });
  window.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", code: "Enter", bubbles: true }));
})
"""


def seed() -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from labeling.services.imports import import_file
    from labeling.services.projects import membership_set, project_create

    call_command("migrate", "--noinput", verbosity=0)
    run = uuid.uuid4().hex[:8]
    users = {}
    for role in ("admin", "labeler"):
        user = get_user_model().objects.create_user(
            username=f"ui-{role}-{run}", password=PASSWORD, is_staff=role == "admin"
        )
        users[role] = user
    project = project_create(
        creator=users["admin"],
        name=f"Assistant answers (bench {run})",
        k_answers=4,
        redundancy=1,
        allow_ties=True,
    )
    membership_set(project=project, user=users["labeler"], role="labeler")
    demo = ROOT / "labeling" / "demo"
    import_file(
        project=project,
        user=users["admin"],
        data=(demo / "ranking_items.jsonl").read_bytes(),
        kind="ranking_items",
    )
    import_file(
        project=project, user=users["admin"], data=(demo / "prompts.jsonl").read_bytes(), kind="prompts"
    )
    return {"project": project.pk, "admin": users["admin"].username, "labeler": users["labeler"].username}


def sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--keys", type=int, default=120)
    parser.add_argument("--screenshots", type=Path, default=None, help="save PNGs of the main pages here")
    args = parser.parse_args()
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        raise SystemExit("frontend/dist is missing: run `make frontend` first")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: run scripts/ensure_browser.sh")

    static_root = tempfile.mkdtemp(prefix="annotate-ui-static-")
    os.environ["DJANGO_STATIC_ROOT"] = static_root
    setup_django()
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)
    world = seed()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, workers=2, threads=4)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 950})
            page = context.new_page()
            sign_in(page, url, world["labeler"])
            work = f"{url}/projects/{world['project']}/work"
            page.goto(work)  # warm: the first lease, server caches
            page.wait_for_selector(".answers .answer")

            loads = []
            for _ in range(args.loads):
                fresh = context.new_page()
                start = time.perf_counter()
                fresh.goto(work)
                fresh.wait_for_selector(".keys")  # rendered with its keyboard handler attached
                loads.append((time.perf_counter() - start) * 1000)
                fresh.close()

            keys = [("j", "KeyJ", False), ("k", "KeyK", False), ("3", "Digit3", True), ("5", "Digit5", True)]
            keys += [("1", "Digit1", False), ("2", "Digit2", False)]
            actions: list[float] = []
            i = 0
            while len(actions) < args.keys and i < args.keys * 3:
                key, code, shift = keys[i % len(keys)]
                elapsed = page.evaluate(
                    KEY_ACTION_JS, [("%" if key == "5" else "#") if shift else key, code, shift]
                )
                if elapsed >= 0:
                    actions.append(elapsed)
                i += 1

            # Submit -> next task on screen, over all but one of the demo's ranking tasks (one is left for the
            # screenshots).
            submits = []
            for _ in range(4):
                for key in ["k", "k", "k", "k", "1", "2", "3", "4"]:
                    page.keyboard.press(key)
                submits.append(page.evaluate(SUBMIT_NEXT_JS))

            if args.screenshots:
                shoot(page, context, browser, url, world, args.screenshots)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)

    result = {
        "workspace_load_ms": round(statistics.median(loads), 1),
        "workspace_load_p95_ms": round(percentile(loads, 95), 1),
        "key_action_p50_ms": round(percentile(actions, 50), 1),
        "key_action_p95_ms": round(percentile(actions, 95), 1),
        "submit_to_next_ms": round(statistics.median(submits), 1),
        "loads": len(loads),
        "key_actions": len(actions),
    }
    print(
        f"workspace load: median {result['workspace_load_ms']} ms, p95 {result['workspace_load_p95_ms']} ms"
    )
    print(f"key action: p50 {result['key_action_p50_ms']} ms, p95 {result['key_action_p95_ms']} ms")
    print(f"submit to next task on screen: median {result['submit_to_next_ms']} ms")
    print(json.dumps(result))


def shoot(page, context, browser, url: str, world: dict, out: Path) -> None:
    """Screenshots for the README: a ranking in progress, the demonstration editor, the admin dashboard."""
    out.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/projects/{world['project']}/work")
    page.wait_for_selector(".answers .answer")
    for key in ["0", "k", "k", "k", "k", "0", "j", "0", "j", "0"]:
        page.keyboard.press(key)  # clear what the key benchmark left, back at A
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.keyboard.press("k")
    # A plausible ranking for the picture: the two fullest answers first and second, the other two tied last.
    lengths = page.eval_on_selector_all(".answers .answer-text", "els => els.map(e => e.innerText.length)")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    ranks = {order[0]: "1", order[1]: "2"}
    for i in range(len(lengths)):
        page.keyboard.press(ranks.get(i, "3"))
    page.keyboard.press("Shift+Digit2")
    page.keyboard.press("g")
    page.wait_for_selector(".guideline-panel")
    page.screenshot(path=str(out / "ranking.png"), full_page=True)
    page.keyboard.press("g")
    page.keyboard.press("f")
    page.keyboard.press("1")  # "fails to follow the instruction" on the last-selected answer
    page.screenshot(path=str(out / "ranking-flags.png"))
    page.keyboard.press("Escape")
    # Demonstrations come after the ranking tasks: submit rankings until one shows up.
    for _ in range(20):
        if page.locator("textarea[name=demonstration]").count():
            break
        for key in ["1", "2", "3", "4"]:
            page.keyboard.press(key)
        page.keyboard.press("Enter")
        page.wait_for_selector(".answers .answer, textarea[name=demonstration]")
        page.wait_for_timeout(150)
    editor = page.locator("textarea[name=demonstration]")
    editor.fill(
        "A **reward model** scores an answer to a prompt with a single number.\n\n"
        "It is trained on pairs of answers that people ranked:\n\n"
        "```python\nloss = -torch.nn.functional.logsigmoid(r_better - r_worse).mean()\n```\n\n"
        "so the preferred answer ends up with the higher score."
    )
    page.wait_for_selector("[data-testid=draft-state]:has-text('saved to the server')")
    page.screenshot(path=str(out / "demonstration.png"), full_page=True)
    admin = browser.new_context(viewport={"width": 1400, "height": 950})
    admin_page = admin.new_page()
    sign_in(admin_page, url, world["admin"])
    admin_page.goto(f"{url}/projects/{world['project']}/dashboard")
    admin_page.wait_for_selector(".dashboard svg")
    admin_page.screenshot(path=str(out / "dashboard.png"), full_page=True)
    admin.close()


if __name__ == "__main__":
    main()
