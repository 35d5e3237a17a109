"""One layout for the Django half of rewardtrain (`rewardtrain/training/` is Django-free and not concerned).

Each sub-app has the same parts; tasks are queued by name, so no service imports a task module; no module reaches
into another app's private names; the only imports inside functions are the heavy ones a web process must not pay
for (torch), marked `workers only`.
"""

import ast
from pathlib import Path

import pytest

from annotate.celery import app

ROOT = Path(__file__).resolve().parents[2]
REWARDTRAIN = ROOT / "rewardtrain"
PARTS = ["models.py", "services.py", "selectors.py", "api.py", "urls.py", "tasks.py", "tests/__init__.py"]
SUB_APPS = {
    "runs": PARTS,
    "generation": PARTS,
    "snapshots": PARTS,
    # Its model (`Suggestion`) is the labeling app's: the labeler's demonstration keeps the suggestion.
    "suggestions": [part for part in PARTS if part != "models.py"],
}
# Parts of one sub-app each; at rewardtrain's root they would mix layouts again.
NOT_AT_ROOT = ["services", "api", "services.py", "selectors.py", "tasks.py"]
# Celery's names for rewardtrain's tasks: routes and messages already queued go by them, wherever the code lives.
TASK_NAMES = {
    "rewardtrain.tasks.gpu_generate",
    "rewardtrain.tasks.gpu_score_candidates",
    "rewardtrain.tasks.gpu_suggest",
    "rewardtrain.tasks.gpu_train_run",
    "rewardtrain.tasks.requeue_lost_jobs",
    "rewardtrain.tasks.requeue_stale_generation_jobs",
    "rewardtrain.tasks.requeue_stale_runs",
    "rewardtrain.tasks.requeue_stale_scoring_jobs",
    "rewardtrain.tasks.snapshot_build",
}
QUEUE_BY_NAME = {"enqueue", "enqueue_on_commit", "send"}
# Apps for the private-name rule: these packages, else the top-level one (`rewardtrain.jobs` is `rewardtrain`).
APPS = {f"rewardtrain.{name}" for name in [*SUB_APPS, "lost_jobs", "training"]} | {"labeling.auditlog"}


def _modules(*folders: str) -> list[Path]:
    paths = [path for folder in folders for path in (ROOT / folder).rglob("*.py")]
    return sorted(
        path
        for path in paths
        if path.relative_to(ROOT).parts[:2] != ("rewardtrain", "training") and "migrations" not in path.parts
    )


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _app_of(module: str) -> str:
    """`rewardtrain.runs.api` -> `rewardtrain.runs`; `rewardtrain.staging` -> `rewardtrain`."""
    parts = module.split(".")
    return ".".join(parts[:2]) if ".".join(parts[:2]) in APPS else parts[0]


def _imports(tree: ast.AST, module: str):
    """(node, imported module, imported name or None, local name) for every import, relative ones resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, None, alias.asname or alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base]) if base else ".".join(package)
            for alias in node.names:
                yield node, base, alias.name, alias.asname or alias.name


def _is_test(path: Path) -> bool:
    return "tests" in path.relative_to(ROOT).parts


@pytest.mark.parametrize("sub_app", sorted(SUB_APPS))
def test_each_sub_app_has_the_same_parts(sub_app):
    folder = REWARDTRAIN / sub_app
    missing = [part for part in SUB_APPS[sub_app] if not (folder / part).is_file()]
    assert missing == [], f"rewardtrain/{sub_app} lacks {missing}"
    extra_apis = sorted(p.name for p in folder.glob("*api*.py") if p.name != "api.py")
    assert extra_apis == [], f"rewardtrain/{sub_app}: one api.py, not also {extra_apis}"


def test_the_root_holds_no_part_of_a_sub_app():
    assert [name for name in NOT_AT_ROOT if (REWARDTRAIN / name).exists()] == []


def test_no_module_but_a_task_module_imports_a_task_module():
    """Services queue tasks by name (`annotate.jobs.enqueue("rewardtrain.tasks.…")`); only the worker imports
    task modules (Celery's autodiscovery), so services and tasks never import each other."""
    modules = _modules("rewardtrain", "labeling", "annotate")
    task_modules = {_module_name(p) for p in modules if "shared_task" in p.read_text() and not _is_test(p)}
    assert {"rewardtrain.runs.tasks", "rewardtrain.snapshots.tasks"} <= task_modules
    offenders = []
    for path in modules:
        module = _module_name(path)
        if module in task_modules or _is_test(path):
            continue
        for node, imported, name, _ in _imports(ast.parse(path.read_text()), module):
            if imported in task_modules or f"{imported}.{name}" in task_modules:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {imported} {name or ''}")
    assert offenders == []


def test_no_module_uses_another_apps_private_names():
    offenders = []
    for path in _modules("rewardtrain", "labeling", "annotate"):
        module = _module_name(path)
        tree = ast.parse(path.read_text())
        bound: dict[str, str] = {}  # local name -> the module it stands for
        for node, imported, name, local in _imports(tree, module):
            if name is None:
                bound[local] = imported if local != imported.split(".")[0] else local
                continue
            bound[local] = f"{imported}.{name}"
            private = name.startswith("_") and not name.startswith("__")
            if private and _app_of(imported) != _app_of(module):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {imported}.{name}")
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
                continue
            target = bound.get(node.value.id, "")
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            first_party = target.split(".")[0] in ("rewardtrain", "labeling", "annotate")
            if private and first_party and _app_of(target) != _app_of(module):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {target}.{node.attr}")
    assert offenders == []


def test_imports_inside_functions_are_only_the_heavy_worker_ones():
    offenders = []
    for path in _modules("rewardtrain"):
        if _is_test(path):
            continue
        lines = path.read_text().splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    statement = " ".join(lines[node.lineno - 1 : node.end_lineno])
                    if "workers only" not in statement:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {statement.strip()}")
    assert offenders == []


def test_every_task_is_registered_by_the_workers_imports_under_its_old_name():
    """Routes (`rewardtrain.tasks.gpu_*` -> gpu) and messages already queued go by these names."""
    app.loader.import_default_modules()  # what a worker imports at start (autodiscovery included)
    registered = {name for name in app.tasks if name.startswith("rewardtrain.")}
    assert registered == TASK_NAMES
    for name in registered:
        queue = app.amqp.router.route({}, name)["queue"].name
        assert queue == ("gpu" if name.startswith("rewardtrain.tasks.gpu_") else "default"), name


def test_every_task_queued_by_name_exists():
    queued = set()
    for path in _modules("rewardtrain", "labeling", "annotate"):
        if _is_test(path):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in QUEUE_BY_NAME and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    queued.add(first.value)
    assert queued and queued <= TASK_NAMES, queued - TASK_NAMES
