"""``input_tokens`` of Responses requests: where the Responses template differs from chat's.

Each test pins one rule of docs/responses.md ("Token accounting") on a real recorded request
from the fidelity corpus (named in the test), next to a variant the rule must tell apart.
"""

from __future__ import annotations

from typing import Any

from minidouble._endpoints._responses._mapping import to_chat_body
from minidouble._endpoints._responses._tokens import count_input_tokens
from minidouble._model._tokenizer import token_count


def count(**body: Any) -> int:
    return count_input_tokens(to_chat_body({"model": "gpt-4o-mini", **body}))


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


# dd-trace-js, recorded 2025-08-04 to 2026-06-23 with and without the call below.
WEATHER = {
    "type": "function",
    "name": "weather",
    "description": "Get the weather in a given location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The location to get the weather for"}
        },
        "required": ["location"],
    },
}
TOKYO = [
    {"role": "system", "content": "You are a helpful assistant"},
    {"role": "user", "content": [{"type": "input_text", "text": "What is the weather in Tokyo?"}]},
]


def test_tools_are_encoded_apart_from_the_instructions() -> None:
    # Recorded 63. Merged into the system text, "assistant" + "\n\n" would cost one more
    # token; a text ending in "." absorbs the "\n\n" either way, so it shows no difference.
    assert count(input=TOKYO, tools=[WEATHER]) == 63
    dotted = [{**TOKYO[0], "content": "You are a helpful assistant."}, TOKYO[1]]
    period = token_count(".")
    assert count(input=dotted, tools=[WEATHER]) == 63 + period
    # Without a system message the block rides along with no turn of its own.
    alone = count(input=TOKYO[1:], tools=[WEATHER])
    assert alone == 63 - 3 - token_count("system") - token_count("You are a helpful assistant")


