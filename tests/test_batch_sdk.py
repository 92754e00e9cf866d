"""The Batch API and Files through the real openai SDK (3.x on httpx2, 2.x on httpx).

The whole flow (upload, create, poll, download, parse) in-process and over the loopback
server, each batch-level failure, request-level failures in the error file, cancel and
expiry on a manual clock, pagination, Azure, fine-tuned lines, and bad input.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidouble import FakeGPT4oMini
from minidouble._model._profile import GPT4O_MINI

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.sdk

FT = "ft:gpt-4o-mini-2024-07-18:personal:triage:AbCd1234"
TERMINAL = ("completed", "failed", "expired", "cancelled")


def chat_line(custom_id: str, text: str = "Hi", **body: Any) -> dict[str, Any]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **body}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def jsonl(lines: list[Any]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def upload(client: Any, data: bytes, name: str = "input.jsonl") -> Any:
    return client.files.create(file=(name, data), purpose="batch")


def start(client: Any, data: bytes, endpoint: str = "/v1/chat/completions") -> Any:
    uploaded = upload(client, data)
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint=endpoint, completion_window="24h"
    )
    assert batch.status == "validating"  # every mistake in the file shows later
    return batch


def wait(client: Any, batch: Any) -> Any:
    deadline = time.monotonic() + 30
    while batch.status not in TERMINAL:
        assert time.monotonic() < deadline, batch
        time.sleep(0.05)
        batch = client.batches.retrieve(batch.id)
    return batch


def read_lines(client: Any, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


@pytest.fixture(params=["in_process", "loopback"])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    with FakeGPT4oMini() as fake:
        if request.param == "in_process":
            with openai.OpenAI(api_key="sk-test", max_retries=0) as c:
                c.fake = fake
                yield c
        else:
            with (
                fake.serve() as server,
                openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0) as c,
            ):
                c.fake = fake
                yield c


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def manual() -> Iterator[tuple[Any, ManualClock, FakeGPT4oMini]]:
    clock = ManualClock()
    with (
        FakeGPT4oMini(clock=clock, allow_unused=True) as fake,
        openai.OpenAI(api_key="sk-test", max_retries=0) as c,
    ):
        yield c, clock, fake


# --- the whole flow -----------------------------------------------------------------------


def test_whole_flow(client: Any) -> None:
    lines = [chat_line(f"request-{i}", f"Say {i}") for i in range(20)]
    uploaded = upload(client, jsonl(lines))
    assert uploaded.purpose == "batch" and uploaded.bytes == len(jsonl(lines))
    assert uploaded.status == "processed" and uploaded.expires_at == uploaded.created_at + 2_592_000
    assert client.files.retrieve(uploaded.id).id == uploaded.id
    assert client.files.content(uploaded.id).content == jsonl(lines)  # bytes as uploaded
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert batch.model is None and batch.request_counts.total == 0
    assert batch.expires_at == batch.created_at + 86_400
    done = wait(client, batch)
    assert done.status == "completed", done
    assert done.model == "gpt-4o-mini-2024-07-18"
    assert done.metadata == {"job": "nightly"}
    assert (done.request_counts.total, done.request_counts.completed) == (20, 20)
    assert done.error_file_id is None
    assert done.in_progress_at is not None and done.finalizing_at is not None
    output = read_lines(client, done.output_file_id)
    assert sorted(line["custom_id"] for line in output) == sorted(f"request-{i}" for i in range(20))
    for line in output:
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200
        completion = openai.types.chat.ChatCompletion.model_validate(line["response"]["body"])
        assert completion.choices[0].message.content
    usage = done.usage
    assert usage.input_tokens == sum(
        o["response"]["body"]["usage"]["prompt_tokens"] for o in output
    )
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    out_file = client.files.retrieve(done.output_file_id)
    assert out_file.purpose == "batch_output"
    assert out_file.filename == f"batch_{done.id}_output.jsonl"


def test_output_is_in_completion_order_and_usage_matches_direct_requests(client: Any) -> None:
    lines = [chat_line(f"r{i}", f"Question number {i}?" * (i % 3 + 1)) for i in range(30)]
    done = wait(client, start(client, jsonl(lines)))
    output = read_lines(client, done.output_file_id)
    order = [line["custom_id"] for line in output]
    assert sorted(order) == sorted(line["custom_id"] for line in lines)
    assert order != [line["custom_id"] for line in lines]  # code assuming input order fails
    by_id = {line["custom_id"]: line["response"]["body"] for line in output}
    for line in lines:
        direct = client.chat.completions.with_raw_response.create(**line["body"])
        assert by_id[line["custom_id"]]["usage"] == direct.http_response.json()["usage"]


def test_files_list_and_delete(client: Any) -> None:
    first = upload(client, jsonl([chat_line("a")]), "a.jsonl")
    second = upload(client, jsonl([chat_line("b")]), "b.jsonl")
    listed = [f.id for f in client.files.list(purpose="batch")]
    assert listed[:2] == [second.id, first.id]  # newest first
    deleted = client.files.delete(first.id)
    assert deleted.deleted is True and deleted.id == first.id
    with pytest.raises(openai.NotFoundError) as caught:
        client.files.retrieve(first.id)
    assert caught.value.body["message"] == f"No such File object: {first.id}"
    assert caught.value.body["param"] == "id"


def test_batches_paginate_newest_first(client: Any) -> None:
    data = jsonl([chat_line("a")])
    created = [start(client, data).id for _ in range(5)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == created[::-1][:2]
    assert page.has_more is True
    assert [b.id for b in client.batches.list(limit=2)] == created[::-1]  # auto-paginated
    after = client.batches.list(limit=2, after=created[3])
    assert [b.id for b in after.data] == created[2::-1][:2]


# --- batch-level failures -------------------------------------------------------------------


def _failed(client: Any, data: bytes) -> list[Any]:
    done = wait(client, start(client, data))
    assert done.status == "failed", done
    assert done.failed_at is not None and done.in_progress_at is None
    assert done.output_file_id is None and done.error_file_id is None
    assert done.request_counts.total == 0
    return list(done.errors.data)


def test_invalid_json_lines_fail_the_batch_with_their_line_numbers(client: Any) -> None:
    data = jsonl([chat_line("a")]) + b"{not json\n" + jsonl([chat_line("b")]) + b"[1,\n"
    errors = _failed(client, data)
    assert [(e.code, e.line) for e in errors] == [
        ("invalid_json_line", 2),
        ("invalid_json_line", 4),
    ]
    assert errors[0].message == "This line is not parseable as valid JSON."


@pytest.mark.parametrize(
    ("lines", "code", "param", "line"),
    [
        ([chat_line("a"), chat_line("a")], "duplicate_custom_id", "custom_id", 2),
        (
            [chat_line("a"), {**chat_line("b"), "url": "/v1/embeddings"}],
            "url_mismatch",
            "url",
            2,
        ),
        ([chat_line("a"), chat_line("b", model="gpt-4o")], "model_mismatch", "body.model", 2),
        (
            [{"custom_id": "a", "url": "/v1/chat/completions", "body": {}}],
            "missing_required_parameter",
            "method",
            1,
        ),
    ],
)
def test_line_mistakes_fail_the_batch(
    client: Any, lines: list[Any], code: str, param: str, line: int
) -> None:
    errors = _failed(client, jsonl(lines))
    assert [(e.code, e.param, e.line) for e in errors] == [(code, param, line)]


def test_empty_file_fails_the_batch(client: Any) -> None:
    errors = _failed(client, b"")
    assert [(e.code, e.line) for e in errors] == [("empty_file", None)]


def _small_limits(**rules: Any) -> Any:
    return dataclasses.replace(GPT4O_MINI, batch=dataclasses.replace(GPT4O_MINI.batch, **rules))


def test_too_many_lines_and_the_enqueued_token_limit_fail_asynchronously() -> None:
    with FakeGPT4oMini(profile=_small_limits(max_lines=3, enqueued_tokens=50)) as fake:
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        errors = _failed(client, jsonl([chat_line(str(i)) for i in range(4)]))
        assert [e.code for e in errors] == ["too_many_tasks"]
        errors = _failed(client, jsonl([chat_line(str(i), "word " * 100) for i in range(2)]))
        assert [e.code for e in errors] == ["token_limit_exceeded"]
        assert errors[0].message.startswith("Enqueued token limit reached for gpt-4o-mini in ")
        assert "Limit: 50 enqueued tokens." in errors[0].message
        assert fake.usage().batch_lines == 0


# --- request-level failures -----------------------------------------------------------------


def test_request_level_failures_go_to_the_error_file(client: Any) -> None:
    lines = [chat_line("ok"), chat_line("too-long", max_tokens=1_000_000), chat_line("ok2")]
    done = wait(client, start(client, jsonl(lines)))
    assert done.status == "completed"  # a failed request does not fail the batch
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
    errors = read_lines(client, done.error_file_id)
    assert len(errors) == 1 and errors[0]["custom_id"] == "too-long"
    assert errors[0]["error"] is None
    assert errors[0]["response"]["status_code"] == 400
    with pytest.raises(openai.BadRequestError) as direct:
        client.chat.completions.create(**lines[1]["body"])
    assert errors[0]["response"]["body"] == {"error": direct.value.body}


def test_scripts_aimed_at_a_custom_id_and_in_input_order(client: Any) -> None:
    fake = client.fake
    fake.reply("first in line")
    fake.reply("just for c", custom_id="c")
    fake.fail(500, custom_id="b")
    done = wait(client, start(client, jsonl([chat_line(x) for x in "abcd"])))
    output = {
        o["custom_id"]: o["response"]["body"] for o in read_lines(client, done.output_file_id)
    }
    assert output["a"]["choices"][0]["message"]["content"] == "first in line"
    assert output["c"]["choices"][0]["message"]["content"] == "just for c"
    (error,) = read_lines(client, done.error_file_id)
    assert error["custom_id"] == "b" and error["response"]["status_code"] == 500
    assert error["response"]["body"]["error"]["type"] == "server_error"


def test_responses_lines(client: Any) -> None:
    lines = [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": "/v1/responses",
            "body": {"model": "gpt-4o-mini", "input": f"Say {i}"},
        }
        for i in range(3)
    ]
    done = wait(client, start(client, jsonl(lines), endpoint="/v1/responses"))
    assert done.status == "completed" and done.request_counts.completed == 3
    for line in read_lines(client, done.output_file_id):
        response = openai.types.responses.Response.model_validate(line["response"]["body"])
        assert response.output_text
    assert not [r for r in client.fake.requests if r.path == "/v1/responses"]  # not logged


# --- the clock ------------------------------------------------------------------------------


def test_every_state_on_a_manual_clock(manual: Any) -> None:
    client, clock, _ = manual
    batch = start(client, jsonl([chat_line(str(i)) for i in range(10)]))
    seen = []
    for now in (0.5, 1, 20, 31.1, 31.21, 31.5, 32.2):
        clock.now = now
        current = client.batches.retrieve(batch.id)
        seen.append((current.status, current.request_counts.completed))
    assert seen == [
        ("validating", 0),
        ("in_progress", 0),
        ("in_progress", 0),
        ("in_progress", 5),
        ("finalizing", 10),
        ("finalizing", 10),
        ("completed", 10),
    ]
    done = client.batches.retrieve(batch.id)
    assert done.in_progress_at - done.created_at == 1
    assert done.completed_at - done.created_at == 32


def test_cancel_takes_ten_minutes_and_keeps_partial_results(manual: Any) -> None:
    client, clock, _ = manual
    batch = start(client, jsonl([chat_line(str(i)) for i in range(100)]))
    clock.now = 31.51  # 25 of 100 requests done (1 s validating, 30 s startup, 0.02 s each)
    raw = client.batches.with_raw_response.cancel(batch.id)
    assert b'","object":"batch",' in raw.http_response.content  # compact, as recorded
    cancelling = raw.parse()
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at - cancelling.created_at == 31
    clock.now = 31.51 + 604
    assert client.batches.retrieve(batch.id).status == "cancelling"
    clock.now = 31.51 + 605
    done = client.batches.retrieve(batch.id)
    assert done.status == "cancelled" and done.cancelled_at - done.cancelling_at == 605
    assert done.request_counts.completed == 25 and done.request_counts.failed == 75
    assert len(read_lines(client, done.output_file_id)) == 25
    errors = read_lines(client, done.error_file_id)
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.cancel(batch.id)
    assert caught.value.body["message"] == "Cannot cancel a batch with status 'cancelled'."


def test_cancel_while_validating(manual: Any) -> None:
    client, clock, _ = manual
    batch = start(client, jsonl([chat_line("a")]))
    assert client.batches.cancel(batch.id).status == "cancelling"
    clock.now = 606
    done = client.batches.retrieve(batch.id)
    assert done.status == "cancelled" and done.model is None and done.in_progress_at is None
    assert done.output_file_id is None and done.error_file_id is None


def test_expiry_keeps_finished_lines_and_writes_off_the_rest() -> None:
    clock = ManualClock()
    with FakeGPT4oMini(clock=clock, batch_timing={"per_line": 3_600}):
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        batch = start(client, jsonl([chat_line(str(i)) for i in range(30)]))
        clock.now = 86_399
        assert client.batches.retrieve(batch.id).status == "in_progress"
        clock.now = 86_400
        assert client.batches.retrieve(batch.id).status == "finalizing"
        clock.now = 86_402
        done = client.batches.retrieve(batch.id)
        assert done.status == "expired" and done.expired_at == done.expires_at + 1
        # line i finishes at 1 + 30 + 3600 (i + 1) s: 23 of them before 24 h
        assert (done.request_counts.completed, done.request_counts.failed) == (23, 7)
        assert len(read_lines(client, done.output_file_id)) == 23
        expired = read_lines(client, done.error_file_id)
        assert expired[0]["response"] is None
        assert expired[0]["error"] == {
            "code": "batch_expired",
            "message": "This request could not be executed before the completion window expired.",
        }


# --- money and fine-tuned models --------------------------------------------------------------


def test_batch_lines_bill_at_half_price() -> None:
    with FakeGPT4oMini() as fake:
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        done = wait(client, start(client, jsonl([chat_line(str(i)) for i in range(4)])))
        usage = fake.usage()
        assert usage.batch_lines == 4
        assert usage.prompt_tokens == done.usage.input_tokens
        expected = (
            Decimal("0.075") * done.usage.input_tokens + Decimal("0.30") * done.usage.output_tokens
        ) / 1_000_000
        assert usage.cost() == expected


def test_fine_tuned_models_answer_and_bill_as_fine_tuned() -> None:
    with FakeGPT4oMini() as fake:
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        completion = client.chat.completions.create(
            model=FT, messages=[{"role": "user", "content": "Hi"}]
        )
        assert completion.model == FT
        billed = completion.usage
        assert (
            fake.usage().cost()
            == (Decimal("0.30") * billed.prompt_tokens + Decimal("1.20") * billed.completion_tokens)
            / 1_000_000
        )
        checkpoint = FT + ":ckpt-step-160"
        assert client.responses.create(model=checkpoint, input="Hi").model == checkpoint
        for wrong in ("ft:gpt-4o-2024-08-06:personal::AbCd1234", "ft:gpt-4o-mini-2024-07-18:x"):
            with pytest.raises(openai.NotFoundError) as caught:
                client.chat.completions.create(
                    model=wrong, messages=[{"role": "user", "content": "Hi"}]
                )
            assert caught.value.code == "model_not_found"
        before = fake.usage().cost()
        done = wait(client, start(client, jsonl([chat_line("a", model=FT)])))
        assert done.model == FT
        expected = (
            Decimal("0.15") * done.usage.input_tokens + Decimal("0.60") * done.usage.output_tokens
        ) / 1_000_000
        assert fake.usage().cost() - before == expected


# --- Azure ----------------------------------------------------------------------------------


def test_azure_global_batch() -> None:
    with FakeGPT4oMini(azure_deployments=["gpt-4o-mini-batch"]):
        client = openai.AzureOpenAI(
            azure_endpoint="https://example.openai.azure.com",
            api_key="azure-key",
            api_version="2024-10-21",
            max_retries=0,
        )
        lines = [chat_line(str(i), model="gpt-4o-mini-batch") for i in range(3)]
        uploaded = upload(client, jsonl(lines))
        assert len(uploaded.id) == len("file-") + 32
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/chat/completions", completion_window="24h"
        )
        done = wait(client, batch)
        assert done.status == "completed" and done.request_counts.completed == 3
        assert len(read_lines(client, done.output_file_id)) == 3
        assert client.files.content(done.error_file_id).content == b""  # Azure: an empty file
        wrong = [chat_line("x", model="no-such-deployment")]
        failed = wait(
            client,
            client.batches.create(
                input_file_id=upload(client, jsonl(wrong)).id,
                endpoint="/chat/completions",
                completion_window="24h",
            ),
        )
        assert [e.code for e in failed.errors.data] == ["model_not_found"]


# --- bad input ------------------------------------------------------------------------------


def test_bad_uploads_get_real_errors(client: Any) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    for name, data in (
        ("notes.txt", b'{"a": 1}\n'),
        ("image.jsonl", png),
        ("x", b"\x00\x01\x02 binary"),
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            upload(client, data, name)
        assert caught.value.body["message"] == "Invalid file format for Batch API. Must be .jsonl"
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("a.jsonl", b"{}"), purpose="nonsense")
    assert caught.value.body["code"] == "invalid_value" and caught.value.body["param"] == "purpose"
    assert client.files.create(file=("photo.png", png), purpose="vision").bytes == len(png)
    # Text that is not JSON passes the upload: the batch refuses it (invalid_json_line).
    assert upload(client, b"not json\n", "notes.jsonl").bytes == 9


def test_unknown_ids_and_finished_batches(client: Any) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.batches.retrieve("batch_nope")
    assert caught.value.body["code"] == "batch_not_found"
    with pytest.raises(openai.NotFoundError):
        client.batches.cancel("batch_nope")
    with pytest.raises(openai.NotFoundError) as missing:
        client.batches.create(
            input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert missing.value.body["message"] == "No such File object: file-nope"
    vision = client.files.create(file=("a.jsonl", b"{}"), purpose="user_data")
    with pytest.raises(openai.BadRequestError) as purpose:
        client.batches.create(
            input_file_id=vision.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert purpose.value.body["param"] == "input_file_id"
    with pytest.raises(openai.BadRequestError) as window:
        client.batches.create(
            input_file_id=vision.id, endpoint="/v1/chat/completions", completion_window="48h"
        )
    assert window.value.body["param"] == "completion_window"
    done = wait(client, start(client, jsonl([chat_line("a")])))
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.cancel(done.id)
    assert caught.value.body["message"] == "Cannot cancel a batch with status 'completed'."


def test_too_large_a_file() -> None:
    with FakeGPT4oMini(profile=_small_limits(max_file_bytes=100)):
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            upload(client, jsonl([chat_line("a", "x" * 200)]))
        assert caught.value.body["message"] == "File is too large."


def _post(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, body, {"Content-Type": content_type, "Authorization": "Bearer sk-test"}
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"purpose": "batch"}', "application/json"),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch',
            "multipart/form-data; boundary=xyz",
        ),
        (b"garbage", "multipart/form-data"),
        (b"--xyz\r\nNo-Headers\r\n\r\nbatch\r\n--xyz--", "multipart/form-data; boundary=xyz"),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--xyz--\r\n',
            "multipart/form-data; boundary=xyz",
        ),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            b"\xff\xfe\r\n--xyz--\r\n",
            "multipart/form-data; boundary=xyz",
        ),
    ],
)
def test_malformed_multipart_is_a_400_never_a_crash(body: bytes, content_type: str) -> None:
    with FakeGPT4oMini().serve() as server:
        status, document = _post(server.base_url + "/files", body, content_type)
        assert server.errors == []
    assert status == 400
    assert set(document["error"]) == {"message", "type", "param", "code"}
    assert document["error"]["type"] == "invalid_request_error"


def test_async_client_flow() -> None:
    import asyncio

    async def flow() -> Any:
        async with openai.AsyncOpenAI(api_key="sk-test", max_retries=0) as client:
            uploaded = await client.files.create(
                file=("in.jsonl", jsonl([chat_line("a"), chat_line("b")])), purpose="batch"
            )
            batch = await client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
            )
            while batch.status not in TERMINAL:
                await asyncio.sleep(0.05)
                batch = await client.batches.retrieve(batch.id)
            content = await client.files.content(batch.output_file_id)
            return batch, content.text

    with FakeGPT4oMini():
        batch, text = asyncio.run(flow())
    assert batch.status == "completed"
    assert sorted(json.loads(line)["custom_id"] for line in text.splitlines()) == ["a", "b"]


def test_azure_v1_paths_need_no_api_version() -> None:
    with FakeGPT4oMini():
        client = openai.OpenAI(
            api_key="azure-key",
            base_url="https://example.openai.azure.com/openai/v1",
            max_retries=0,
        )
        lines = [chat_line(str(i), model="my-deployment") for i in range(2)]
        done = wait(client, start(client, jsonl(lines)))
        assert done.status == "completed" and done.model == "my-deployment"
        first = client.files.content(done.output_file_id).content
        assert client.files.content(done.output_file_id).content == first


def test_only_http_failures_can_be_aimed_at_a_line() -> None:
    fake = FakeGPT4oMini()
    with pytest.raises(TypeError, match="minidouble: fail\\(custom_id='a'\\)"):
        fake.fail("timeout", custom_id="a")
    with pytest.raises(TypeError, match="transport faults and probabilities"):
        fake.fail(500, probability=0.5, custom_id="a")


_BOUNDARY = "multipart/form-data; boundary=b"


@settings(max_examples=300, deadline=None, database=None)
@given(
    path=st.sampled_from(["/v1/files", "/v1/batches", "/v1/batches/x/cancel", "/v1/files/x"]),
    method=st.sampled_from(["POST", "GET", "DELETE"]),
    content_type=st.sampled_from([_BOUNDARY, "multipart/form-data", "application/json", ""]),
    body=st.binary(max_size=200)
    | st.lists(
        st.sampled_from(
            [
                b"--b\r\n",
                b"--b--",
                b'Content-Disposition: form-data; name="file"; filename="a.jsonl"\r\n',
                b'Content-Disposition: form-data; name="purpose"\r\n',
                b"\r\n",
                b"batch",
                b'{"custom_id": "a"}\n',
                b'{"input_file_id": "file-x", "endpoint": "/v1/chat/completions"}',
            ]
        ),
        max_size=12,
    ).map(b"".join),
    query=st.sampled_from(["", "?limit=0", "?limit=x", "?after=zz", "?order=up", "?limit=5"]),
)
def test_any_request_gets_an_answer_never_an_exception(
    path: str, method: str, content_type: str, body: bytes, query: str
) -> None:
    from minidouble._http import HttpRequest
    from minidouble._service._app import GPT4oMiniApp

    app = GPT4oMiniApp()
    headers = {"authorization": "Bearer sk-test", "content-type": content_type}
    request = HttpRequest(method, "https://api.openai.com" + path + query, headers, body)
    response = app.handle(request)
    assert response.status in (200, 400, 404)
    if response.status != 200:
        error = json.loads(response.body)["error"]
        assert error["type"] == "invalid_request_error" and error["message"]


def test_batch_calls_run_off_the_loopback_servers_event_loop() -> None:
    # A Files or Batches call runs the lines that are due, which for a large batch takes
    # long: the loopback server answers those calls in a thread, other requests inline.
    from minidouble._http import HttpRequest

    fake = FakeGPT4oMini()
    base = "https://api.openai.com"
    for path in ("/v1/batches", "/v1/batches/batch_x", "/v1/files", "/v1/files/f/content"):
        assert fake.blocks(HttpRequest("GET", base + path, {}, b"")), path
    assert fake.blocks(HttpRequest("POST", base + "/openai/v1/batches", {}, b""))
    assert not fake.blocks(HttpRequest("POST", base + "/v1/chat/completions", {}, b""))
    assert not fake.blocks(HttpRequest("GET", base + "/v1/models", {}, b""))


def test_lines_use_and_bill_the_session_that_created_the_batch() -> None:
    # Parallel workers on one server each script their own lines and pay for them.
    with FakeGPT4oMini() as fake, fake.serve() as server:
        worker = openai.OpenAI(
            api_key="sk-test",
            base_url=server.base_url,
            default_headers={"X-Minidouble-Session": "worker-1"},
        )
        fake.app.scripts("worker-1").reply("Worker 1's answer.", custom_id="a")
        fake.reply("The default session's reply.")  # not for worker 1's lines
        batch = wait(worker, start(worker, jsonl([chat_line("a")])))
        [line] = read_lines(worker, batch.output_file_id)
        content = line["response"]["body"]["choices"][0]["message"]["content"]
        assert content == "Worker 1's answer."
        assert fake.app.scripts("worker-1").usage().batch_lines == 1
        assert fake.usage().batch_lines == 0
        assert fake.unused_scripts() == ['reply("The default session\'s reply.")']
        fake.reset()


def test_reset_forgets_files_batches_and_aimed_scripts() -> None:
    with FakeGPT4oMini(allow_unused=True) as fake:
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        batch = wait(client, start(client, jsonl([chat_line("a")])))
        fake.reply("for a later line", custom_id="b")
        assert fake.usage().batch_lines == 1 and fake.unused_scripts()
        fake.reset()
        assert fake.unused_scripts() == [] and fake.usage().batch_lines == 0
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve(batch.id)
        assert client.files.list().data == []
