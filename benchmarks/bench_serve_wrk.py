"""``minidouble serve`` against aimock, the Node peer, under wrk: requests per second.

Issue 13 asks the loopback server to serve at least as many small chat completions per
second as aimock (``@copilotkit/aimock``, pinned in benchmarks/node/package-lock.json) on the
same machine in the same run, while minidouble validates the request, counts its tokens and
applies rate limits, and aimock matches a fixture and answers. Target: >= 1.0x (stretch 1.2x).

    apt-get update && apt-get install -y wrk      # Debian's wrk, once
    (cd benchmarks/node && npm ci)                # aimock from the lock file, once
    python benchmarks/bench_serve_wrk.py [--rounds 3] [--seconds 8] [--pin]

Both servers run side by side; ``wrk -t1 -c16`` loads them in turn, A B A B A B, so load
from other processes on a shared machine hits both alike. Every response must be a 200: a
wrk Lua script counts the others and the run fails if any. Besides requests per second, the
server's CPU time per request is printed: it does not depend on how busy the machine is.
``--pin`` puts both servers on CPU 0 and wrk on CPU 1, the issue's setting of a 2-core
machine where wrk takes one core: a server's helper threads (Node's garbage collector and
compiler) then share its core instead of taking a bigger share of a busy machine.
aimock is started with its flag-driven ``llmock`` bin (the package's server entry point)
and one fixture that answers the benchmark request.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import KEY, SMALL, WRK_SCRIPT, _cpu_seconds, _free_port, _serving

NODE_DIR = Path(__file__).resolve().parent / "node"
TARGET, STRETCH = 1.0, 1.2
BODY = {"model": "gpt-4o-mini", "messages": [SMALL["messages"][1]]}
FIXTURES = {
    "fixtures": [
        {
            "match": {"userMessage": "capital of France"},
            "response": {"content": "Paris. It is famous for the Eiffel Tower and the Louvre."},
        }
    ]
}
# Counts every answer that is not exactly a 200 (wrk's own summary only counts non-2xx/3xx).
COUNT_NOT_200 = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) not200 = 0 end
function response(status, headers, body)
    if status ~= 200 then not200 = not200 + 1 end
end
function done(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do total = total + thread:get("not200") end
    io.write(string.format("not-200 responses: %d\\n", total))
end
"""


def _need(program: str, how: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise SystemExit(f"minidouble: this benchmark needs {program}; install it with: {how}")
    return found


def _aimock() -> Path:
    binary = NODE_DIR / "node_modules" / ".bin" / "llmock"
    if not binary.exists():
        npm = _need("npm", "apt-get install -y nodejs npm (Node 20 or later)")
        print(f"installing aimock from {NODE_DIR / 'package-lock.json'} (npm ci)...", flush=True)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    return binary


def _wrk(wrk: list[str], url: str, script: Path, seconds: int) -> tuple[float, int]:
    """Requests per second and requests made; fails on any answer that is not a 200 and on
    socket errors (a server that drops connections would look fast)."""
    result = subprocess.run(
        [*wrk, "-t1", "-c16", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    not_200 = re.search(r"not-200 responses: (\d+)", out)
    if rate is None or count is None or not_200 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}\n{result.stderr}")
    if int(not_200.group(1)) or "Socket errors" in out or "Non-2xx" in out:
        raise RuntimeError(f"not every answer from {url} was a 200:\n{out}")
    return float(rate.group(1)), int(count.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="A B pairs (default 3)")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run each server on CPU 0 and wrk on CPU 1 (taskset): one core each, as on the "
        "issue's 2-core machine, so a server's helper threads share its core",
    )
    args = parser.parse_args()
    wrk = [_need("wrk", "apt-get update && apt-get install -y wrk")]
    _need("node", "apt-get install -y nodejs (Node 20 or later)")
    aimock = _aimock()
    server_cpu: list[str] = []
    if args.pin:
        taskset = _need("taskset", "apt-get install -y util-linux")
        server_cpu = [taskset, "-c", "0"]
        wrk = [taskset, "-c", "1", *wrk]
    ours_port, theirs_port = _free_port(), _free_port()
    servers = {
        "minidouble": [*server_cpu, sys.executable, "-m", "minidouble", "serve",
                       "--port", str(ours_port)],
        "aimock": [*server_cpu, str(aimock), "--port", str(theirs_port), "--host", "127.0.0.1",
                   "--log-level", "silent"],
    }  # fmt: skip
    ports = {"minidouble": ours_port, "aimock": theirs_port}
    rates: dict[str, list[float]] = {name: [] for name in servers}
    cpu: dict[str, list[float]] = {name: [] for name in servers}
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as running:
        fixtures = Path(scratch) / "fixtures.json"
        fixtures.write_text(json.dumps(FIXTURES))
        servers["aimock"] += ["--fixtures", str(fixtures)]
        script = Path(scratch) / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=json.dumps(BODY), key=KEY) + COUNT_NOT_200)
        pids = {
            name: running.enter_context(_serving(command, ports[name])).pid
            for name, command in servers.items()
        }
        urls = {name: f"http://127.0.0.1:{ports[name]}/v1/chat/completions" for name in ports}
        for name in servers:  # warm-up: tokenizer tables, JIT
            _wrk(wrk, urls[name], script, 2)
        print(f"wrk -t1 -c16 -d{args.seconds}s, a small chat completion, A B x {args.rounds}:")
        for round_ in range(1, args.rounds + 1):
            for name in servers:
                before = _cpu_seconds(pids[name])
                rate, requests = _wrk(wrk, urls[name], script, args.seconds)
                rates[name].append(rate)
                cpu[name].append((_cpu_seconds(pids[name]) - before) / requests * 1e6)
                print(
                    f"  round {round_} {name:<10} {rate:>8,.0f} req/s  "
                    f"{cpu[name][-1]:>5.0f} us CPU/request  (all {requests:,} answers 200)",
                    flush=True,
                )
    pairs = zip(rates["minidouble"], rates["aimock"], strict=True)
    ratios = [ours / theirs for ours, theirs in pairs]
    ratio = statistics.median(ratios)
    cpu_ratio = statistics.median(cpu["aimock"]) / statistics.median(cpu["minidouble"])
    verdict = "met" if ratio >= TARGET else "NOT met"
    stretch = " (stretch 1.2x met)" if ratio >= STRETCH else ""
    print(
        f"minidouble {statistics.median(rates['minidouble']):,.0f} req/s, aimock "
        f"{statistics.median(rates['aimock']):,.0f} req/s (medians)\n"
        f"ratio per round: {', '.join(f'{r:.2f}x' for r in ratios)}; median {ratio:.2f}x: "
        f"target >= {TARGET}x {verdict}{stretch}\n"
        f"CPU per request: minidouble {statistics.median(cpu['minidouble']):.0f} us, aimock "
        f"{statistics.median(cpu['aimock']):.0f} us ({cpu_ratio:.2f}x)"
    )


if __name__ == "__main__":
    main()
