"""The wire helpers reproduce the standard library's formatting byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from minidouble._wire import new_call_id, new_completion_id, new_request_id, pretty

ODD = [
    {"a": [1, 2.5, {"b": None, "c": True, "d": []}, {}], "é": 'x\n"\u2028🙂\x00', "n": -0.0},
    {"big": 10**30, "small": 1e-7, "neg": -3, "esc": "\t\\/"},
    {},
    [],
    "plain",
    7,
    None,
]


@pytest.mark.parametrize("document", ODD)
def test_pretty_matches_json_dumps(document: Any) -> None:
    assert pretty(document) == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


@pytest.mark.slow
def test_pretty_matches_json_dumps_on_the_corpus(fidelity_dir: Path) -> None:
    with open(fidelity_dir / "real_gpt4o_mini.jsonl", encoding="utf-8") as lines:
        for line in lines:
            document = json.loads(line)
            expected = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            assert pretty(document) == expected.encode()


def test_ids_have_the_real_shapes() -> None:
    ids = {new_completion_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", i) for i in ids)
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", new_call_id())
    assert re.fullmatch(r"req_[0-9a-f]{32}", new_request_id())
