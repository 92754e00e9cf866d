"""The pytest plugin, driven through pytester: fixtures, marker, options, summary, xdist."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

pytest_plugins = ["pytester"]

# pytester's in-process runs drop every module first imported inside them when they end. A
# client library imported anew afterwards would have new exception classes that httpx2's
# cached exception map no longer recognises, breaking later tests in this process; importing
# them here, once, keeps one copy for the whole session.
for _module in ("openai", "httptools", "minidouble._fake", "minidouble._transports._httpx"):
    importlib.import_module(_module)
if importlib.util.find_spec("httpx2") is not None:
    importlib.import_module("minidouble._transports._httpx2")

CHAT = """
import json, urllib.request

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}

def chat(client, **extra):
    return client.chat.completions.create(**BODY, **extra)

def post(base_url, body=BODY, key="sk-test"):
    request = urllib.request.Request(
        base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(helpers=CHAT)
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    return pytester


def test_gpt4o_mini_and_openai_client_answer_in_process(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        from helpers import chat

        def test_scripted(gpt4o_mini, openai_client):
            gpt4o_mini.reply("Hi there")
            assert chat(openai_client).choices[0].message.content == "Hi there"
            assert gpt4o_mini.requests[0].prompt_tokens == 9

        def test_async(gpt4o_mini, async_openai_client):
            import asyncio
            reply = asyncio.run(async_openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}]))
            assert reply.usage.prompt_tokens == 9
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*minidouble: fake GPT-4o mini usage*", "2 request(s) in 2 test(s): 18 prompt + *"]
    )


def test_the_summary_lists_each_test_under_verbose(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        from helpers import chat

        def test_one(openai_client):
            chat(openai_client)

        def test_two(openai_client):
            chat(openai_client)
            chat(openai_client)
        """
    )
    result = suite.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "3 request(s) in 2 test(s): 27 prompt + *",
            "  test_the_summary_lists_each_test_under_verbose.py::test_one: 1 request(s), 9 *",
            "  test_the_summary_lists_each_test_under_verbose.py::test_two: 2 request(s), 18 *",
        ]
    )


def test_no_summary_when_no_fake_was_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    assert "fake GPT-4o mini usage" not in result.stdout.str()


def test_the_server_fixture_serves_the_same_fake_over_a_socket(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        from helpers import post

        def test_loopback(gpt4o_mini_server):
            assert gpt4o_mini_server.base_url.startswith("http://127.0.0.1:")
            assert gpt4o_mini_server.base_url.endswith("/v1")
            gpt4o_mini_server.reply("over the wire")
            answer = post(gpt4o_mini_server.base_url)
            assert answer["choices"][0]["message"]["content"] == "over the wire"
            assert len(gpt4o_mini_server.requests) == 1

        def test_both_modes_share_one_fake(gpt4o_mini, gpt4o_mini_server, openai_client):
            from helpers import chat
            gpt4o_mini.reply("first")
            gpt4o_mini.reply("second")
            assert chat(openai_client).choices[0].message.content == "first"
            assert post(gpt4o_mini_server.base_url)["choices"][0]["message"]["content"] == "second"

        def test_the_control_api_scripts_the_test_s_fake(gpt4o_mini_server):
            import httpx
            root = gpt4o_mini_server.base_url.removesuffix("/v1")
            scripted = httpx.post(f"{root}/_minidouble/reply", json={"text": "from a control call"})
            assert scripted.status_code == 200, scripted.text
            answer = post(gpt4o_mini_server.base_url)
            assert answer["choices"][0]["message"]["content"] == "from a control call"
        """
    )
    suite.runpytest().assert_outcomes(passed=3)


