#!/usr/bin/env python3
"""Two builds of tok's Python package, taking turns: one call through Python each.

    python3 Benchmarks/python_ab.py OLD_ROOT NEW_ROOT --vocab DIR FILE... [--runs 3]

A ROOT is a source tree (or a copy of one) with `python/` and the
`.build/release/libTokC.so` built from it: the package is imported from there,
so a build whose C ABI changed runs with its own Python code. Each FILE is read
as a str and encoded once with `encode_to_numpy` in a fresh process on one core
(`taskset -c 0`), the call alone timed (as `python_peers.py` times it), old and
new in turns, --runs times each. Prints MB/s of each (the best of the runs and
their median), new / old, and whether the ids are equal. Differences under
about 5% are noise on a shared machine; where fresh memory is dear, the best
run is the one where it came cheap, and the median says more.
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys

from benchlib import ab_parser

WORKER = """
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1] + "/python")
import tok
enc = tok.load(sys.argv[2])
text = open(sys.argv[3], encoding="utf-8").read()
enc.encode_to_numpy("warm up")
started = time.perf_counter()
ids = enc.encode_to_numpy(text)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "digest": hashlib.sha1(ids.tobytes()).hexdigest()}))
"""


def main():
    args = ab_parser(runs=3).parse_args()
    roots = {"old": str(pathlib.Path(args.old).resolve()), "new": str(pathlib.Path(args.new).resolve())}
    env = {k: v for k, v in os.environ.items() if k != "TOK_LIBRARY"}
    for path in args.files:
        mb = os.path.getsize(path) / 1e6
        figures, digests = {"old": [], "new": []}, {}
        for k in range(args.runs):
            for name in (["old", "new"] if k % 2 == 0 else ["new", "old"]):
                out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", WORKER, roots[name], args.vocab, path],
                                     capture_output=True, text=True, env=env, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                figures[name].append(mb / r["seconds"])
                digests.setdefault(name, set()).add(r["digest"])
        same = len(digests["old"] | digests["new"]) == 1
        best = {name: max(f) for name, f in figures.items()}
        median = {name: statistics.median(f) for name, f in figures.items()}
        print(f"{pathlib.Path(path).name:16s} {mb:6.1f} MB  best: old {best['old']:6.1f} MB/s  new {best['new']:6.1f}  "
              f"new/old {best['new'] / best['old']:.2f}x  median: old {median['old']:6.1f}  new {median['new']:6.1f}  "
              f"new/old {median['new'] / median['old']:.2f}x  ids {'equal' if same else 'DIFFER'}", flush=True)


if __name__ == "__main__":
    main()
