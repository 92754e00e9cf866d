"""``minidouble`` on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn


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
    from minidouble._model._errors import OpenAIError
    from minidouble._model._profile import GPT4O_MINI
    from minidouble._model._tokens import count_prompt_tokens
    from minidouble._validation import count_request as check_request

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
        max_out = min(profile.max_output_tokens, max(room, 0), _requested_maximum(body))
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


def _requested_maximum(body: Any) -> int:
    """The completion cap the request sets (``max_completion_tokens`` or ``max_tokens``)."""
    if isinstance(body, dict):
        for field in ("max_completion_tokens", "max_tokens"):
            value = body.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return sys.maxsize


def _count_anyway(count: Any, body: Any) -> int | None:
    """The prompt tokens of a rejected body, when it still has countable messages."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return None
    try:
        result: int = count(body)
    except Exception:  # a malformed body the counter cannot read: the error says why
        return None
    return result


_SERVE_EXAMPLE = """\
Try it:
  curl {base_url}/chat/completions -H "Authorization: Bearer sk-fake" \\
    -H "Content-Type: application/json" \\
    -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "Hello!"}}]}}'
Point an OpenAI client at it:
  OPENAI_BASE_URL={base_url} OPENAI_API_KEY=sk-fake python your_app.py
Press Ctrl-C to stop."""
# A long-running server keeps only the latest requests in each session's log.
_SERVE_LOG_KEPT = 1024


def _serve(args: argparse.Namespace) -> int:
    from minidouble._cassettes import CassetteError
    from minidouble._fake import FakeGPT4oMini
    from minidouble._http import HttpRequest, HttpResponse
    from minidouble._model._tokenizer import encoding
    from minidouble._options import OptionError, serve_arguments
    from minidouble._service._fixtures import FixtureError
    from minidouble._transports._server import bind_socket, format_base_url, serve_forever

    try:
        own, options = serve_arguments(args)
        # A server has no end of test to judge unused scripts at.
        fake = FakeGPT4oMini(allow_unused=True, **options)
    except (OptionError, TypeError, CassetteError, FixtureError) as exc:
        # A bad flag value, a cassette or fixtures file that cannot be used: a start-up
        # error, no traceback.
        print(exc, file=sys.stderr)
        return 2
    state = fake.app.state
    served = 0

    def handle(request: HttpRequest) -> HttpResponse:
        nonlocal served
        # Through the socket: the control API under /_minidouble/ is reachable.
        response = fake.handle(request, loopback=True)
        served += 1
        if served % _SERVE_LOG_KEPT == 0:
            # Every session's log, now and then: a look per request would cost every request.
            for session in state.sessions():
                if len(session.requests) > _SERVE_LOG_KEPT:
                    with state.lock:
                        del session.requests[:-_SERVE_LOG_KEPT]
        return response

    try:
        listener = bind_socket(own["host"], own["port"])
    except OSError as exc:
        raise SystemExit(exc.strerror) from exc
    # The tokenizer's tables load now (about a second), not on the first request, so the
    # server is ready when it says it serves and the first client does not time out.
    encoding()
    base_url = format_base_url(own["host"], listener.getsockname()[1])
    _warn_if_open(own["host"], fake.options.api_key)
    print(f"minidouble: a fake GPT-4o mini is serving at {base_url}")
    print(_SERVE_EXAMPLE.format(base_url=base_url), flush=True)
    _log_requests(own["log_level"])
    try:
        serve_forever(handle, listener, blocking=fake.blocks)
    finally:
        listener.close()
    return _serve_stopped(fake)


def _warn_if_open(host: str, api_key: str | None) -> None:
    """Anyone who reaches a server bound beyond loopback can script it: say so."""
    import ipaddress

    if api_key is not None or host == "localhost":
        return
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return
    except ValueError:
        pass  # a host name other than localhost: it may well be reachable from elsewhere
    print(
        f"minidouble: warning: listening on {host} without --api-key: anyone who can reach "
        "this port can script the fake through its control API (/_minidouble/...). Bind to "
        "127.0.0.1, or set --api-key KEY (control calls then need the same key).",
        file=sys.stderr,
        flush=True,
    )


