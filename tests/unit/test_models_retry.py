"""When provider requests are retried, and how long we wait (no real waiting: a fake clock)."""

import random
from email.utils import formatdate

from providers.fakes import FakeClock

from wasm_agent.models.retry import ProviderFailure, Retrier, RetryPolicy, parse_retry_after


def test_backoff_doubles_up_to_the_cap():
    policy = RetryPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0)
    assert [policy.backoff(n) for n in range(5)] == [1, 2, 4, 5, 5]


def test_jitter_only_shortens_the_wait_by_its_fraction():
    policy = RetryPolicy(initial_delay=4, jitter=0.5)
    rng = random.Random(1)
    delays = [policy.backoff(0, rng) for _ in range(200)]
    assert all(2 <= d <= 4 for d in delays)
    assert len(set(delays)) > 100  # clients that failed together spread out


def test_retry_after_in_seconds_milliseconds_or_http_date():
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "7"}, now) == 7
    assert parse_retry_after({"retry-after": "1.5"}, now) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}, now) == 0.25
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now) == 30
    assert parse_retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now) == 0
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({}, now) is None


def test_which_failures_are_retried():
    retrier = Retrier(RetryPolicy(max_retries=3, jitter=0))
    for status in (408, 429, 500, 502, 503, 529):
        assert retrier.delay_before_retry(ProviderFailure("status", "x", status=status), 0) == 1
    for status in (400, 401, 403, 404, 422):
        assert retrier.delay_before_retry(ProviderFailure("status", "x", status=status), 0) is None
    for kind in ("network", "timeout", "cut"):
        assert retrier.delay_before_retry(ProviderFailure(kind, "x"), 0) == 1
    assert retrier.delay_before_retry(ProviderFailure("unreadable", "x"), 0) is None


def test_retry_after_wins_over_backoff_unless_it_is_too_long():
    retrier = Retrier(RetryPolicy(max_retries=3, max_retry_after=60))
    assert retrier.delay_before_retry(ProviderFailure("status", "x", status=429, retry_after=12), 0) == 12
    assert retrier.delay_before_retry(ProviderFailure("status", "x", status=429, retry_after=3600), 0) is None


def test_retries_stop_after_max_retries():
    retrier = Retrier(RetryPolicy(max_retries=2, jitter=0))
    failure = ProviderFailure("status", "x", status=500)
    assert [retrier.delay_before_retry(failure, n) for n in range(3)] == [1, 2, None]


async def test_requests_per_minute_spaces_requests_out():
    clock = FakeClock()
    retrier = Retrier(RetryPolicy(requests_per_minute=2), clock)
    for _ in range(3):
        await retrier.before_request()
    assert clock.sleeps == [60.0]
    clock.now += 30
    await retrier.before_request()  # the window holds one request: go at once
    await retrier.before_request()  # the oldest of the window is 30 s old: wait 30 more
    assert clock.sleeps == [60.0, 30.0]


async def test_a_key_no_http_request_can_carry_fails_at_once_and_says_why():
    import pytest
    from providers.fakes import ScriptedTransport

    from wasm_agent import AnthropicModel, OpenAIModel
    from wasm_agent.errors import AgentGenerationError
    from wasm_agent.messages import ChatMessage, MessageRole

    for model_class in (OpenAIModel, AnthropicModel):
        transport = ScriptedTransport()  # any request would fail the test: none is expected
        model = model_class("m", api_key="sk-…", transport=transport, clock=FakeClock())
        with pytest.raises(AgentGenerationError) as caught:
            await model.agenerate([ChatMessage(MessageRole.USER, "hi")])
        message = str(caught.value)
        assert "'…' (U+2026) at position 4" in message and "placeholder" in message
        assert transport.requests == []
