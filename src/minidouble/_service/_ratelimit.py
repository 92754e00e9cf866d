"""The account's rate limiter: two token buckets charged the way api.openai.com charges them.

The real limiter sits in front of body validation and never tokenises: it charges an
*estimate* (about a quarter of the prompt's characters, plus the requested output tokens)
before anything else looks at the request, so an over-long request that is then refused with
a 400 still spends tokens (reference §1.1). Both buckets refill continuously over a minute;
"Used" in a 429 message is the limit minus what is left, and the advertised wait is exactly
the time the bucket needs to cover the request (``Used 170583, Requested 180002`` against
200,000 TPM gives ``45.175s``, as recorded).

Every number comes from the model profile; the clock is injectable so tests are exact.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from minidouble._model._profile import GPT4O_MINI, ModelProfile

__all__ = [
    "Clock",
    "RateLimiter",
    "Rejection",
    "estimate_tokens",
    "go_duration",
    "keyed_estimate",
    "wait_millis",
]

Clock = Callable[[], float]

# Request fields whose text the limiter counts as prompt, on both chat and Responses paths.
_PROMPT_FIELDS = ("messages", "input", "instructions", "tools", "functions")
_OUTPUT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_STRUCTURAL_FIELDS = ("role", "type")


def wait_millis(seconds: float) -> int:
    """A wait as the API states it: whole milliseconds, truncated, never 0 for a real wait."""
    if seconds <= 0:
        return 0
    # floor(round(millis, 6)), without round() unless it could go either way: a bucket's
    # wait is often a hair under a whole millisecond (60 s comes out as 59999.99999999999
    # ms), and round() with digits was the dearest step of every response's headers.
    millis = seconds * 1000
    whole = int(millis)
    below = millis - whole
    if below < 0.999999:
        # The nearest multiple of 1e-6 is below the next whole millisecond, never under this.
        return whole or 1
    if below > 0.9999996:
        return whole + 1  # within half a millionth of it: rounds up to it
    return max(1, math.floor(round(millis, 6)))


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String()`` prints it, at millisecond precision.

    That is the format of ``x-ratelimit-reset-*`` and of "Please try again in ...":
    ``0s``, ``120ms``, ``8.64s``, ``6m0s``, ``1h0m0s``.
    """
    millis = wait_millis(seconds)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    # Seconds and milliseconds, trailing zeros dropped ("8.64", "0", "12.005").
    whole_secs, fraction = divmod(rest, 1000)
    secs = f"{whole_secs}.{fraction:03d}".rstrip("0") if fraction else str(whole_secs)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _text_chars(value: Any) -> int:
    # Exact types first: an ``isinstance`` against an abstract class costs more than a visit.
    kind = type(value)
    if kind is str:
        return len(value)
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        # Structural fields are part of the per-message overhead, not of the text.
        total = 0
        for key, item in value.items():
            if key not in _STRUCTURAL_FIELDS:
                total += len(item) if type(item) is str else _text_chars(item)
        return total
    if kind is list or isinstance(value, list):
        return sum([_text_chars(v) for v in value])
    if isinstance(value, str):
        return len(value)
    return 0


def estimate_tokens(body: Any, profile: ModelProfile = GPT4O_MINI) -> int:
    """What the limiter charges for ``body``: prompt characters / 4 per message, plus output.

    The requested output (``max_tokens`` or its successors, times ``n``) is reserved in full;
    without one nothing is reserved (a 720,000-character request without ``max_tokens`` was
    charged 180,002). Works on any JSON value: the limiter runs before validation.
    """
    if type(body) is not dict and not isinstance(body, Mapping):
        return 0
    rules = profile.rate_limits
    per_token, per_message = rules.estimate_chars_per_token, rules.estimate_tokens_per_message
    total = 0
    for field in _PROMPT_FIELDS:
        value = body.get(field)
        if value is None:
            continue  # absent: no text, no messages
        if field in ("messages", "input"):
            # Each message also costs its role and separators, like the real template.
            items = value if isinstance(value, list) else [value]
            for item in items:
                content = item.get("content") if type(item) is dict else None
                if type(content) is str and len(item) == 2 and ("role" in item or "type" in item):
                    # {"role", "content"}: the content is all its text (the role is structure).
                    chars = len(content)
                else:
                    chars = _text_chars(item)
                total += math.ceil(chars / per_token) + per_message
        else:
            total += math.ceil(_text_chars(value) / per_token)
    reserved = 0
    for field in _OUTPUT_FIELDS:
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            reserved = value
            break
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1
    return total + max(reserved, 0) * choices


def keyed_estimate(body: Any, profile: ModelProfile, key: Hashable | None) -> int:
    """:func:`estimate_tokens` of a body whose :func:`~minidouble._model._body_key.body_key`
    is ``key``, remembered for the bodies that recur (see that module)."""
    if key is None:
        return estimate_tokens(body, profile)
    rules = profile.rate_limits
    per_token, per_message = rules.estimate_chars_per_token, rules.estimate_tokens_per_message
    known = _estimates.get(key)
    # The estimate is a function of the body and these two numbers alone.
    if known is not None and known[0] == per_token and known[1] == per_message:
        return known[2]
    estimate = estimate_tokens(body, profile)
    if len(_estimates) >= _ESTIMATES_MAX:
        _estimates.clear()
    _estimates[key] = (per_token, per_message, estimate)
    return estimate


