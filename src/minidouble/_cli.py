"""``minidouble`` on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _load_json(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8") if path != "-" else sys.stdin.read()
    except OSError as exc:
        raise SystemExit(
            f"minidouble: cannot read {path}: {exc.strerror}. "
            "Pass the path of a JSON request body, or - for standard input."
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"minidouble: {path} is not JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); expected a Chat Completions request body such as "
            '{"model": "gpt-4o-mini", "messages": [...]}.'
        ) from exc


def _tokens(args: argparse.Namespace) -> int:
    from minidouble._errors import OpenAIError
    from minidouble._profile import GPT4O_MINI
    from minidouble._tokens import count_prompt_tokens
    from minidouble._validate import check_request

    body = _load_json(args.request)
    profile = GPT4O_MINI
    rejection: OpenAIError | None = None
    prompt_tokens: int | None
    try:
        prompt_tokens = check_request(body, path=args.path)
    except OpenAIError as exc:
        rejection = exc
        prompt_tokens = _count_anyway(count_prompt_tokens, body)
    if prompt_tokens is None:
        print("prompt_tokens: unknown (the body is not a request the API would read)")
    else:
        room = profile.context_window - prompt_tokens
        max_out = min(profile.max_output_tokens, max(room, 0))
        cost_in = profile.prices.cost(prompt_tokens, 0)
        cost_max = profile.prices.cost(prompt_tokens, max_out)
        print(f"prompt_tokens: {prompt_tokens}")
        print(f"context left:  {room} of {profile.context_window}")
        print(f"cost:          ${cost_in:f} input; ${cost_max:f} with {max_out} output tokens")
    if rejection is not None:
        error = rejection.error
        print(
            f"rejected:      {rejection.status} {error.get('type')} "
            f"(param={error.get('param')}, code={error.get('code')})"
        )
        print(f"               {rejection.message}")
        return 1
    print("valid:         yes")
    return 0


def _count_anyway(count: Any, body: Any) -> int | None:
    """The prompt tokens of a rejected body, when it still has countable messages."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return None
    try:
        result: int = count(body)
    except Exception:  # a malformed body the counter cannot read: the error says why
        return None
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minidouble", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    tokens = commands.add_parser(
        "tokens", help="prompt tokens, room left, cost and the first error of a request body"
    )
    tokens.add_argument("request", help="path of a JSON request body, or - for stdin")
    tokens.add_argument(
        "--path",
        default="/v1/chat/completions",
        help="the endpoint the body is for (an Azure deployment path skips the model check)",
    )
    tokens.set_defaults(handler=_tokens)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
