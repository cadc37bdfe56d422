#!/usr/bin/env python3
"""A long run of the fuzz test (Tests/oracle/test_fuzz.py): damaged
tokenizer.json, tiktoken, count, .idx and JSON-lines inputs.

    python3 Benchmarks/fuzz.py [--cases 100000] [--jobs 2] [--seed 1] [--tok PATH] [--keep DIR]

Runs the test file in batches with no time bound, each batch a pytest
process with a seed of its own (TOK_FUZZ_SEED) and --cases / 5 cases of each
kind of input spread over the batches, --jobs batches at once; then prints
each distinct failure (kind of input, what went wrong, the command) with its
count, the mutations that led to it, an example's stderr and the line that
replays it. --keep DIR keeps the inputs of one case of each distinct failure.
The test's fixtures come from the environment as in scripts/test
(TOK_TEST_CORPORA, TOK_REFVOCAB); --tok sets TOK_BIN. Exits 1 if anything failed.
"""
import argparse
import collections
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST = ROOT / "Tests" / "oracle" / "test_fuzz.py"
KINDS = 5
BATCH = 2_000  # cases of each kind in one pytest process: its start-up (torch, fixtures) is ~20 s


class Batch:
    """One pytest process running `cases` cases of each kind with its own seed."""

    def __init__(self, seed, cases, work):
        self.seed, self.cases = seed, cases
        self.report, self.log = work / f"report-{seed}.jsonl", work / f"pytest-{seed}.log"
        self.process = None

    def start(self, env):
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore", str(TEST)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env=dict(env, TOK_FUZZ_SEED=str(self.seed), TOK_FUZZ_CASES=str(self.cases),
                         TOK_FUZZ_REPORT=str(self.report)))

    def records(self):
        return [json.loads(line) for line in open(self.report)] if self.report.exists() else []


def run_batches(args, work):
    """Runs every batch, --jobs at a time; returns them and the seconds taken."""
    per_kind = -(-args.cases // KINDS)
    pending = [Batch(args.seed + k, min(BATCH, per_kind - k * BATCH), work) for k in range(-(-per_kind // BATCH))]
    running, finished = [], []
    env = dict(os.environ, TOK_FUZZ_SECONDS="0", TOK_FUZZ_JOBS="1")
    if args.tok:
        env["TOK_BIN"] = str(pathlib.Path(args.tok).resolve())
    if args.keep:
        env["TOK_FUZZ_KEEP"] = str(pathlib.Path(args.keep).resolve())
    start = time.monotonic()
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                running.append(pending.pop(0))
                running[-1].start(env)
            time.sleep(1)
            for batch in [b for b in running if b.process.poll() is not None]:
                running.remove(batch)
                finished.append(batch)
                done = sum(1 for r in batch.records() if r.get("done"))
                print(f"seed {batch.seed}: {done} cases ({time.monotonic() - start:.0f} s)", file=sys.stderr)
                if done == 0:
                    sys.exit(f"fuzz: the batch of seed {batch.seed} ran no case:\n{batch.log.read_text()[-3000:]}")
    finally:
        for batch in running:  # stopped early (an error, Ctrl-C, SIGTERM): no batch outlives the run
            batch.process.terminate()
            batch.process.wait()
    return finished, time.monotonic() - start


def stop(signum, frame):
    raise SystemExit(f"fuzz: stopped by signal {signum}")


def main():
    signal.signal(signal.SIGTERM, stop)  # so that the batches and the work folder go too
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases in all, over the five kinds of input")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="pytest processes at once")
    parser.add_argument("--seed", type=int, default=1, help="the first batch's seed; batch k has seed + k")
    parser.add_argument("--tok", help="the tok binary (default: the test's, .build/release/tok)")
    parser.add_argument("--keep", help="a folder for the inputs of one case of each distinct failure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tok-fuzz-") as folder:
        work = pathlib.Path(folder)
        finished, seconds = run_batches(args, work)
        cases, failures = 0, collections.defaultdict(list)
        for batch in finished:
            for record in batch.records():
                if record.get("done"):
                    cases += 1
                else:
                    failures[(record["kind"], record["failure"], record["command"])].append(record)
    print(f"{cases} cases in {seconds:.0f} s ({cases / seconds:.0f} a second), {len(failures)} distinct failures")
    for (kind, failure, command), records in sorted(failures.items(), key=lambda item: -len(item[1])):
        mutations = collections.Counter(m.split(" ")[0] for r in records for m in r["mutations"])
        first = records[0]
        print(f"\n{kind}: {failure} ({command}): {len(records)} cases; mutations {dict(mutations.most_common(5))}")
        print(f"  e.g. {'; '.join(first['mutations'])}")
        if first["detail"]:
            print(f"  {first['detail'][:300]}")
        if first["stderr"].strip():
            print(f"  stderr: {first['stderr'].strip()[:300]}")
        binary = f"TOK_BIN={pathlib.Path(args.tok).resolve()} " if args.tok else ""
        print(f"  replay: {binary}TOK_FUZZ_SEED={first['seed']} TOK_FUZZ_ONLY={kind}:{first['case']} "
              f"python3 -m pytest -q Tests/oracle/test_fuzz.py")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
