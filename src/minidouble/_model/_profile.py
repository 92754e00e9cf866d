"""GPT-4o mini as data: the single source of truth for limits, prices, ids and rules.

Every other module reads its numbers from :data:`GPT4O_MINI`; none hard-codes them. Where the
public evidence is uncertain (see ``docs/model-profile.md``) the choice is one field here, so
changing it is a one-line edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Literal

__all__ = [
    "GPT4O_MINI",
    "BatchRules",
    "ImageRules",
    "ImageSize",
    "Latency",
    "ModelProfile",
    "NumberRule",
    "Prices",
    "PromptCaching",
    "RateLimits",
    "ReplyCosts",
    "ResponsesRules",
    "ResponsesTemplate",
    "StrictSchemaLimits",
    "TokenRules",
    "ValidationRules",
]


@dataclass(frozen=True)
class NumberRule:
    """Range of a numeric request parameter; ``integer`` selects the integer error wording."""

    minimum: float | None
    maximum: float | None
    integer: bool = False
    nullable: bool = True


@dataclass(frozen=True)
class Prices:
    """US dollars per one million tokens."""

    input_per_million: Decimal
    cached_input_per_million: Decimal
    output_per_million: Decimal

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Decimal:
        """What a request with these token counts costs, in dollars."""
        uncached = prompt_tokens - cached_tokens
        total = (
            uncached * self.input_per_million
            + cached_tokens * self.cached_input_per_million
            + completion_tokens * self.output_per_million
        )
        return total / Decimal(1_000_000)

    def scaled(self, factor: Decimal) -> Prices:
        """These prices times ``factor`` (the Batch API bills half)."""
        return Prices(
            self.input_per_million * factor,
            self.cached_input_per_million * factor,
            self.output_per_million * factor,
        )


@dataclass(frozen=True)
class ImageSize:
    """Pixel dimensions of an image."""

    width: int
    height: int


@dataclass(frozen=True)
class ImageRules:
    """How an image part turns into prompt tokens (GPT-4o mini's own numbers, not GPT-4o's)."""

    base_tokens: int = 2_833
    tile_tokens: int = 5_667
    tile_size: int = 512
    fit_within: int = 2_048
    short_side: int = 768
    formats: tuple[str, ...] = ("png", "jpeg", "gif", "webp")
    # Remote image URLs cannot be measured offline; they are counted as this size.
    assumed_remote_size: ImageSize = field(default_factory=lambda: ImageSize(1024, 1024))


@dataclass(frozen=True)
class TokenRules:
    """The chat template's fixed costs, in tokens."""

    reply_priming: int = 3
    per_message: int = 3
    image: ImageRules = field(default_factory=ImageRules)
    # File parts (PDF text and page images) and input_audio parts cannot be measured offline.
    assumed_file_tokens: int = 0
    assumed_audio_tokens: int = 0
    # Tool definitions: a TypeScript-like block inside the first system/developer message.
    tools_header: str = "# Tools\n\n## functions\n\nnamespace functions {\n\n"
    tools_footer: str = "} // namespace functions"
    tools_separator: str = "\n\n"
    tools_role: str = "system"
    instruction_roles: tuple[str, ...] = ("system", "developer")
    # The recorded block is one token cheaper than the text above (from 2024-11-08 on).
    tools_adjustment: int = -1
    # tool_choice effects: "none" and a named function add these (named: + the tokens of
    # "functions.NAME").
    tool_choice_none: int = 1
    tool_choice_named: int = 6
    # Tool calls in the history: "assistant to=functions" + NAME turns, +2 tokens each.
    assistant_to_prefix: str = "assistant to=functions"
    functions_prefix: str = "functions."
    parallel_tool_header: str = "assistant to=multi_tool_use.parallel"
    per_tool_call: int = 2
    # A call's arguments are re-serialised as compact JSON (the Responses API keeps them as sent).
    compact_arguments: bool = True
    # The answers to a parallel call are one message (the JSON list of the results). Only the
    # length of its header and fixed part is measured (3 + 2 tokens), not their text.
    parallel_answers_header: str = "multi_tool_use"
    parallel_answers_extra: int = 2
    # That list escaped non-ASCII text (`\u2019`) until February 2026 (37 recorded items, 7
    # repositories); from March 2026 on it is written as is (12 crewAI gpt-4o items).
    parallel_answers_ascii: bool = False
    # response_format json_schema: a "# Response Formats" section in the instructions, and
    # the reply primed with the format's name plus this many tokens.
    response_format_header: str = "# Response Formats\n\n## "
    response_format_overhead: int = 2
    # Each earlier assistant answer in the history costs that overhead and the name again.
    answers_carry_format_mark: bool = True
    response_format_keys: frozenset[str] = frozenset(
        {
            "type",
            "properties",
            "items",
            "enum",
            "anyOf",
            "$ref",
            "$defs",
            "const",
            "title",
            "description",
        }
    )


