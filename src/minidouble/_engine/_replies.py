"""What the fake model says: deterministic replies that honour every request parameter.

A reply starts as an *intent* (text, tool calls, a JSON value, a refusal), either scripted by
the test or chosen here from a generator seeded by the request, and is then *rendered* the way
the model would produce it token by token: cut before a ``stop`` text, cut at the token limit
(``finish_reason: "length"``), counted in real o200k tokens, with log-probabilities when asked.
"""

from __future__ import annotations

import functools
import json
import math
import random
import zlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minidouble._engine._ids import new_call_id
from minidouble._engine._schema_values import SchemaValueError, generate
from minidouble._model._body_key import body_key
from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._model._tokenizer import encode, encoding
from minidouble._model._tokens import text_of_content

__all__ = [
    "Choice",
    "FunctionCall",
    "Intent",
    "Piece",
    "Reply",
    "TokenLogprob",
    "ToolCall",
    "ToolCallIntent",
    "default_intent",
    "render",
    "request_rng",
]


# ---------------------------------------------------------------------------------------------
# What the model means to say


@dataclass(frozen=True)
class ToolCallIntent:
    name: str
    arguments: str  # the JSON text exactly as the model writes it


@dataclass(slots=True)  # not frozen: see Choice
class Intent:
    """One choice's content before rendering; exactly one of the fields is set."""

    text: str | None = None
    tool_calls: tuple[ToolCallIntent, ...] = ()
    refusal: str | None = None
    # Legacy ``functions``: a call is reported as ``message.function_call``.
    legacy_function: bool = False


# ---------------------------------------------------------------------------------------------
# What the model said


@dataclass(frozen=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...]


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...]
    top_logprobs: tuple[TopLogprob, ...]


@dataclass(frozen=True)
class Piece:
    """A run of tokens that decodes to whole characters: one streamed delta."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str

    def fragments(self) -> tuple[str, ...]:
        """The arguments as streamed: one fragment per token (whole characters)."""
        return text_fragments(self.arguments)


@dataclass(frozen=True)
class FunctionCall:
    name: str
    arguments: str

    def fragments(self) -> tuple[str, ...]:
        return text_fragments(self.arguments)


# Intent, Choice and Reply are made for every request and never changed once made. They are
# not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__,
# five times slower, and Choice has nine.
@dataclass(slots=True)
class Choice:
    content: str | None
    refusal: str | None
    tool_calls: tuple[ToolCall, ...]
    function_call: FunctionCall | None
    finish_reason: str
    completion_tokens: int
    # The generated text's tokens; only streams and logprobs need them split.
    tokens: tuple[int, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None
    # (category, severity) when Azure's content filter stopped this choice.
    content_filter: tuple[str, str] | None = None

    def pieces(self) -> tuple[Piece, ...]:
        """The text as streamed deltas, each carrying its tokens' logprobs when requested."""
        if self.logprobs is None and len(self.tokens) <= _REMEMBERED_PIECES:
            return _plain_pieces(self.tokens)
        return _pieces(_token_bytes(self.tokens), self.logprobs)


# Replies recur (the default replies are a few hundred texts; scripted ones repeat), and a
# stream cuts each into pieces token by token: the pieces of a short text without logprobs
# are a function of its tokens, and immutable, so they are remembered.
_REMEMBERED_PIECES = 512


@functools.lru_cache(maxsize=1024)
def _plain_pieces(tokens: tuple[int, ...]) -> tuple[Piece, ...]:
    return _pieces(_token_bytes(tokens), None)


@dataclass(slots=True)  # not frozen: see Choice
class Reply:
    choices: tuple[Choice, ...]
    # Predicted Outputs: prediction tokens that did / did not appear in the reply. Rejected
    # ones are billed as completion tokens although nobody sees them.
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0
    completion_tokens: int = field(init=False)

    def __post_init__(self) -> None:
        choices = self.choices
        # Nearly every reply has one choice: no list and no sum() for it.
        if len(choices) == 1:
            generated = choices[0].completion_tokens
        else:
            generated = sum([c.completion_tokens for c in choices])
        self.completion_tokens = generated + self.rejected_prediction_tokens


