"""The OpenAI-compatible client against a local HTTP server written for the test."""

import time

import pytest

from rewardtrain.generation.tests.openai_server import Script, dead_url, openai_server
from rewardtrain.training.generate import SamplingSettings, collect_distinct
from rewardtrain.training.openai_client import (
    EndpointConfig,
    EndpointError,
    EndpointUnavailable,
    OpenAIClient,
)

CONV = [{"role": "user", "content": "Say something."}]
SETTINGS = SamplingSettings(temperature=0.8, top_p=0.9, max_new_tokens=16, seed=3)


def test_a_503_is_retried_then_the_answers_come_back():
    with openai_server(Script(fail_first=2, fail_status=503)) as (url, script):
        client = OpenAIClient(EndpointConfig(base_url=url, model="m", api_key="sk-test", backoff_s=0.01))
        answers = client.complete(CONV, n=3, settings=SETTINGS)
    assert answers == ["answer 1", "answer 2", "answer 3"]
    assert script.statuses == [503, 503, 200]
    sent = script.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-test"
    assert sent["body"] == {
        "model": "m",
        "n": 3,
        "temperature": 0.8,
        "top_p": 0.9,
        "max_tokens": 16,
        "seed": 3,
        "messages": CONV,
    }


def test_a_dead_endpoint_raises_a_short_error():
    url = dead_url()
    client = OpenAIClient(EndpointConfig(base_url=url, model="m", max_retries=2, backoff_s=0.01))
    with pytest.raises(EndpointUnavailable) as info:
        client.complete(CONV, n=1, settings=SETTINGS)
    assert str(info.value) == "unavailable after 3 attempts: connection refused"


def test_a_server_that_keeps_failing_is_unavailable_after_the_retries():
    with openai_server(Script(fail_first=100, fail_status=502)) as (url, script):
        client = OpenAIClient(EndpointConfig(base_url=url, model="m", max_retries=3, backoff_s=0.01))
        with pytest.raises(EndpointUnavailable, match="HTTP 502"):
            client.complete(CONV, n=1, settings=SETTINGS)
    assert script.statuses == [502] * 4


def test_a_client_error_is_not_retried():
    with openai_server(Script(fail_first=1, fail_status=400)) as (url, script):
        client = OpenAIClient(EndpointConfig(base_url=url, model="m", backoff_s=0.01))
        with pytest.raises(EndpointError, match="HTTP 400") as info:
            client.complete(CONV, n=1, settings=SETTINGS)
    assert not isinstance(info.value, EndpointUnavailable)
    assert script.statuses == [400]


def test_an_error_says_the_status_and_at_most_the_first_line_of_the_message_cut_short():
    message = "bad request: " + "y" * 300 + "\nTraceback (most recent call last):\n  File /srv/app.py"
    with openai_server(Script(fail_first=1, fail_status=422, fail_message=message)) as (url, _script):
        client = OpenAIClient(EndpointConfig(base_url=url, model="m"))
        with pytest.raises(EndpointError) as info:
            client.complete(CONV, n=1, settings=SETTINGS)
    text = str(info.value)
    assert info.value.status == 422 and text.startswith("HTTP 422: bad request: yyy")
    assert "\n" not in text and "Traceback" not in text and len(text) <= len("HTTP 422: ") + 100


def test_a_redirect_is_an_error_and_is_not_followed():
    with openai_server() as (target, inner), openai_server() as (url, outer):
        outer.redirect_to = target.removesuffix("/v1")
        client = OpenAIClient(EndpointConfig(base_url=url, model="m", api_key="sk-test", backoff_s=0.01))
        with pytest.raises(EndpointError) as info:
            client.complete(CONV, n=1, settings=SETTINGS)
    assert info.value.status == 302 and str(info.value).startswith("HTTP 302")
    assert outer.statuses == [302] and inner.raw == []


def test_the_timeout_is_short_by_default_and_a_slow_server_times_out():
    assert EndpointConfig(base_url="http://h/v1", model="m").timeout_s <= 30
    with openai_server(Script(delay_s=1.0)) as (url, _script):
        client = OpenAIClient(EndpointConfig(base_url=url, model="m", timeout_s=0.2, max_retries=0))
        started = time.monotonic()
        with pytest.raises(EndpointUnavailable, match="no answer"):
            client.complete(CONV, n=1, settings=SETTINGS)
    assert time.monotonic() - started < 1.0


def test_completions_api_sends_a_plain_prompt():
    with openai_server() as (url, script):
        client = OpenAIClient(EndpointConfig(base_url=url, model="m", api="completions"))
        assert client.complete(CONV, n=2, settings=SETTINGS) == ["answer 1", "answer 2"]
    body = script.requests[0]["body"]
    assert script.requests[0]["path"] == "/v1/completions"
    assert body["prompt"] == "### User:\nSay something.\n\n### Assistant:\n" and "messages" not in body


def test_concurrency_is_bounded_and_empty_answers_are_asked_again():
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(8)]
    with openai_server(Script(delay_s=0.25, empty_every=3)) as (url, script):
        client = OpenAIClient(EndpointConfig(base_url=url, model="m", concurrency=2))
        started = time.monotonic()
        out = collect_distinct(client.backend(prompts, SETTINGS), len(prompts), k=4)
        elapsed = time.monotonic() - started
    assert all(len(d.answers) == 4 and len(set(d.answers)) == 4 and all(d.answers) for d in out)
    assert sum(d.dropped_empty for d in out) > 0
    assert script.max_in_flight == 2
    assert elapsed >= 1.0  # 8 first requests, two at a time, 0.25 s each


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_a_choice_that_ended_at_max_tokens_is_marked_truncated(api):
    with openai_server(Script(length_every=2)) as (url, _script):
        client = OpenAIClient(EndpointConfig(base_url=url, model="m", api=api))
        drawn = client.complete_drawn(CONV, n=4, settings=SETTINGS)
        kept = collect_distinct(client.backend([CONV], SETTINGS), 1, k=2)
    assert [(d.text, d.truncated) for d in drawn] == [
        ("answer 1", False),
        ("answer 2", True),
        ("answer 3", False),
        ("answer 4", True),
    ]
    assert kept[0].answers == ["answer 5", "answer 6"] and kept[0].truncated == [False, True]
