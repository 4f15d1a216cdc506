"""When to try a provider request again, and how long to wait first.

Shared by every provider model. Retried: 429, 5xx (and 408/409), network
errors, timeouts, and streams cut before they delivered anything. Not
retried: other 4xx, unreadable answers. The wait is exponential backoff with
jitter, or what the provider's `Retry-After` asks (seconds or an HTTP date).
An optional requests-per-minute limit spaces requests out. The clock and the
random source are injected, so tests run without waiting.

>>> policy = RetryPolicy(max_retries=2, initial_delay=1.0, jitter=0.0)
>>> [policy.backoff(attempt) for attempt in range(3)]
[1.0, 2.0, 4.0]
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol

RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (wall clock: `Retry-After` may be a date)."""

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ProviderFailure(Exception):
    """One failed attempt. `kind` is one of: status, network, timeout, cut, unreadable."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None,
                 retry_after: float | None = None, retryable: bool | None = None):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        if retryable is None:
            retryable = status in RETRYABLE_STATUSES if kind == "status" else kind in ("network", "timeout", "cut")
        self.retryable = retryable


@dataclass
class RetryPolicy:
    """How many times to retry, and how to wait.

    `max_retries` retries follow the first try. The n-th wait is
    `initial_delay * multiplier**n`, capped at `max_delay`, less up to
    `jitter` of itself at random (so clients that failed together do not
    retry together). A `Retry-After` longer than `max_retry_after` is not
    waited for: the error is raised at once, saying how long the provider asked.
    """

    max_retries: int = 4
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 120.0
    requests_per_minute: float | None = None

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        delay = min(self.max_delay, self.initial_delay * self.multiplier ** attempt)
        if self.jitter:
            delay -= delay * self.jitter * (rng or random).random()
        return delay


def parse_retry_after(headers: dict[str, str], now: float) -> float | None:
    """Seconds to wait, from `retry-after-ms`, or `retry-after` in seconds or as an HTTP date."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


class Retrier:
    """Decides, after each failed attempt, whether and how long to wait; spaces requests out."""

    def __init__(self, policy: RetryPolicy | None = None, clock: Clock | None = None,
                 rng: random.Random | None = None):
        self.policy = policy or RetryPolicy()
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self._sent: deque[float] = deque()  # times of recent requests, for requests_per_minute

    async def before_request(self) -> None:
        """Wait until the requests-per-minute limit allows one more request."""
        limit = self.policy.requests_per_minute
        if not limit:
            return
        window = 60.0
        while True:
            now = self.clock.time()
            while self._sent and now - self._sent[0] >= window:
                self._sent.popleft()
            if len(self._sent) < limit:
                self._sent.append(now)
                return
            await self.clock.sleep(window - (now - self._sent[0]))

    def delay_before_retry(self, failure: ProviderFailure, attempt: int) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to give up."""
        if not failure.retryable or attempt >= self.policy.max_retries:
            return None
        if failure.retry_after is not None:
            if failure.retry_after > self.policy.max_retry_after:
                return None
            return failure.retry_after
        return self.policy.backoff(attempt, self.rng)