def test_markers_merge_across_levels_and_the_closest_wins(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.gpt4o_mini(api_key="sk-module", stream_obfuscation=False)

        @pytest.mark.gpt4o_mini(api_key="sk-class")
        class TestKeys:
            @pytest.mark.gpt4o_mini(api_key="sk-function")
            def test_function_level(self, gpt4o_mini):
                assert gpt4o_mini.app.api_key == "sk-function"
                assert gpt4o_mini.app.stream_obfuscation is False

            def test_class_level(self, gpt4o_mini, openai_client):
                assert gpt4o_mini.app.api_key == "sk-class"
                assert openai_client.api_key == "sk-class"

        def test_module_level(gpt4o_mini):
            assert gpt4o_mini.app.api_key == "sk-module"
        """
    )
    suite.runpytest().assert_outcomes(passed=3)


def test_an_unknown_marker_keyword_is_a_clear_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.gpt4o_mini(temprature=0)
        def test_typo(gpt4o_mini):
            pass
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*minidouble: FakeGPT4oMini got unknown option(s) temprature*"])


UNUSED = """
import pytest

def test_unused(gpt4o_mini):
    gpt4o_mini.reply("nobody asks")

@pytest.mark.gpt4o_mini(allow_unused=True)
def test_allowed(gpt4o_mini):
    gpt4o_mini.reply("nobody asks")
"""


def test_unused_scripted_replies_fail_the_test_at_teardown(suite: pytest.Pytester) -> None:
    suite.makepyfile(UNUSED)
    result = suite.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unused*",
            "*minidouble: 1 scripted answer(s) were never used: reply('nobody asks')*",
        ]
    )


def test_the_command_line_allows_unused_scripts_for_the_run(suite: pytest.Pytester) -> None:
    suite.makepyfile(UNUSED)
    suite.runpytest("--minidouble-allow-unused").assert_outcomes(passed=2)


def test_pyproject_mirrors_the_options(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.minidouble]\nallow_unused = true\napi_key = "sk-ini"\n')
    pytester.makepyfile(
        UNUSED
        + """
def test_ini_key(gpt4o_mini):
    assert gpt4o_mini.app.api_key == "sk-ini"

@pytest.mark.gpt4o_mini(api_key="sk-marker")
def test_marker_beats_ini(gpt4o_mini):
    assert gpt4o_mini.app.api_key == "sk-marker"
"""
    )
    pytester.runpytest().assert_outcomes(passed=4)


def test_the_command_line_beats_markers(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.gpt4o_mini(api_key="sk-marker")
        def test_key(gpt4o_mini):
            assert gpt4o_mini.app.api_key == "sk-cli"
        """
    )
    suite.runpytest("--minidouble-api-key", "sk-cli").assert_outcomes(passed=1)


def test_an_unknown_pyproject_key_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.minidouble]\nallow_unsued = true\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*minidouble: unknown key 'allow_unsued' in [[]tool.minidouble]*"])


def test_a_second_fake_inside_the_fixture_is_a_clear_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from minidouble import FakeGPT4oMini

        def test_nested(gpt4o_mini):
            with pytest.raises(RuntimeError, match="minidouble: another FakeGPT4oMini is already"):
                with FakeGPT4oMini():
                    pass
        """
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_xdist_workers_report_to_one_summary(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from helpers import chat

        @pytest.mark.parametrize("n", range(4))
        def test_many(openai_client, gpt4o_mini_server, n):
            chat(openai_client)
        """
    )
    result = suite.runpytest_subprocess("-n", "2", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["4 request(s) in 4 test(s): 36 prompt + *", "*test_many[[]0]: 1 request(s), 9 prompt*"]
    )


def test_the_summary_bills_batch_lines_at_the_batch_price(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import json, time

        def test_batch(gpt4o_mini, openai_client):
            gpt4o_mini.reply("fixed")
            line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "gpt-4o-mini",
                             "messages": [{"role": "user", "content": "Hello!"}]}}
            data = (json.dumps(line) + "\\n").encode()
            file_id = openai_client.files.create(file=("in.jsonl", data), purpose="batch").id
            batch = openai_client.batches.create(input_file_id=file_id,
                endpoint="/v1/chat/completions", completion_window="24h")
            while batch.status != "completed":
                time.sleep(0.02)
                batch = openai_client.batches.retrieve(batch.id)
            assert (batch.usage.input_tokens, batch.usage.output_tokens) == (9, 1)
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # 9 + 1 tokens at $0.075 / $0.30 per 1M is $0.000000975 (the sync price: $0.000001950)
    result.stdout.fnmatch_lines(
        ["*9 prompt + 1 completion tokens = $0.000001 at GPT-4o mini prices (batch lines*"]
    )