@dataclass(frozen=True)
class StrictSchemaLimits:
    """Structured Outputs limits (the current guide's values; launch values in docs)."""

    max_properties: int = 5_000
    max_nesting: int = 10
    max_total_string_chars: int = 120_000
    max_enum_values: int = 1_000
    large_enum_threshold: int = 250
    large_enum_max_chars: int = 15_000
    # minLength/maxLength: a strict gpt-4o-mini schema using both was answered (2025-08,
    # fidelity corpus), though other models refused "'minLength' is not permitted" later.
    forbidden_keywords: tuple[str, ...] = (
        "uniqueItems",
        "patternProperties",
        "unevaluatedProperties",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "contains",
        "minContains",
        "maxContains",
    )


@dataclass(frozen=True)
class ValidationRules:
    """Enumerations and choices of the request validator (evidence in docs/model-profile.md)."""

    # The part types the validator knows, in the order its enum error lists them [T].
    content_part_types: tuple[str, ...] = (
        "text",
        "image_url",
        "input_audio",
        "refusal",
        "audio",
        "file",
    )
    image_details: tuple[str, ...] = ("auto", "low", "high")
    audio_formats: tuple[str, ...] = ("wav", "mp3")
    tool_types: tuple[str, ...] = ("function",)
    tool_choice_modes: tuple[str, ...] = ("none", "auto", "required")
    function_call_modes: tuple[str, ...] = ("none", "auto")
    # The order the enum error lists them in (measured on the endpoint, 2026).
    response_format_types: tuple[str, ...] = ("json_object", "json_schema", "text")
    modalities: tuple[str, ...] = ("text", "audio")
    # This snapshot neither hears nor speaks: audio parts and audio output are refused.
    supports_audio: bool = False
    supports_web_search: bool = False
    # 24 recorded gpt-4o-mini requests sent ``"stop": []`` and were answered.
    min_stop_sequences: int = 0
    # o200k_base's ``<|endoftext|>``; cl100k's limit was its own ``<|endoftext|>`` (100257).
    logit_bias_max_token_id: int = 199_999
    max_safety_identifier_length: int = 64
    # Enum values longer than this are echoed as first 3 + "..." + last 3 characters.
    echo_abbreviate_over: int = 20
    # The word json_object mode requires somewhere in the messages (case-insensitive).
    json_object_word: str = "json"
    # A history ending on tool calls nobody answered: refused like unanswered calls before a
    # later message, pointing at the assistant message (no recording either way).
    reject_trailing_tool_calls: bool = True
    # A message without content (absent or null, bar an assistant's tool calls) is refused:
    # recorded for gpt-4o-mini through 2025; a 2026 model was measured accepting both.
    require_content: bool = True
    # Unknown top-level keys: "Unrecognized request argument(s) supplied: a, b" was recorded for
    # gpt-4o-mini; "unknown_parameter" ("Unknown parameter: 'a'.") is what later models get.
    unknown_argument_wording: Literal["unrecognized", "unknown_parameter"] = "unrecognized"