def prediction_text(body: Mapping[str, Any]) -> str | None:
    """The ``prediction`` content (Predicted Outputs), or None."""
    prediction = body.get("prediction")
    # ``is None`` first: most requests have none, and isinstance(None, Mapping) is not free.
    if prediction is None or not isinstance(prediction, Mapping):
        return None
    if prediction.get("type") != "content":
        return None
    content = prediction.get("content")
    return text_of_content(content) if isinstance(content, (str, list)) else None


def assemble(choices: Sequence[Choice], body: Mapping[str, Any]) -> Reply:
    """The reply, with prediction tokens matched against what each choice generated."""
    predicted = prediction_text(body)
    if predicted is None:
        return Reply(tuple(choices))
    import difflib

    expected = encode(predicted)
    accepted = rejected = 0
    for choice in choices:
        matcher = difflib.SequenceMatcher(None, expected, list(choice.tokens), autojunk=False)
        matched = sum(block.size for block in matcher.get_matching_blocks())
        accepted += matched
        rejected += len(expected) - matched
    return Reply(tuple(choices), accepted, rejected)


# ---------------------------------------------------------------------------------------------
# Seeding

# Parameters that shape how a reply is delivered or cut, not what the model means to say: the
# same request streamed or not, cut shorter or not, gives the same reply (or a prefix of it).
_DELIVERY_KEYS = frozenset(
    {
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "logprobs",
        "top_logprobs",
        "n",
        "user",
        "metadata",
        "store",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
    }
)


_INLINE_CHARS = 4096


def request_digest(body: Mapping[str, Any]) -> int:
    """A stable fingerprint of what ``body`` asks the model to say (not how to deliver it).

    The body is written out canonically (keys sorted at every level, each value tagged and
    length-prefixed so different structures cannot collide) as one string, encoded once, and
    checksummed. Two checksums make 64 bits: it only seeds replies, so it needs to spread,
    not to resist attack. zlib's checksums cost little when cold, inside a client's call,
    where hashlib's SHA-1 and even ``json.dumps`` cost several times the whole walk. A long
    text stands in as its own checksum: its UTF-8 form is already cached by the tokenizer,
    where copying it into the canonical string would convert it again.
    """
    return keyed_digest(body, body_key(body))


def keyed_digest(body: Mapping[str, Any], remembered: Hashable | None) -> int:
    """:func:`request_digest` of a body whose :func:`~minidouble._model._body_key.body_key`
    is ``remembered`` (computed once per request by the pipeline)."""
    if remembered is not None:
        digest = _digests.get(remembered)
        if digest is not None:
            return digest
    parts: list[str] = []
    for key in sorted(body, key=str):
        if key not in _DELIVERY_KEYS:
            name = str(key)
            parts += (f"s{len(name)}:", name)
            _write(parts, body[key])
    data = "".join(parts).encode("utf-8", "surrogatepass")
    digest = zlib.crc32(data) << 32 | zlib.adler32(data)
    if remembered is not None:
        if len(_digests) >= _DIGESTS_MAX:
            _digests.clear()
        _digests[remembered] = digest
    return digest


# Digests of small bodies already seen (see minidouble._model._body_key), cleared when full.
_digests: dict[Hashable, int] = {}
_DIGESTS_MAX = 4096


def _write(parts: list[str], value: Any) -> None:
    # Exact types first: a parsed body holds only dicts, lists, strings and numbers, and an
    # ``isinstance`` against an abstract class costs more than the rest of a visit.
    kind = type(value)
    if kind is str:
        if len(value) <= _INLINE_CHARS:
            parts += (f"s{len(value)}:", value)
        else:
            parts.append(f"h{len(value)}:{zlib.crc32(value.encode('utf-8', 'surrogatepass'))};")
    elif kind is dict or (kind is not list and isinstance(value, Mapping)):
        parts.append(f"{{{len(value)}")
        for key in sorted(value, key=str):
            item = value[key]
            key = str(key)
            parts += (f"s{len(key)}:", key)
            if type(item) is str and len(item) <= _INLINE_CHARS:  # most are: no call for them
                parts += (f"s{len(item)}:", item)
            else:
                _write(parts, item)
    elif kind is list or isinstance(value, (list, tuple)):
        parts.append(f"[{len(value)}")
        for item in value:
            _write(parts, item)
    elif isinstance(value, str):
        _write(parts, str(value))  # a str subclass: written as the str it is
    else:
        parts.append(f"v{value!r};")


