"""A 50,000-line batch of small chat requests, from create to ``completed``.

    python benchmarks/bench_batch.py                # 5,000 and 50,000 lines, fresh processes
    python benchmarks/bench_batch.py --lines 50000  # one size, in this process

Through the real openai SDK in-process: upload the input file, create the batch, poll it
until ``completed``, download the output. Prints lines per second from create to completed
(target: >= 5,000 lines/s), by the wall clock and by this process's CPU time (the fake runs
in-process, so CPU time is its cost however busy the machine is; on a shared machine the
wall-clock figure also measures the neighbours), and the RSS before the upload, at
completion and at the end (after the SDK's own copies of the download), next to the sizes of
the input and output files: memory may grow with the files (they are kept, as the real
service keeps them) but not with per-line objects, so the growth per line must stay near the
files' bytes per line at both sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

LINE = (
    '{"custom_id": "request-%d", "method": "POST", "url": "/v1/chat/completions", "body": '
    '{"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "system", "content": '
    '"Classify the ticket."}, {"role": "user", "content": "Ticket %d: my order is late."}]}}\n'
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(lines: int) -> dict[str, Any]:
    import openai

    from minidouble import FakeGPT4oMini
    from minidouble._model._tokenizer import encoding

    data = "".join(LINE % (i, i) for i in range(lines)).encode()
    with FakeGPT4oMini() as fake:
        client = openai.OpenAI(api_key="sk-bench", max_retries=0)
        # Warm the engine, the tokenizer's vocabulary and the SDK before measuring: one-time
        # costs of a process, not of a batch.
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Warm up."}]
        )
        encoding()
        before = peak_rss_mb()
        uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
        started, cpu = time.perf_counter(), time.process_time()
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        while batch.status not in ("completed", "failed", "expired", "cancelled"):
            time.sleep(0.02)
            batch = client.batches.retrieve(batch.id)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        at_completion = peak_rss_mb()
        assert batch.status == "completed", batch
        assert batch.request_counts.completed == lines
        output = client.files.content(batch.output_file_id).content
        assert output.count(b"\n") == lines
        assert fake.usage().batch_lines == lines
    return {
        "lines": lines,
        "seconds": elapsed,
        "lines_per_s": lines / elapsed,
        "lines_per_cpu_s": lines / cpu,
        "rss_before_mb": before,
        "rss_completed_mb": at_completion,
        "rss_peak_mb": peak_rss_mb(),
        "input_mb": len(data) / 2**20,
        "output_mb": len(output) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="A batch from create to completed.")
    parser.add_argument("--lines", type=int, help="one size, in this process")
    args = parser.parse_args()
    if args.lines:
        print(json.dumps(run(args.lines)))
        return
    print(
        f"{'lines':>7} {'wall s':>7} {'lines/s':>8} {'lines/CPU s':>11} {'RSS before':>10} "
        f"{'at done':>8} {'end':>7} {'input':>7} {'output':>7} {'growth/line':>11} "
        f"{'files/line':>10}"
    )
    for lines in (5_000, 50_000):
        child = subprocess.run(
            [sys.executable, __file__, "--lines", str(lines)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(child.stdout.strip().splitlines()[-1])
        growth = r["rss_completed_mb"] - r["rss_before_mb"]
        files = r["input_mb"] + r["output_mb"]
        print(
            f"{lines:>7,} {r['seconds']:>7.2f} {r['lines_per_s']:>8,.0f} "
            f"{r['lines_per_cpu_s']:>11,.0f} {r['rss_before_mb']:>8.0f}MB "
            f"{r['rss_completed_mb']:>6.0f}MB {r['rss_peak_mb']:>5.0f}MB "
            f"{r['input_mb']:>5.1f}MB {r['output_mb']:>5.1f}MB "
            f"{growth * 2**20 / lines:>9,.0f} B {files * 2**20 / lines:>8,.0f} B"
        )
    print(
        "target: >= 5,000 lines/s; RSS growth per line (before upload -> completed) near the "
        f"files' bytes per line at both sizes. Load average: {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs."
    )


if __name__ == "__main__":
    main()