@dataclass(frozen=True)
class RateLimits:
    """The account limits the fake reports in ``x-ratelimit-*`` headers (usage tier 1)."""

    requests_per_minute: int = 500
    tokens_per_minute: int = 200_000
    # The limiter estimates before tokenising: characters / 4, plus a little per message
    # (a 720,000-character message without max_tokens was charged 180,002 [T] PROBE).
    estimate_chars_per_token: int = 4
    estimate_tokens_per_message: int = 2
    # How 429 messages name the model and the organization.
    limited_model: str = "gpt-4o-mini"
    organization: str = "org-minidouble"


@dataclass(frozen=True)
class PromptCaching:
    """Automatic prompt caching (reference batch-files-caching §8, ``docs/caching.md``).

    A prompt of ``minimum_tokens`` or more is cached in blocks: a later prompt that starts
    with the same tokens reports the shared part as ``cached_tokens``, ``minimum_tokens``
    plus whole ``step`` blocks, never the whole prompt (its last ``uncached_tail`` tokens, the
    reply's priming, are never cached). A cached prefix lives ``idle_seconds`` after its last
    use (the guide's "5 to 10 minutes of inactivity", taken at the low end), and never more
    than ``max_age_seconds`` after it was written;
    ``prompt_cache_retention: "24h"`` keeps it ``extended_seconds`` after its last use.
    """

    minimum_tokens: int = 1024
    step: int = 128
    # The reply's priming (the last 3 tokens of every prompt) is not part of the cached
    # prefix: the 3 recorded follow-ups of a prompt whose priming completed a block reused
    # one block less, and none disagrees (docs/caching.md). 0 would cache it with the prompt.
    uncached_tail: int = 3
    idle_seconds: float = 300.0
    max_age_seconds: float = 3600.0
    extended_seconds: float = 86_400.0


@dataclass(frozen=True)
class BatchRules:
    """The Batch API and the Files it reads (reference: batch-files-caching §2-§7, §9).

    ``enqueued_tokens``: the input tokens the account may have in batches not yet finished
    (usage tier 1, the tier of :class:`RateLimits`); tiers 2-5 allow 20M, 40M, 1B and 15B.
    """

    max_file_bytes: int = 209_715_200
    max_lines: int = 50_000
    azure_max_lines: int = 100_000
    enqueued_tokens: int = 2_000_000
    # Azure Global Batch's default quota for gpt-4o-mini (enterprise 15B, credit card 50M).
    azure_enqueued_tokens: int = 1_000_000_000
    completion_windows: tuple[str, ...] = ("24h",)
    window_seconds: int = 86_400
    # A cancelled batch turns "cancelled" this long after the call (605 s and 606 s recorded).
    cancel_seconds: int = 605
    # Files uploaded for a batch, and a batch's output files, expire after 30 days.
    file_expiry_seconds: int = 2_592_000
    endpoints: tuple[str, ...] = (
        "/v1/responses",
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/completions",
    )
    # The endpoints whose lines the fake can answer (GPT-4o mini does not embed or complete).
    served_endpoints: tuple[str, ...] = ("/v1/chat/completions", "/v1/responses")
    upload_purposes: tuple[str, ...] = (
        "assistants",
        "batch",
        "fine-tune",
        "vision",
        "user_data",
        "evals",
    )
    # Every line is billed at this share of the synchronous price (cached input included).
    price_factor: Decimal = Decimal("0.5")


@dataclass(frozen=True)
class Latency:
    """How long the real model takes, for ``latency="realistic"`` (seconds, tokens/s).

    202 tokens/s is GPT-4o mini's measured median output speed (Artificial Analysis); the
    time to first token is its typical median there (0.35-0.5 s), taken at the low end.
    """

    time_to_first_token: float = 0.35
    tokens_per_second: float = 202.0


@dataclass(frozen=True)
class ReplyCosts:
    """Completion tokens the model spends around tool calls, beyond the arguments' own tokens.

    Fitted on the 463 recorded gpt-4o-mini tool-call replies in the fidelity corpus (61%
    exact, 96% within 2 tokens; tests/test_fidelity_replies.py holds that line): one call
    costs its name plus 7, a forced (named ``tool_choice``) call only its arguments, and
    several parallel calls their names plus 7 each plus 14 for the parallel wrapper.
    """

    single_call: int = 7
    per_parallel_call: int = 7
    parallel_wrapper: int = 14