_MASK64 = (1 << 64) - 1


class ReplyRandom(random.Random):
    """The generator behind one choice of a reply: ``random.Random(seed)``, seeded on first use.

    Seeding a Mersenne Twister (2.5 KB of state, set up and then twisted on the first draw)
    was the largest cost of a small default reply, which needs a few bits only: ``bits()``
    gives them straight from the seed. Tool arguments, schema values and logprobs draw from
    the generator, which is seeded then, exactly as ``random.Random(seed)`` would be; from
    then on its draws go straight to the C methods, so laziness costs nothing per draw.
    """

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self.gauss_next = None

    def bits(self) -> int:
        """64 well-mixed bits of the seed (splitmix64's finalizer), not drawn from the generator."""
        x = self._seed & _MASK64
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _MASK64
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK64
        return x ^ (x >> 31)

    def _start(self) -> None:
        if "random" in self.__dict__:
            return  # already seeded
        # ``Random.seed`` checks in Python for the str, bytes and float seeds it also accepts;
        # an int seeds the C generator, which this calls directly.
        generator: Any = super(random.Random, self)  # the C generator's own methods
        generator.seed(self._seed)
        self.__dict__.update(random=generator.random, getrandbits=generator.getrandbits)

    def random(self) -> float:
        self._start()
        return self.random()

    def getrandbits(self, k: int, /) -> int:
        self._start()
        return self.getrandbits(k)

    def getstate(self) -> tuple[Any, ...]:
        self._start()
        return super().getstate()

    def setstate(self, state: tuple[Any, ...]) -> None:
        self._start()  # the deferred seed must not overwrite the state set here
        super().setstate(state)

    def seed(self, a: Any = None, version: int = 2) -> None:
        self._start()
        super().seed(a, version)


def rng_for(digest: int, index: int = 0) -> ReplyRandom:
    return ReplyRandom(digest * 131 + index)


def request_rng(body: Mapping[str, Any], index: int = 0) -> ReplyRandom:
    """The generator behind choice ``index`` of ``body``: same request and seed, same reply."""
    return rng_for(request_digest(body), index)


# ---------------------------------------------------------------------------------------------
# Default intents

_OPENERS = (
    "Sure!",
    "Certainly.",
    "Here is a short answer.",
    "Good question.",
    "Happy to help.",
)
_SENTENCES = (
    "The short version is that it depends on the details you care about most.",
    "A good first step is to check the inputs and confirm they look as expected.",
    "In most cases the simplest approach works well and is easy to maintain.",
    "If you share a little more context, I can give a more specific answer.",
    "There are a few common options, and each has its own trade-offs.",
    "Start small, measure the result, and adjust from there.",
    "This is a common situation, and there is a straightforward way to handle it.",
    "Keeping things clear and consistent usually pays off over time.",
)


def _default_text(rng: random.Random) -> str:
    """An opener and one or two distinct sentences, picked by a few bits of the seed."""
    bits = rng.bits() if isinstance(rng, ReplyRandom) else rng.getrandbits(64)
    bits, opener = divmod(bits, len(_OPENERS))
    count = len(_SENTENCES)
    bits, first = divmod(bits, count)
    bits, second = divmod(bits, count - 1)
    if second == first:
        second = count - 1  # one of the rest: the last stands in for the first
    sentences = [_SENTENCES[first]]
    if bits & 1:
        sentences.append(_SENTENCES[second])
    return " ".join([_OPENERS[opener], *sentences])


def compact_json(value: Any) -> str:
    """JSON as GPT-4o mini writes tool arguments and structured outputs: no spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def offered_tools(body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Callable functions by name (``tools`` or legacy ``functions``), in request order."""
    offered: dict[str, Mapping[str, Any]] = {}
    for tool in body.get("tools") or ():
        if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping):
            function = tool["function"]
            if isinstance(function.get("name"), str):
                offered[function["name"]] = function
    for function in body.get("functions") or ():
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            offered[function["name"]] = function
    return offered


