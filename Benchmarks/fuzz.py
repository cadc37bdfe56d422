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
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST = ROOT / "Tests" / "oracle" / "test_fuzz.py"
KINDS = 5
BATCH = 2_000  # cases of each kind in one pytest process: its start-up (torch, fixtures) is ~20 s


def run_batches(args, work):
    per_kind = -(-args.cases // KINDS)
    batches = [(args.seed + k, min(BATCH, per_kind - k * BATCH)) for k in range(-(-per_kind // BATCH))]
    pending, running, finished = list(batches), [], []
    env = dict(os.environ, TOK_FUZZ_SECONDS="0", TOK_FUZZ_JOBS="1")
    if args.tok:
        env["TOK_BIN"] = str(pathlib.Path(args.tok).resolve())
    if args.keep:
        env["TOK_FUZZ_KEEP"] = str(pathlib.Path(args.keep).resolve())
    start = time.monotonic()
    while pending or running:
        while pending and len(running) < args.jobs:
            seed, cases = pending.pop(0)
            report, log = work / f"report-{seed}.jsonl", open(work / f"pytest-{seed}.log", "w")
            p = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore", str(TEST)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env=dict(env, TOK_FUZZ_SEED=str(seed), TOK_FUZZ_CASES=str(cases), TOK_FUZZ_REPORT=str(report)))
            running.append((p, seed, report, log))
        time.sleep(1)
        for item in [r for r in running if r[0].poll() is not None]:
            running.remove(item)
            item[3].close()
            finished.append(item[1:3])
            done = sum(1 for line in open(item[2]) if '"done"' in line) if item[2].exists() else 0
            print(f"seed {item[1]}: {done} cases ({time.monotonic() - start:.0f} s)", file=sys.stderr)
            if done == 0:
                sys.exit(f"fuzz: the batch of seed {item[1]} ran no case; see {work}/pytest-{item[1]}.log")
    return finished, time.monotonic() - start


def main():
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
        for _, report in finished:
            for line in open(report):
                record = json.loads(line)
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