@dataclass(frozen=True)
class ResponsesTemplate:
    """Where the Responses API's prompt rendering differs from the chat template's.

    Measured on the gpt-4o-mini (and gpt-4o) Responses recordings from April 2025 on
    (docs/responses.md): the tools block is cheaper and encoded apart from the instructions, a
    function call in the history is its own turn with its arguments as sent and no extra
    token unless it is sent back as the API returned it, the json_schema format primes the
    reply with less and marks no earlier answer, and the reply's end is billed.
    """

    tools_adjustment: int = -3
    per_tool_call: int = 0
    # A function call sent back as the API returned it (with its id and status) costs this
    # much more, unless it is one of several calls in a row (a parallel call's).
    echoed_lone_call: int = 3
    compact_arguments: bool = False
    response_format_overhead: int = 1
    primes_format_name: bool = False
    answers_carry_format_mark: bool = False
    # With tools defined, tool_choice "none" does not bring the format priming back.
    tool_choice_none_primes_format: bool = False
    # The tools and format sections are encoded on their own: never merged into the first
    # system/developer message's text (whose last token would absorb the "\n\n" before
    # them), and without a turn of their own when there is no such message.
    sections_apart: bool = True
    # output_tokens also bills the reply's end: +1 after a finished text (+2 when the model
    # could have called a tool instead), +1 after one function call, +3 after parallel calls;
    # nothing when max_output_tokens cut the text (370 of 380 recorded replies agree).
    text_end: int = 1
    text_end_tools_callable: int = 2
    call_end: int = 1
    parallel_calls_end: int = 3
    # A ``compaction`` item is the earlier conversation, encrypted by OpenAI: the model reads
    # the decrypted text, which only the server has, so its size is the only evidence. One
    # token per 10 characters of ``encrypted_content`` is within 11 tokens (5%) of the 7
    # recorded bills (2026-02/04, gpt-4o-mini and gpt-4o): an estimate, not a count.
    compaction_chars_per_token: int = 10


@dataclass(frozen=True)
class ResponsesRules:
    """What differs on ``POST /v1/responses`` (reference §13, ``docs/responses.md``)."""

    # "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16" [T].
    min_output_tokens: int = 16
    parameters: frozenset[str] = frozenset(
        {
            "model",
            "input",
            "instructions",
            "background",
            "conversation",
            "include",
            "max_output_tokens",
            "max_tool_calls",
            "metadata",
            "parallel_tool_calls",
            "previous_response_id",
            "prompt",
            "prompt_cache_key",
            "prompt_cache_retention",
            "reasoning",
            "safety_identifier",
            "service_tier",
            "store",
            "stream",
            "stream_options",
            "temperature",
            "text",
            "tool_choice",
            "tools",
            "top_logprobs",
            "top_p",
            "truncation",
            "user",
        }
    )
    # The enums as the API lists them in its "Supported values are: ..." errors [T 2025-07/08].
    input_item_types: tuple[str, ...] = (
        "code_interpreter_call",
        "computer_call",
        "computer_call_output",
        "file_search_call",
        "function_call",
        "function_call_output",
        "image_generation_call",
        "item_reference",
        "local_shell_call",
        "local_shell_call_output",
        "message",
        "reasoning",
        "web_search_call",
    )
    content_part_types: tuple[str, ...] = (
        "input_text",
        "input_image",
        "output_text",
        "refusal",
        "input_file",
        "computer_screenshot",
        "summary_text",
    )
    roles: tuple[str, ...] = ("assistant", "system", "developer", "user")
    includables: tuple[str, ...] = (
        "file_search_call.results",
        "web_search_call.results",
        "web_search_call.action.sources",
        "message.input_image.image_url",
        "computer_call_output.output.image_url",
        "code_interpreter_call.outputs",
        "reasoning.encrypted_content",
        "message.output_text.logprobs",
    )
    text_format_types: tuple[str, ...] = ("text", "json_schema", "json_object")
    # Whether a ``strict: true`` function's schema must follow the Structured Outputs rules
    # (``additionalProperties: false``, every property required...). It must now: refused on
    # Responses in 2025-03 (pydantic-ai, before 03-27) and on chat in 2025-09 and 2026-01.
    # Two recordings of 2025-03-06 were answered (opentelemetry-js-contrib mock responses);
    # the fidelity test judges recordings older than its STRICT_CHECKED_FROM with this off.
    strict_functions_checked: bool = True
    template: ResponsesTemplate = field(default_factory=ResponsesTemplate)
    max_top_logprobs: int = 20


