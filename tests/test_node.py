"""The Node suite (tests/node: the official ``openai`` npm package under ``node --test``)
against a real ``minidouble serve``, so a plain pytest run covers a non-Python client too.

Needs Node 20+ and ``npm ci`` in tests/node (.ci/run does both). Elsewhere the test skips
and says how to enable it, unless ``MINIDOUBLE_REQUIRE_NODE=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

NODE_SUITE = Path(__file__).resolve().parent / "node"


def _node_or_skip() -> str:
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "Node 20 or later is not installed"
    elif not (NODE_SUITE / "node_modules" / "openai").is_dir():
        problem = f"the openai npm package is not installed: run `npm ci` in {NODE_SUITE}"
    if problem is None and node is not None:
        return node
    if os.environ.get("MINIDOUBLE_REQUIRE_NODE") == "1":
        pytest.fail(f"minidouble: the Node suite cannot run: {problem}.")
    pytest.skip(f"the Node suite needs Node: {problem}")


@pytest.fixture
def served() -> Iterator[str]:
    """``minidouble serve`` on a free port, as a user starts it; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "minidouble", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stdout = process.stdout
    assert stdout is not None
    # The first line names the base URL; a reader thread keeps a hung start from hanging here.
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(stdout.readline()))
    reader.start()
    reader.join(60)
    found = re.search(r"serving at (http://\S+/v1)", first[0] if first else "")
    try:
        assert found, f"minidouble serve did not say where it listens: {first!r}"
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(10)


def test_the_node_openai_package_gets_the_same_fake(served: str) -> None:
    node = _node_or_skip()
    result = subprocess.run(
        [node, "--test"],
        cwd=NODE_SUITE,
        env={**os.environ, "MINIDOUBLE_BASE_URL": served},
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = "\n".join(line for line in result.stdout.splitlines() if line.startswith("# "))
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
    assert "# fail 0" in summary and "# pass 0" not in summary, summary
