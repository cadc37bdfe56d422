#!/usr/bin/env python3
"""Two builds of tok, taking turns: is a change faster, slower, or within the noise?

    python3 Benchmarks/ab.py OLD_TOK NEW_TOK --vocab DIR FILE... [--runs 15] [--threads 1]

Each binary encodes each FILE (`tok encode --format u32`) from a copy of the
vocabulary folder of its own (a build may write tokenizer.bin in another
format), in turns (old, new, new, old, ...), --runs times each. Prints per file
the best wall time of each, old / new of the best wall and CPU times and of
the median CPU time (above 1: the new build is faster), and whether the ids are
equal. On a shared machine, run it more than once: differences under about 5%
are noise.
"""
import hashlib
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import time

from benchlib import ab_parser


def main():
    ap = ab_parser(runs=15)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tok-ab-") as work:
        work = pathlib.Path(work)
        builds = {}
        for name, binary in (("old", args.old), ("new", args.new)):
            vocab = work / f"vocab-{name}"
            shutil.copytree(args.vocab, vocab)
            builds[name] = (str(pathlib.Path(binary).resolve()), vocab, work / f"out-{name}.u32")

        def run(name, text):
            binary, vocab, out = builds[name]
            out.unlink(missing_ok=True)  # as the peers write nothing: no replaced file's blocks to free
            start = time.perf_counter()
            child = subprocess.Popen([binary, "encode", "--vocab", vocab, "--format", "u32", "--threads",
                                      str(args.threads), text, "-o", out], stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            if status != 0:
                raise SystemExit(f"ab: {binary} failed on {text}")
            return time.perf_counter() - start, usage.ru_utime + usage.ru_stime

        for name in builds:  # the first run writes the folder's tokenizer.bin
            run(name, args.files[0])
        print(f"{'file':24} {'MB':>6} {'old s':>7} {'new s':>7}  old/new: wall  cpu  cpu median  ids")
        for text in args.files:
            wall = {"old": [], "new": []}
            cpu = {"old": [], "new": []}
            digest = {}
            for i in range(args.runs):
                for name in ("old", "new") if i % 2 == 0 else ("new", "old"):
                    w, c = run(name, text)
                    wall[name].append(w)
                    cpu[name].append(c)
                    digest[name] = hashlib.sha1(builds[name][2].read_bytes()).hexdigest()
            mb = os.path.getsize(text) / 1e6
            print(f"{pathlib.Path(text).name:24} {mb:6.1f} {min(wall['old']):7.3f} {min(wall['new']):7.3f}"
                  f"  {min(wall['old']) / min(wall['new']):13.3f} {min(cpu['old']) / min(cpu['new']):5.3f}"
                  f" {statistics.median(cpu['old']) / statistics.median(cpu['new']):11.3f}"
                  f"  {'same' if digest['old'] == digest['new'] else 'DIFFER'}", flush=True)


if __name__ == "__main__":
    main()