@dataclass(frozen=True)
class ModelProfile:
    """Everything about one model that the validator, counter, generator and strategies need."""

    profile_version: str
    verified_on: date
    accepted_model_ids: frozenset[str]
    response_model: str
    encoding_name: str
    context_window: int
    max_output_tokens: int
    prices: Prices
    system_fingerprint: str
    tokens: TokenRules
    strict_schema: StrictSchemaLimits
    numbers: dict[str, NumberRule]
    max_tools: int
    max_functions: int
    max_stop_sequences: int
    max_string_length: int
    max_name_length: int
    max_metadata_pairs: int
    max_metadata_key_length: int
    max_metadata_value_length: int
    name_pattern: str
    roles: tuple[str, ...]
    chat_parameters: frozenset[str]
    # Parameters that exist in the API but this model refuses when they are not null.
    refused_parameters: frozenset[str]
    service_tiers: tuple[str, ...]
    # The two wordings for an over-cap max_tokens that are in circulation (reference §14.2).
    over_cap_wording: Literal["too_large", "integer_above_max_value"]
    # Whether prompt + requested max beyond the context is an error (reference §14.3).
    reject_prompt_plus_max_over_context: bool
    # OpenAI's own spelling in the tool-ordering error (reference §14.8).
    tool_order_spelling: str
    validation: ValidationRules = field(default_factory=ValidationRules)
    # What GET /v1/models shows for each id: (id, created, owned_by), in the API's order.
    listed_models: tuple[tuple[str, int, str], ...] = ()
    openai_version: str = "2020-10-01"
    rate_limits: RateLimits = field(default_factory=RateLimits)
    caching: PromptCaching = field(default_factory=PromptCaching)
    latency: Latency = field(default_factory=Latency)
    reply_costs: ReplyCosts = field(default_factory=ReplyCosts)
    responses: ResponsesRules = field(default_factory=ResponsesRules)
    batch: BatchRules = field(default_factory=BatchRules)
    # Fine-tuned models of the snapshot (``ft:<snapshot>:<org>:<suffix>:<id>[:ckpt-step-N]``,
    # reference batch-files-caching §9.1): same limits, their own prices; None: none exist.
    fine_tuned_pattern: str | None = None
    fine_tuned_prices: Prices | None = None

    def accepts_model(self, model: str) -> bool:
        return model in self.accepted_model_ids or self.is_fine_tuned(model)

    def is_fine_tuned(self, model: str) -> bool:
        """Whether ``model`` is a well-formed fine-tuned id of this snapshot."""
        pattern = self.fine_tuned_pattern
        return (
            pattern is not None
            and model.startswith("ft:")
            and _compiled(pattern).fullmatch(model) is not None
        )

    def prices_for(self, model: str | None) -> Prices:
        """The synchronous prices of ``model`` (a fine-tuned id has its own)."""
        if model is not None and self.fine_tuned_prices is not None and self.is_fine_tuned(model):
            return self.fine_tuned_prices
        return self.prices

    def for_model(self, model: object) -> ModelProfile:
        """This profile as it answers ``model``: a fine-tuned id echoes itself in replies."""
        if type(model) is not str or not model.startswith("ft:") or not self.is_fine_tuned(model):
            return self
        return _fine_tuned_profile(self, model)


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# Profiles hold dicts, so they cannot key an lru_cache: the base's identity does (the entry
# keeps the base alive, so the identity is never reused while the entry exists).
_FINE_TUNED: dict[tuple[int, str], tuple[ModelProfile, ModelProfile]] = {}