def forced_tool(body: Mapping[str, Any]) -> str | None:
    """The function a named ``tool_choice`` (or legacy ``function_call``) forces, if any."""
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping):
        function = choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
    legacy = body.get("function_call")
    if isinstance(legacy, Mapping) and isinstance(legacy.get("name"), str):
        return str(legacy["name"])
    return None


def tool_mode(body: Mapping[str, Any]) -> str:
    """``none``, ``auto``, ``required`` or ``named``: what the request lets the model do."""
    if not offered_tools(body):
        return "none"
    if forced_tool(body) is not None:
        return "named"
    choice = body.get("tool_choice", body.get("function_call"))
    if choice in ("none", "required"):
        return str(choice)
    return "auto"


def uses_legacy_functions(body: Mapping[str, Any]) -> bool:
    return bool(body.get("functions")) and not body.get("tools")


def response_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``json_schema`` response format's schema, or None."""
    fmt = body.get("response_format")
    if fmt is not None and isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if isinstance(schema, Mapping):
            return schema
        return {}
    return None


def wants_json_object(body: Mapping[str, Any]) -> bool:
    fmt = body.get("response_format")
    return fmt is not None and isinstance(fmt, Mapping) and fmt.get("type") == "json_object"


def _value_for(schema: Mapping[str, Any], rng: random.Random) -> Any:
    try:
        return generate(schema, rng)
    except SchemaValueError:
        # A schema nothing satisfies (or one reaching outside itself): the real model still
        # answers something, and an empty object is the least surprising something.
        return {}


def _arguments_for(parameters: Any, rng: random.Random) -> Any:
    # Arguments are always a JSON object. A function declared with `parameters: {}` (or none)
    # takes none: the real model calls it with "{}" (a 2026 gpt-4o-mini recording).
    if not isinstance(parameters, Mapping) or not parameters:
        return {}
    value = _value_for(parameters, rng)
    return value if isinstance(value, dict) else {}


# The fields that can make a default reply anything but plain text.
_SHAPING_FIELDS = frozenset({"tools", "functions", "response_format", "prediction"})


def default_intent(body: Mapping[str, Any], rng: random.Random) -> Intent:
    """A reply valid for ``body``: tool calls when it demands them, schema-valid JSON, or text."""
    if _SHAPING_FIELDS.isdisjoint(body):
        return Intent(text=_default_text(rng))
    mode = tool_mode(body)
    legacy = uses_legacy_functions(body)
    if mode in ("required", "named"):
        tools = offered_tools(body)
        name = forced_tool(body) or list(tools)[rng.randrange(len(tools))]
        arguments = compact_json(_arguments_for(tools[name].get("parameters"), rng))
        return Intent(tool_calls=(ToolCallIntent(name, arguments),), legacy_function=legacy)
    schema = response_schema(body)
    if schema is not None:
        return Intent(text=compact_json(_value_for(schema, rng)))
    predicted = prediction_text(body)
    if predicted is not None:
        # Predicted Outputs are used to regenerate a known text with small edits; answering
        # with the prediction itself is the likeliest model behaviour.
        return Intent(text=predicted)
    if wants_json_object(body):
        return Intent(text=json.dumps({"answer": _default_text(rng)}, ensure_ascii=False))
    return Intent(text=_default_text(rng))