# Mirascope test_resume_with_override_thinking_and_tools (Azure, 2025-11-05): a call whose
# arguments a client wrote with a space, and its output.
FIB = {
    "type": "function",
    "name": "compute_fib",
    "description": "Compute the nth Fibonacci number (1-indexed).",
    "parameters": {
        "properties": {"n": {"title": "N", "type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
        "type": "object",
    },
    "strict": False,
}


def fib_history(arguments: str) -> list[dict[str, Any]]:
    call_id = "toolu_01P11Xus7T44xSAftSiPypjg"
    return [
        user("What is the 100th fibonacci number?"),
        {"call_id": call_id, "name": "compute_fib", "arguments": arguments,
         "type": "function_call"},
        {"call_id": call_id, "output": "218922995834555169026", "type": "function_call_output"},
    ]  # fmt: skip


def test_call_arguments_are_read_as_sent() -> None:
    spaced = count(input=fib_history('{"n": 100}'), tools=[FIB], tool_choice="none")
    assert spaced == 85  # recorded
    compact = count(input=fib_history('{"n":100}'), tools=[FIB], tool_choice="none")
    assert spaced - compact == token_count('{"n": 100}') - token_count('{"n":100}') == 1


# openinference test_agent_with_tool_calls (2026-04-09): a first request (recorded 73) whose
# answer was this one call, then its output sent with previous_response_id (recorded 108).
SF_WEATHER = {
    "name": "get_weather",
    "parameters": {
        "properties": {"location": {"title": "Location", "type": "string"}},
        "required": ["location"],
        "title": "get_weather_input",
        "type": "object",
        "additionalProperties": False,
    },
    "strict": False,
    "type": "function",
    "description": "Get the weather for a location.",
}
SF_INPUT = [
    {"type": "message", "role": "system", "content": [{"type": "input_text", "text":
        "You are a weather assistant. Use the get_weather tool when asked about weather."}]},
    {"type": "message", "role": "user",
     "content": [{"type": "input_text", "text": "What's the weather in San Francisco?"}]},
]  # fmt: skip
SF_CALL = {
    "id": "fc_0b7fb495b8662b690069d6f97c5bbc8193b52ee02afbd9002e",
    "type": "function_call",
    "status": "completed",
    "arguments": '{"location":"San Francisco"}',
    "call_id": "call_mhr5WBWG8kgyIy15JTItue8Q",
    "name": "get_weather",
}
SF_OUTPUT = {
    "call_id": "call_mhr5WBWG8kgyIy15JTItue8Q",
    "type": "function_call_output",
    "output": "The weather in San Francisco is sunny and 72°F",
}


def as_written(item: dict[str, Any]) -> dict[str, Any]:
    """The item without the output item's ``id`` and ``status``, as a client writes a call."""
    return {key: value for key, value in item.items() if key not in ("id", "status")}


def test_a_call_sent_back_as_returned_costs_three_more() -> None:
    assert count(input=SF_INPUT, tools=[SF_WEATHER], tool_choice="auto") == 73
    echoed = count(input=[*SF_INPUT, SF_CALL, SF_OUTPUT], tools=[SF_WEATHER], tool_choice="auto")
    assert echoed == 108
    # The same call written by hand.
    written = as_written(SF_CALL)
    plain = count(input=[*SF_INPUT, written, SF_OUTPUT], tools=[SF_WEATHER], tool_choice="auto")
    assert plain == 105
    # An id alone, without the status, is read as written (dd-trace-js, 2025-08-04).
    with_id = {**written, "id": SF_CALL["id"]}
    assert count(input=[*SF_INPUT, with_id, SF_OUTPUT], tools=[SF_WEATHER]) == 105


def test_echoed_calls_of_a_parallel_call_cost_nothing_more() -> None:
    # Mirascope test_call_with_tools (gpt-4o, 24 recordings): two calls in a row, sent back
    # with their ids and statuses, count as written.
    second = {**SF_CALL, "id": "fc_2", "call_id": "call_2", "arguments": '{"location":"Oslo"}'}
    answer = {**SF_OUTPUT, "call_id": "call_2"}
    pair = [*SF_INPUT, SF_CALL, second, SF_OUTPUT, answer]
    written = [as_written(item) for item in pair]
    assert count(input=pair, tools=[SF_WEATHER]) == count(input=written, tools=[SF_WEATHER])
    # Two lone calls, each answered before the next, cost 3 more each (opentelemetry, +6).
    chain = [*SF_INPUT, SF_CALL, SF_OUTPUT, second, answer]
    written_chain = [as_written(item) for item in chain]
    assert (
        count(input=chain, tools=[SF_WEATHER])
        == count(input=written_chain, tools=[SF_WEATHER]) + 2 * 3
    )


# Mirascope test_structured_output_with_tools (Azure gpt-4o-mini, 2025-11-05 and -06): 193
# recorded 11 times with a one-message answer.
BOOK_FORMAT = {
    "type": "json_schema",
    "name": "BookSummary",
    "schema": {
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "author": {"title": "Author", "type": "string"},
            "pages": {"title": "Pages", "type": "integer"},
            "publication_year": {"title": "Publication Year", "type": "integer"},
        },
        "required": ["title", "author", "pages", "publication_year"],
        "title": "BookSummary",
        "type": "object",
        "additionalProperties": False,
    },
    "strict": True,
}
BOOK_TOOL = {
    "type": "function",
    "name": "get_book_info",
    "description": "Look up book information by ISBN.",
    "parameters": {
        "properties": {"isbn": {"title": "Isbn", "type": "string"}},
        "required": ["isbn"],
        "additionalProperties": False,
        "type": "object",
    },
    "strict": False,
}
BOOK_INPUT = [
    user(
        "Please look up the book with ISBN 0-7653-1178-X and provide detailed info and a "
        "recommendation score"
    ),
    {"call_id": "call_GpdeIKUzgFDSfgvyTsHVqJL7", "name": "get_book_info",
     "arguments": '{"isbn":"0-7653-1178-X"}', "type": "function_call"},
    {"call_id": "call_GpdeIKUzgFDSfgvyTsHVqJL7", "type": "function_call_output", "output":
        "Title: Mistborn: The Final Empire, Author: Brandon Sanderson, Pages: 544, "
        "Published: 2006-07-25"},
]  # fmt: skip


def test_tool_choice_none_does_not_prime_the_format_when_tools_are_defined() -> None:
    book = {"input": BOOK_INPUT, "text": {"format": BOOK_FORMAT}, "tools": [BOOK_TOOL]}
    assert count(**book, tool_choice="none") == 193
    # Only tool_choice "none"'s own token: the reply is primed in neither case.
    assert count(**book, tool_choice="none") - count(**book, tool_choice="auto") == 1


def test_requiring_a_call_of_the_only_tool_names_it() -> None:
    # openai-dotnet OutputTextMethodAsync (gpt-4o-mini, 2026-01-07): recorded 43.
    weather = {"type": "function", "name": "get_weather", "description": "gets the weather",
               "parameters": {}, "strict": False}  # fmt: skip
    question = [{"type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": "How's the weather?"}]}]  # fmt: skip
    required = count(input=question, tools=[weather], tool_choice="required")
    assert required == 43
    named = {"type": "function", "name": "get_weather"}
    assert count(input=question, tools=[weather], tool_choice=named) == required
    # pydantic-ai test_tool_output (gpt-4o, 2025-06 to 2026-01): with two tools "required"
    # names none and costs nothing (recorded 62, as with tool_choice "auto").
    country = {"type": "function", "name": "get_user_country", "description": None,
               "parameters": {"additionalProperties": False, "properties": {},
                              "type": "object"}, "strict": False}  # fmt: skip
    final = {"type": "function", "name": "final_result",
             "description": "The final response which ends this conversation",
             "parameters": {"additionalProperties": False, "properties": {
                 "city": {"type": "string"}, "country": {"type": "string"}},
                 "required": ["city", "country"], "type": "object"}, "strict": True}  # fmt: skip
    largest = [user("What is the largest city in the user country?")]
    assert count(input=largest, tools=[country, final], tool_choice="required") == 62
    assert count(input=largest, tools=[country, final], tool_choice="auto") == 62


def test_earlier_answers_carry_no_format_mark() -> None:
    # Mirascope test_structured_output_resume (gpt-4o, 2026-02-09): 56, then 77 once the
    # answer and a new question are added; 6 of 6 such recordings.
    fmt = {
        "type": "json_schema",
        "name": "int",
        "schema": {
            "description": "Wrapper for primitive type int",
            "properties": {"output": {"title": "Output", "type": "integer"}},
            "required": ["output"],
            "title": "intOutput",
            "type": "object",
            "additionalProperties": False,
        },
        "strict": True,
    }
    first = [user("Choose a lucky number between 1 and 10")]
    assert count(input=first, text={"format": fmt}) == 56
    answer = {"role": "assistant", "content": '{"output":7}'}
    again = [*first, answer, user("Ok, now choose a different lucky number")]
    assert count(input=again, text={"format": fmt}) == 77
    # The answer costs what its message costs, nothing for having been written in the format.
    assert count(input=again, text={"format": fmt}) - count(input=again) == (
        count(input=first, text={"format": fmt}) - count(input=first)
    )