# Estimates of small bodies already seen, with the profile's numbers they were made with;
# cleared when full.
_estimates: dict[Hashable, tuple[int, int, int]] = {}
_ESTIMATES_MAX = 4096


@dataclass(frozen=True)
class Rejection:
    """Why the limiter refused a request, with the numbers its 429 message states."""

    kind: Literal["requests", "tokens", "too_large"]
    limit: int
    used: int
    requested: int
    # Seconds until the bucket covers the request; None when it never will (too large).
    retry_after: float | None


class _Bucket:
    """A bucket of ``capacity`` that refills completely in one minute, continuously."""

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = capacity
        self.capacity_text = str(capacity)  # sent with every response
        self.rate = capacity / 60.0
        self.level = float(capacity)
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, amount: int) -> float:
        return max(0.0, (amount - self.level) / self.rate)

    def used(self) -> int:
        return self.capacity - math.floor(self.level)


class RateLimiter:
    """Requests-per-minute and tokens-per-minute buckets for one fake account.

    With ``enforce`` False (the fake's default) the buckets still track spending, so the
    ``x-ratelimit-*`` headers move as they would, but nothing is refused: a test suite never
    trips over limits it did not ask for.
    """

    def __init__(
        self,
        *,
        requests_per_minute: int,
        tokens_per_minute: int,
        enforce: bool,
        clock: Clock = time.monotonic,
        profile: ModelProfile = GPT4O_MINI,
    ) -> None:
        self.enforce = enforce
        self.clock = clock
        self.profile = profile
        now = clock()
        self._requests = _Bucket(requests_per_minute, now)
        self._tokens = _Bucket(tokens_per_minute, now)
        self._lock = threading.Lock()

    @property
    def requests_per_minute(self) -> int:
        return self._requests.capacity

    @property
    def tokens_per_minute(self) -> int:
        return self._tokens.capacity

    def admit(self, estimated_tokens: int) -> Rejection | None:
        """Charge one request of ``estimated_tokens``, or say why the limiter refuses it."""
        with self._lock:
            return self._charge(estimated_tokens)

    def charge(self, estimated_tokens: int) -> Rejection | dict[str, str]:
        """:meth:`admit`, answering with the headers right after the charge when it admits.

        One look at the clock and the buckets for both: the fake does this for every request.
        """
        with self._lock:
            rejection = self._charge(estimated_tokens)
            return rejection if rejection is not None else self._headers_now(None)

    def _charge(self, estimated_tokens: int) -> Rejection | None:
        now = self.clock()
        requests, tokens = self._requests, self._tokens
        requests.refill(now)
        tokens.refill(now)
        if self.enforce:
            rejection = self._check(estimated_tokens)
            if rejection is not None:
                return rejection
        # max(0.0, level), without the call: levels never go below 0.
        level = requests.level - 1
        requests.level = level if level > 0.0 else 0.0
        level = tokens.level - estimated_tokens
        tokens.level = level if level > 0.0 else 0.0
        return None

    def _check(self, estimated: int) -> Rejection | None:
        tokens, requests = self._tokens, self._requests
        if estimated > tokens.capacity:
            return Rejection("too_large", tokens.capacity, tokens.used(), estimated, None)
        if requests.level < 1:
            wait = requests.wait_for(1)
            return Rejection("requests", requests.capacity, requests.used(), 1, wait)
        if tokens.level < estimated:
            wait = tokens.wait_for(estimated)
            return Rejection("tokens", tokens.capacity, tokens.used(), estimated, wait)
        return None

    def headers(self, rejection: Rejection | None = None) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers now, in the API's order.

        For a refused request the exhausted bucket's reset is the wait the 429 states.
        """
        with self._lock:
            now = self.clock()
            self._requests.refill(now)
            self._tokens.refill(now)
            return self._headers_now(rejection)

    def _headers_now(self, rejection: Rejection | None) -> dict[str, str]:
        requests, tokens = self._requests, self._tokens
        # Seconds until each bucket is full again.
        reset_requests = (requests.capacity - requests.level) / requests.rate
        reset_tokens = (tokens.capacity - tokens.level) / tokens.rate
        if rejection is not None and rejection.retry_after is not None:
            if rejection.kind == "requests":
                reset_requests = max(reset_requests, rejection.retry_after)
            else:
                reset_tokens = max(reset_tokens, rejection.retry_after)
        # Levels never go below 0, where int() truncates as floor does.
        return {
            "x-ratelimit-limit-requests": requests.capacity_text,
            "x-ratelimit-limit-tokens": tokens.capacity_text,
            "x-ratelimit-remaining-requests": str(int(requests.level)),
            "x-ratelimit-remaining-tokens": str(int(tokens.level)),
            "x-ratelimit-reset-requests": go_duration(reset_requests),
            "x-ratelimit-reset-tokens": go_duration(reset_tokens),
        }