def remembered_default(
    body: Mapping[str, Any],
    key: Hashable,
    *,
    prompt_tokens: int,
    limit: int,
    profile: ModelProfile,
) -> Reply | None:
    """The reply nobody scripted to a body whose :func:`~minidouble._model._body_key.body_key`
    is ``key``, remembered for bodies that recur; None unless the body asks for one plain
    text choice (no tools, formats, predictions or logprobs).

    Such a reply is a function of the body (its seed, stops and cut) and ``limit`` alone, so
    it is remembered as immutable values, with the limit it was cut at, and made afresh.
    """
    n = body.get("n")
    if (
        (n is not None and n != 1)
        or body.get("logprobs") is True
        or not _SHAPING_FIELDS.isdisjoint(body)
    ):
        return None
    known = _defaults.get(key)
    if known is not None and known[0] == limit:
        content, finish, tokens = known[1], known[2], known[3]
        return Reply((Choice(content, None, (), None, finish, len(tokens), tokens),))
    rng = rng_for(keyed_digest(body, key))
    choice = render(
        default_intent(body, rng), body, prompt_tokens=prompt_tokens, rng=rng, profile=profile
    )
    if len(_defaults) >= _DEFAULTS_MAX:
        _defaults.clear()
    _defaults[key] = (limit, choice.content, choice.finish_reason, choice.tokens)
    return Reply((choice,))


# Default replies of small bodies already answered, by body key: (limit, content,
# finish_reason, tokens). Cleared when full.
_defaults: dict[Hashable, tuple[int, str | None, str, tuple[int, ...]]] = {}
_DEFAULTS_MAX = 4096


# ---------------------------------------------------------------------------------------------
# Rendering


def completion_limit(
    body: Mapping[str, Any], prompt_tokens: int, profile: ModelProfile = GPT4O_MINI
) -> int:
    """How many tokens the model may write: the requested max, else the cap and context room."""
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return max(0, min(profile.max_output_tokens, profile.context_window - prompt_tokens))


