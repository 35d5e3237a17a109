import json

import pytest
from django.core.management import CommandError, call_command

from labeling.models import Candidate, Prompt, Task, TaskKind
from labeling.services.errors import ServiceError
from labeling.services.imports import import_file
from labeling.tests.factories import make_project, ranking_items

pytestmark = pytest.mark.django_db


def _jsonl(*records) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()


def test_prompts_jsonl_with_text_and_conversations():
    project = make_project()
    data = _jsonl(
        {"external_id": "a", "prompt": "Hello?"},
        {
            "external_id": "b",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        },
    )
    result = import_file(project=project, user=None, data=data, kind="prompts")
    assert result.prompts_created == 2 and result.tasks_created == 2
    assert Prompt.objects.get(external_id="b").messages[0]["role"] == "system"
    assert set(Task.objects.values_list("kind", flat=True)) == {TaskKind.DEMONSTRATION}


def test_prompts_csv():
    project = make_project()
    data = b'external_id,prompt,system\nx1,"Say hi, please",\nx2,Tell a joke,You are funny\n'
    result = import_file(project=project, user=None, data=data, kind="prompts", fmt="csv")
    assert result.prompts_created == 2
    assert Prompt.objects.get(external_id="x2").messages == [
        {"role": "system", "content": "You are funny"},
        {"role": "user", "content": "Tell a joke"},
    ]


def test_reimport_is_idempotent():
    project = make_project()
    import_file(project=project, user=None, data=ranking_items(3), kind="ranking_items")
    again = import_file(project=project, user=None, data=ranking_items(3), kind="ranking_items")
    assert again.prompts_created == 0 and again.tasks_created == 0 and again.unchanged == 3
    assert Candidate.objects.count() == 12 and Task.objects.count() == 3


def test_bad_file_names_each_line_and_field_and_imports_nothing():
    project = make_project()
    data = _jsonl(
        {"external_id": "ok", "prompt": "fine"},
        "{not json",
        {"prompt": "no id"},
        {"external_id": "c", "messages": [{"role": "robot", "content": "x"}]},
        {"external_id": "ok", "prompt": "duplicate id"},
        {
            "external_id": "e",
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        },
    )
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data=data, kind="prompts")
    found = {(e.line, e.field) for e in info.value.errors}
    assert (2, None) in found
    assert (3, "external_id") in found
    assert (4, "messages[0].role") in found
    assert (5, "external_id") in found
    assert (6, "messages") in found
    assert "nothing was imported" in info.value.message
    assert Prompt.objects.count() == 0


def test_ranking_items_need_k_distinct_answers():
    project = make_project(k_answers=4)
    data = _jsonl(
        {"external_id": "a", "prompt": "q", "answers": ["1", "2", "3"]},
        {"external_id": "b", "prompt": "q", "answers": ["1", "1", "2", "3"]},
        {"external_id": "c", "prompt": "q", "answers": ["1", "", "2", "3"]},
    )
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data=data, kind="ranking_items")
    messages = {e.line: e.message for e in info.value.errors}
    assert "has 3 answers; this project ranks K=4" in messages[1]
    assert "same text" in messages[2]
    assert "non-empty" in messages[3]


def test_existing_id_with_different_content_is_an_error():
    project = make_project()
    import_file(
        project=project, user=None, data=_jsonl({"external_id": "a", "prompt": "one"}), kind="prompts"
    )
    with pytest.raises(ServiceError) as info:
        import_file(
            project=project,
            user=None,
            data=_jsonl({"external_id": "b", "prompt": "two"}, {"external_id": "a", "prompt": "changed"}),
            kind="prompts",
        )
    assert info.value.errors[0].line == 2
    assert Prompt.objects.count() == 1


def test_size_and_encoding_limits(settings):
    project = make_project()
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data=b"x" * 101, kind="prompts")
    assert info.value.code == "too_large" and "limit" in info.value.message
    settings.IMPORT_MAX_BYTES = 10_000
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data=b'{"external_id": "a"}\n\xff\xfe', kind="prompts")
    assert "UTF-8" in info.value.message and info.value.errors[0].line == 2
    settings.IMPORT_MAX_RECORDS = 2
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data=ranking_items(3), kind="ranking_items")
    assert "at most 2" in info.value.message


def test_management_command(tmp_path):
    project = make_project()
    path = tmp_path / "items.jsonl"
    path.write_bytes(ranking_items(2))
    call_command("import_data", project.slug, str(path), "--kind", "ranking_items")
    assert Task.objects.filter(kind=TaskKind.RANKING).count() == 2
    path.write_bytes(b"{broken")
    with pytest.raises(CommandError, match="line 1"):
        call_command("import_data", project.slug, str(path))
