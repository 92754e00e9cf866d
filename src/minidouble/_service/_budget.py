"""What a fake's requests cost, and the budgets a test may set on it.

One rule decides what is billed (the end-of-run summary and budgets both use it): a request
costs its prompt and completion tokens when the model answered it; requests the API refused
(4xx, 5xx, rate limits, dropped connections) cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from minidouble._model._profile import GPT4O_MINI, ModelProfile, Prices
from minidouble._service._script import RecordedRequest

__all__ = ["ApartLedger", "Budget", "Usage", "billed_apart", "usage_of"]

# Tokens billed at their own price: (prices, logged) -> [prompt, completion, cached, lines].
# ``logged``: the tokens are already among the request log's (a fine-tuned answer), so only
# their price differs; otherwise they are batch lines, outside the log.
ApartLedger = dict[tuple[Prices, bool], list[int]]


@dataclass(frozen=True)
class Usage:
    """Requests received and the tokens billed for them.

    ``replayed`` and ``recorded`` count the requests a cassette answered (docs/cassettes.md):
    they are among ``requests`` and bill the usage the upstream reported when recorded.
    Some tokens have their own price: batch lines (docs/batch.md; among the tokens but not
    the requests, ``batch_lines`` counts the successful ones) and answers of fine-tuned
    models. Those tokens (``apart_prompt_tokens``, ``apart_completion_tokens`` and of the
    prompt ``apart_cached_tokens``, among the totals) cost ``apart_cost`` instead of the
    profile's price.
    """

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    replayed: int = 0
    recorded: int = 0
    # Of the prompt tokens, those the prompt cache served (billed at the cached price).
    cached_tokens: int = 0
    batch_lines: int = 0
    apart_prompt_tokens: int = 0
    apart_completion_tokens: int = 0
    apart_cached_tokens: int = 0
    apart_cost: Decimal = Decimal(0)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def cost(self, profile: ModelProfile = GPT4O_MINI) -> Decimal:
        """Dollars at the profile's prices, cached prompt tokens at the cached price, and
        tokens priced apart at their own."""
        direct = profile.prices.cost(
            self.prompt_tokens - self.apart_prompt_tokens,
            self.completion_tokens - self.apart_completion_tokens,
            self.cached_tokens - self.apart_cached_tokens,
        )
        return direct + self.apart_cost

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.replayed + other.replayed,
            self.recorded + other.recorded,
            self.cached_tokens + other.cached_tokens,
            self.batch_lines + other.batch_lines,
            self.apart_prompt_tokens + other.apart_prompt_tokens,
            self.apart_completion_tokens + other.apart_completion_tokens,
            self.apart_cached_tokens + other.apart_cached_tokens,
            self.apart_cost + other.apart_cost,
        )

    def describe(self, profile: ModelProfile = GPT4O_MINI) -> str:
        batch = f" and {self.batch_lines:,} batch line(s)" if self.batch_lines else ""
        cached = f" ({self.cached_tokens:,} cached)" if self.cached_tokens else ""
        return (
            f"{self.requests:,} request(s){batch}, {self.prompt_tokens:,} prompt{cached} + "
            f"{self.completion_tokens:,} completion = {self.total_tokens:,} tokens, "
            f"${self.cost(profile):.6f}"
        )


def billed_apart(ledger: Mapping[tuple[Prices, bool], list[int]]) -> Usage:
    """The :class:`Usage` of a session's apart ledger (priced here, once, not per line)."""
    usage = Usage()
    for (prices, logged), (prompt, completion, cached, lines) in ledger.items():
        usage += Usage(
            prompt_tokens=0 if logged else prompt,
            completion_tokens=0 if logged else completion,
            cached_tokens=0 if logged else cached,
            batch_lines=lines,
            apart_prompt_tokens=prompt,
            apart_completion_tokens=completion,
            apart_cached_tokens=cached,
            apart_cost=prices.cost(prompt, completion, cached),
        )
    return usage


def usage_of(requests: Iterable[RecordedRequest]) -> Usage:
    total = prompt = completion = cached = 0
    by_cassette = {"replayed": 0, "recorded": 0}
    for recorded in requests:
        total += 1
        if recorded.cassette in by_cassette:
            by_cassette[recorded.cassette] += 1
        if recorded.status == 200 and recorded.answered:
            prompt += recorded.prompt_tokens or 0
            completion += recorded.completion_tokens or 0
            cached += recorded.cached_tokens
    return Usage(
        total, prompt, completion, by_cassette["replayed"], by_cassette["recorded"], cached
    )


def _dollars(value: Any) -> Decimal | None:
    if value is None:
        return None
    # Typed values only: "$0.25" from a command line is parsed in _options.
    number = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    try:
        amount = Decimal(str(value)) if number else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise ValueError(
            f"minidouble: budget_usd={value!r} is not an amount of dollars; expected a "
            "number >= 0 such as 0.01 (or the string '0.01')."
        )
    return amount


def _tokens(value: Any) -> int | None:
    if value is None:
        return None
    count = value if isinstance(value, int) and not isinstance(value, bool) else None
    if count is None or count < 0:
        raise ValueError(
            f"minidouble: budget_tokens={value!r} is not a token count; expected a whole "
            "number >= 0 such as 5000."
        )
    return count


@dataclass(frozen=True)
class Budget:
    """Limits on what one fake's requests may cost (dollars) and use (tokens)."""

    usd: Decimal | None = None
    tokens: int | None = None

    @property
    def limits(self) -> bool:
        """Whether any limit is set."""
        return self.usd is not None or self.tokens is not None

    @classmethod
    def from_options(cls, usd: Any, tokens: Any) -> Budget:
        """From the fake's ``budget_usd``/``budget_tokens``, typed (``_options`` parses strings)."""
        return cls(_dollars(usd), _tokens(tokens))

    def overruns(self, usage: Usage, profile: ModelProfile = GPT4O_MINI) -> list[str]:
        """One plain sentence per limit ``usage`` exceeds."""
        problems = []
        spent = usage.describe(profile)
        if self.usd is not None and usage.cost(profile) > self.usd:
            problems.append(
                f"minidouble: this test's requests cost ${usage.cost(profile):.6f} at "
                f"{profile.response_model} prices, over its budget of ${self.usd} "
                f"(budget_usd); it used {spent}. Make the code send fewer or shorter requests "
                "(lower max_tokens, trim the prompt), or raise budget_usd."
            )
        if self.tokens is not None and usage.total_tokens > self.tokens:
            problems.append(
                f"minidouble: this test's requests used {usage.total_tokens:,} tokens, over "
                f"its budget of {self.tokens:,} (budget_tokens); it used {spent}. Make the "
                "code send fewer or shorter requests, or raise budget_tokens."
            )
        return problems