def _fine_tuned_profile(base: ModelProfile, model: str) -> ModelProfile:
    key = (id(base), model)
    held = _FINE_TUNED.get(key)
    if held is None:
        if len(_FINE_TUNED) >= 256:
            _FINE_TUNED.clear()
        derived = replace(base, response_model=model, prices=base.prices_for(model))
        held = _FINE_TUNED[key] = (base, derived)
    return held[1]


GPT4O_MINI = ModelProfile(
    profile_version="2026.11",
    verified_on=date(2026, 11, 23),
    accepted_model_ids=frozenset({"gpt-4o-mini", "gpt-4o-mini-2024-07-18"}),
    response_model="gpt-4o-mini-2024-07-18",
    encoding_name="o200k_base",
    context_window=128_000,
    max_output_tokens=16_384,
    prices=Prices(
        input_per_million=Decimal("0.15"),
        cached_input_per_million=Decimal("0.075"),
        output_per_million=Decimal("0.60"),
    ),
    system_fingerprint="fp_560af6e559",
    tokens=TokenRules(),
    strict_schema=StrictSchemaLimits(),
    numbers={
        "temperature": NumberRule(0, 2),
        "top_p": NumberRule(0, 1),
        "presence_penalty": NumberRule(-2, 2),
        "frequency_penalty": NumberRule(-2, 2),
        "n": NumberRule(1, 128, integer=True),
        "top_logprobs": NumberRule(0, 20, integer=True),
        "max_tokens": NumberRule(1, None, integer=True),
        "max_completion_tokens": NumberRule(1, None, integer=True),
        "seed": NumberRule(-(2**63), 2**63 - 1, integer=True),
        "logit_bias_value": NumberRule(-100, 100, integer=True, nullable=False),
    },
    max_tools=128,
    max_functions=128,
    max_stop_sequences=4,
    max_string_length=1_048_576,
    max_name_length=64,
    max_metadata_pairs=16,
    max_metadata_key_length=64,
    max_metadata_value_length=512,
    name_pattern="^[a-zA-Z0-9_-]+$",
    roles=("system", "assistant", "user", "function", "tool", "developer"),
    chat_parameters=frozenset(
        {
            "model",
            "messages",
            "audio",
            "frequency_penalty",
            "function_call",
            "functions",
            "logit_bias",
            "logprobs",
            "max_completion_tokens",
            "max_tokens",
            "metadata",
            "modalities",
            "n",
            "parallel_tool_calls",
            "prediction",
            "presence_penalty",
            "prompt_cache_key",
            "response_format",
            "safety_identifier",
            "seed",
            "service_tier",
            "stop",
            "store",
            "stream",
            "stream_options",
            "temperature",
            "tool_choice",
            "tools",
            "top_logprobs",
            "top_p",
            "user",
            "web_search_options",
        }
    ),
    refused_parameters=frozenset({"reasoning_effort", "verbosity"}),
    service_tiers=("auto", "default", "flex", "scale", "priority"),
    over_cap_wording="too_large",
    reject_prompt_plus_max_over_context=True,
    tool_order_spelling="preceeding",
    listed_models=(
        ("gpt-4o-mini", 1721172741, "system"),
        ("gpt-4o-mini-2024-07-18", 1721172717, "system"),
    ),
    # The org part is the org's slug ("personal" for personal accounts); the suffix may be
    # empty (``ft:gpt-4o-mini-2024-07-18:personal::9z5uyT9b``).
    fine_tuned_pattern=(
        r"ft:gpt-4o-mini-2024-07-18:[a-z0-9._-]*:[A-Za-z0-9._-]{0,64}:[A-Za-z0-9]{8}"
        r"(:ckpt-step-[0-9]+)?"
    ),
    fine_tuned_prices=Prices(
        input_per_million=Decimal("0.30"),
        cached_input_per_million=Decimal("0.15"),
        output_per_million=Decimal("1.20"),
    ),
)