def stop_sequences(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return (stop,) if stop else ()
    if isinstance(stop, list):
        return tuple(s for s in stop if isinstance(s, str) and s)
    return ()


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    if not stops:
        return text
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return text[:cut] if cut >= 0 else text


def _token_text(raw: bytes) -> str:
    """A token as the logprobs block names it: its text, or its bytes when they split a char."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return "bytes:" + "".join(f"\\x{b:02x}" for b in raw)


# Alternatives offered in ``top_logprobs`` next to the chosen token.
_ALTERNATIVES = (
    " the", " a", ",", ".", " and", " to", " is", " it", " of", " in", "\n", " you", " that",
    " for", " on", " with", " as", " this", " can", " be", " I", " are", " or", "!", " your",
    " an", " will", " more",
)  # fmt: skip
_ALTERNATIVE_BYTES = tuple(alt.encode() for alt in _ALTERNATIVES)


def _logprobs_for(
    token_bytes: Sequence[bytes], rng: random.Random, top: int
) -> tuple[TokenLogprob, ...]:
    entries = []
    for raw in token_bytes:
        # Rounded like the API's float32 values; alternatives share the remaining mass so the
        # probabilities of one position never add up past 1.
        chosen = -round(rng.random() * 0.6 + 1e-6, 8)
        remaining = 1.0 - math.exp(chosen)
        token = _token_text(raw)
        alternatives = [
            TopLogprob(token, chosen, tuple(raw)),
        ]
        pool = [i for i, alt in enumerate(_ALTERNATIVES) if alt != token]
        for rank, pick in enumerate(rng.sample(pool, min(max(top - 1, 0), len(pool)))):
            share = remaining * 0.5 ** (rank + 1) * (0.5 + rng.random() / 2)
            logprob = round(math.log(share), 8) if share > 0 else -9999.0
            alternatives.append(
                TopLogprob(_ALTERNATIVES[pick], logprob, tuple(_ALTERNATIVE_BYTES[pick]))
            )
        alternatives.sort(key=lambda alt: -alt.logprob)
        entries.append(
            TokenLogprob(token, chosen, tuple(raw), tuple(alternatives[:top]) if top else ())
        )
    return tuple(entries)


def _pieces(
    token_bytes: Sequence[bytes], logprobs: Sequence[TokenLogprob] | None
) -> tuple[Piece, ...]:
    """Group tokens into deltas of whole characters, as the API streams them."""
    pieces: list[Piece] = []
    pending = b""
    pending_logprobs: list[TokenLogprob] = []
    for position, raw in enumerate(token_bytes):
        pending += raw
        if logprobs is not None:
            pending_logprobs.append(logprobs[position])
        try:
            text = pending.decode()
        except UnicodeDecodeError:
            continue
        pieces.append(Piece(text, tuple(pending_logprobs)))
        pending, pending_logprobs = b"", []
    if pending:
        pieces.append(Piece(pending.decode(errors="ignore"), tuple(pending_logprobs)))
    return tuple(pieces)


def _token_bytes(tokens: Sequence[int]) -> list[bytes]:
    decode = encoding().decode_single_token_bytes
    return [decode(t) for t in tokens]


def text_fragments(text: str) -> tuple[str, ...]:
    raw_tokens = _token_bytes(encode(text))
    return tuple(piece.text for piece in _pieces(raw_tokens, None))


def _render_text(
    text: str,
    *,
    limit: int,
    stops: Sequence[str],
    logprobs: bool,
    top_logprobs: int,
    rng: random.Random,
    refusal: bool = False,
) -> Choice:
    text = _cut_at_stop(text, stops)
    tokens = encode(text)
    finish = "stop"
    if len(tokens) > limit:
        tokens, finish = tokens[:limit], "length"
    if finish == "length":
        # A cut can split a character; the API drops the dangling bytes from the text.
        text = encoding().decode_bytes(tokens).decode(errors="ignore")
    entries = _logprobs_for(_token_bytes(tokens), rng, top_logprobs) if logprobs else None
    return Choice(
        content=None if refusal else text,
        refusal=text if refusal else None,
        tool_calls=(),
        function_call=None,
        finish_reason=finish,
        completion_tokens=len(tokens),
        tokens=tuple(tokens),
        logprobs=entries,
    )


def _render_calls(intent: Intent, *, limit: int, forced: bool, profile: ModelProfile) -> Choice:
    costs = profile.reply_costs
    count = len(intent.tool_calls)
    if forced:
        overhead = 0
    elif count == 1:
        overhead = costs.single_call
    else:
        overhead = costs.parallel_wrapper + costs.per_parallel_call * count
    spent = overhead
    calls: list[tuple[str, str]] = []
    truncated = False
    for call in intent.tool_calls:
        if not forced:
            spent += len(encode(call.name))
        argument_tokens = encode(call.arguments)
        room = limit - spent
        if len(argument_tokens) > room:
            argument_tokens, truncated = argument_tokens[: max(room, 0)], True
            text = encoding().decode_bytes(argument_tokens).decode(errors="ignore")
            calls.append((call.name, text))
            spent += len(argument_tokens)
            break
        spent += len(argument_tokens)
        calls.append((call.name, call.arguments))
    if truncated:
        finish = "length"
    elif intent.legacy_function:
        finish = "stop" if forced else "function_call"
    else:
        finish = "stop" if forced else "tool_calls"
    if intent.legacy_function:
        name, arguments = calls[0]
        return Choice(
            content=None,
            refusal=None,
            tool_calls=(),
            function_call=FunctionCall(name, arguments),
            finish_reason=finish,
            completion_tokens=min(spent, limit),
        )
    return Choice(
        content=None,
        refusal=None,
        tool_calls=tuple(ToolCall(new_call_id(), name, arguments) for name, arguments in calls),
        function_call=None,
        finish_reason=finish,
        completion_tokens=min(spent, limit),
    )


def render(
    intent: Intent,
    body: Mapping[str, Any],
    *,
    prompt_tokens: int,
    rng: random.Random,
    profile: ModelProfile = GPT4O_MINI,
) -> Choice:
    """The choice the model produces for ``intent`` under ``body``'s limits and options."""
    limit = completion_limit(body, prompt_tokens, profile)
    if intent.tool_calls:
        return _render_calls(
            intent, limit=limit, forced=tool_mode(body) == "named", profile=profile
        )
    top = body.get("top_logprobs")
    return _render_text(
        intent.refusal if intent.refusal is not None else intent.text or "",
        limit=limit,
        stops=stop_sequences(body),
        logprobs=body.get("logprobs") is True,
        top_logprobs=top if isinstance(top, int) and not isinstance(top, bool) else 0,
        rng=rng,
        refusal=intent.refusal is not None,
    )


def choice_count(body: Mapping[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else 1