def _log_requests(level: str) -> None:
    """``--log-level``: the fake's own loggers (one line per request at info)."""
    import logging

    logger = logging.getLogger("minidouble")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def _serve_stopped(fake: Any) -> int:
    """Save a recording cassette and report what the budgets or the cassette found."""
    problems = [*fake.app.budget_overruns()]
    cassette_problem = fake.close_cassette()
    if cassette_problem is not None:
        problems.append(cassette_problem)
    for problem in problems:
        print(problem, file=sys.stderr)
    print("minidouble: stopped", flush=True)
    return 1 if problems else 0


class _Parser(argparse.ArgumentParser):
    """Usage errors as minidouble's messages: what was wrong, and where the flags are listed."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        hint = ""
        if message.startswith("unrecognized arguments:"):
            import difflib

            known = _option_strings(self)
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=")[0], known, n=1)
                if close:
                    hint += f" Did you mean {close[0]} (for {word})?"
        self.exit(2, f"minidouble: {message}.{hint} `{self.prog} --help` lists what it takes.\n")


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every flag of ``parser`` and its subcommands."""
    found = list(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _option_strings(child)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minidouble", description=__doc__)
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
    serve = commands.add_parser(
        "serve", help="run a fake GPT-4o mini on a local port for any OpenAI-compatible client"
    )
    from minidouble._options import add_serve_arguments

    # Generated from the one definition of the options (and the serve-only flags there).
    add_serve_arguments(serve)
    serve.set_defaults(handler=_serve)
    _add_cassette_commands(commands)
    _add_drift_command(commands)
    return parser


def _add_drift_command(commands: Any) -> None:
    drift = commands.add_parser(
        "drift",
        help="probe the live API and the fake alike; report where they disagree (exit 1)",
    )
    drift.add_argument(
        "--upstream",
        default=None,
        help="OpenAI-compatible base URL (default https://api.openai.com/v1 with OPENAI_API_KEY)",
    )
    drift.add_argument("--yes", action="store_true", help="send without asking to confirm")
    drift.add_argument("--json", action="store_true", help="machine-readable report for CI")
    drift.add_argument("--record", metavar="PATH", help="record the probes as a cassette")
    drift.add_argument(
        "--replay", metavar="PATH", help="take the upstream's answers from a --record cassette"
    )
    drift.add_argument(
        "--write-profile",
        metavar="PATH",
        help="write the values the upstream showed, for review (.py snippet or .json)",
    )
    drift.set_defaults(handler=_drift)


def _drift(args: argparse.Namespace) -> int:
    from minidouble._drift._command import drift_command

    return drift_command(args)


def _add_cassette_commands(commands: Any) -> None:
    cassette = commands.add_parser("cassette", help="check and import cassettes")
    actions = cassette.add_subparsers(dest="cassette_command", required=True)
    verify = actions.add_parser(
        "verify",
        help="check format, version, summaries and secrets of cassettes (exit 1 on a problem)",
    )
    verify.add_argument("paths", nargs="+", metavar="PATH", help="cassette files or directories")
    verify.set_defaults(handler=_cassette_verify)
    imports = actions.add_parser(
        "import", help="convert vcrpy / pytest-recording cassettes of OpenAI traffic"
    )
    imports.add_argument("sources", nargs="+", metavar="SOURCE", help="vcrpy YAML or JSON files")
    imports.add_argument(
        "-o", "--output", help="file (one source) or directory; default: SOURCE with .json"
    )
    imports.add_argument("--force", action="store_true", help="replace existing files")
    imports.set_defaults(handler=_cassette_import)


def _cassette_verify(args: argparse.Namespace) -> int:
    from minidouble._cassettes._commands import verify_paths

    return verify_paths(args.paths)


def _cassette_import(args: argparse.Namespace) -> int:
    from minidouble._cassettes._commands import import_paths

    return import_paths(args.sources, args.output, args.force)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        # Said by the subcommand, so the message points at its --help and its flags.
        (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
