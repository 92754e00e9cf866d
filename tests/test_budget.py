"""Cost budgets: the marker, the command line and pyproject fail a test that overspends,
with the numbers; the billing rule and the run summary use the profile's prices."""

from __future__ import annotations

from decimal import Decimal

import pytest

from minidouble._fake import FakeCheckError, FakeGPT4oMini
from minidouble._model._profile import GPT4O_MINI
from minidouble._options import parse_values
from minidouble._service._app import GPT4oMiniApp
from minidouble._service._budget import Budget, Usage
from tests.behaviour.helpers import chat_request, user

pytest_plugins = ["pytester"]

TEST_FILE = """
import pytest

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}

def ask(client, n=1):
    for _ in range(n):
        client.chat.completions.create(**BODY, max_tokens=20)

@pytest.mark.gpt4o_mini(budget_usd=0.000001)
def test_over_dollars(gpt4o_mini, openai_client):
    gpt4o_mini.reply("A reply of a few tokens, enough to cost something.")
    ask(openai_client)

@pytest.mark.gpt4o_mini(budget_tokens=50)
def test_over_tokens(gpt4o_mini, openai_client):
    ask(openai_client, 3)

@pytest.mark.gpt4o_mini(budget_usd="0.01", budget_tokens=10_000)
def test_within_budget(gpt4o_mini, openai_client):
    ask(openai_client, 2)
"""


def test_budgets_fail_the_test_with_the_numbers(pytester: pytest.Pytester) -> None:
    pytest.importorskip("openai")
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    # The budget check runs at fixture teardown: the test body passed, its teardown errors.
    result.assert_outcomes(passed=3, errors=2)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            "*minidouble: this test's requests cost $0.0000* at gpt-4o-mini-2024-07-18 prices, "
            "over its budget of $0.000001 (budget_usd); it used 1 request(s), 9 prompt + * "
            "completion = * tokens*",
            "*minidouble: this test's requests used * tokens, over its budget of 50 "
            "(budget_tokens); it used 3 request(s), 27 prompt + *",
        ]
    )


def test_the_command_line_sets_a_budget_for_every_test(pytester: pytest.Pytester) -> None:
    pytest.importorskip("openai")
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    pytester.makepyfile(
        """
        def test_one(gpt4o_mini, openai_client):
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}])
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--minidouble-budget-tokens=5")
    result.assert_outcomes(passed=1, errors=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*over its budget of 5 (budget_tokens)*"])
    loose = pytester.runpytest("-p", "no:cacheprovider", "--minidouble-budget-usd=1")
    loose.assert_outcomes(passed=1)


def test_pyproject_sets_a_budget(pytester: pytest.Pytester) -> None:
    pytest.importorskip("openai")
    pytester.makepyprojecttoml(
        "[tool.pytest.ini_options]\n\n[tool.minidouble]\nbudget_tokens = 3\n"
    )
    pytester.makepyfile(
        """
        def test_one(gpt4o_mini, openai_client):
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}])
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)


def test_refused_requests_cost_nothing() -> None:
    app = GPT4oMiniApp()
    app.fail(500)
    app.fail("stream_error")
    app.handle(chat_request(user()))
    app.handle(chat_request(user("Hello!")))
    app.handle(chat_request(user(temperature=9)))
    usage = app.usage()
    answered = app.requests[1]
    assert usage == Usage(3, 9, answered.completion_tokens or 0)
    assert usage.cost() == GPT4O_MINI.prices.cost(9, usage.completion_tokens)


def test_budget_check_lists_each_overrun() -> None:
    fake = FakeGPT4oMini(budget_usd=0, budget_tokens=1)
    fake.app.handle(chat_request(user("Hello!")))
    with pytest.raises(FakeCheckError) as raised:
        fake.check()
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert "over its budget of $0 (budget_usd)" in lines[0]
    assert "over its budget of 1 (budget_tokens)" in lines[1]


def test_budget_exactly_met_passes() -> None:
    fake = FakeGPT4oMini()
    fake.app.handle(chat_request(user("Hello!")))
    usage = fake.usage()
    exact = FakeGPT4oMini(budget_usd=usage.cost(), budget_tokens=usage.total_tokens)
    exact.app.handle(chat_request(user("Hello!")))
    exact.check()


@pytest.mark.parametrize(
    ("usd", "tokens"), [("lots", None), (-1, None), (None, 2.5), (None, "x"), (None, -3)]
)
def test_bad_budgets_are_refused(usd: object, tokens: object) -> None:
    with pytest.raises(ValueError, match=r"^minidouble: budget_"):
        Budget.from_options(usd, tokens)


def test_budget_strings_from_the_command_line() -> None:
    # Parsed where they enter, by the one definition of the options; the budget takes the
    # typed values and refuses strings.
    typed = parse_values({"budget_usd": "$0.25", "budget_tokens": "1000"}, str)
    assert Budget.from_options(typed["budget_usd"], typed["budget_tokens"]) == Budget(
        Decimal("0.25"), 1000
    )
    for usd, tokens in (("$0.25", None), (None, "1000")):
        with pytest.raises(ValueError, match=r"^minidouble: budget_"):
            Budget.from_options(usd, tokens)


def test_rate_limits_and_latency_from_the_command_line(pytester: pytest.Pytester) -> None:
    pytest.importorskip("openai")
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    pytester.makepyfile(
        """
        import openai, pytest

        def test_limited(gpt4o_mini, openai_client):
            client = openai_client.with_options(max_retries=0)
            ask = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
            client.chat.completions.create(**ask)
            with pytest.raises(openai.RateLimitError, match="requests per min"):
                client.chat.completions.create(**ask)
            assert gpt4o_mini.app.latency is not None
        """
    )
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--minidouble-requests-per-minute=1",
        "--minidouble-latency=realistic",
        "--minidouble-latency-speedup=100",
    )
    result.assert_outcomes(passed=1)
    wrong = pytester.runpytest("-p", "no:cacheprovider", "--minidouble-latency=sluggish")
    # Refused once, at start-up, naming the option (not at every test's setup).
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    wrong.stderr.fnmatch_lines(
        [
            "*minidouble: --minidouble-latency: expected one of 'instant', 'realistic', got "
            "'sluggish'*"
        ]
    )
