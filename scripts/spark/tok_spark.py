#!/usr/bin/env python3
"""Runs tok on Apache Spark: one task per input shard, on the executors.

    spark-submit --master local[2] scripts/spark/tok_spark.py count \\
        --tok .build/release/tok --output counts --hold-out 20 \\
        zh='shards/zh/*.jsonl.zst' en=shards/en code=shards/code math=shards/math

    spark-submit --master local[2] scripts/spark/tok_spark.py encode \\
        --tok .build/release/tok --vocab vocab/o200k --append-eod \\
        --output data/code 'shards/code/*.jsonl.zst'

The same script runs with --master yarn, k8s://... or spark://...: the driver
packs the tok binary and the vocabulary folder into one archive and ships it
with the job (SparkContext.addArchive, the programmatic form of
spark-submit's --archives), so executors need neither Swift nor the
vocabulary installed (build tok with `swift build -c release
--static-swift-stdlib`; executors need Debian's libicu72, libzstd1 and
libstdc++6). Inputs and --output are paths every executor sees (local paths
in local mode; a shared mount on a cluster).

encode: input shard k (in sorted path order) becomes OUTPUT-NNNNN.bin/.idx,
written by `tok encode --format megatron` on the executor (with its own
manifest, so a re-run task resumes or skips a finished shard); the driver then
writes OUTPUT.manifest.json listing every shard with its documents and tokens,
which `tok stats --dataset OUTPUT` reads and megatron-core's --data-path takes
shard by shard. A shard that fails (unreadable, truncated .zst) fails the job
with its name and tok's message.

count: each domain's shards (sorted path order is corpus order) are counted by
`tok count` on the executors, and the count files are added up in a tree of
`tok count --merge` tasks (--fan-in files a task) into OUTPUT/NAME.counts,
byte-identical to one `tok count` of all the domain's shards on one machine.
With --hold-out (tok build's 20 thousandths by default), a first, cheap pass
on the executors (`tok count --scan-held-out`: the sizes of the documents the
hash rule picks, nothing counted) and tok's plan over those scans on the driver
(`tok count --plan-held-out`) tell each shard how much the shards before it
held out, so the held-out documents, OUTPUT/NAME.heldout.txt, are exactly those
of a single-machine count or of `tok build` on the corpus, and `tok build
--domains zh=OUTPUT/zh.counts,...` evaluates on them. Intermediate files go to a work
folder under OUTPUT (which every executor must see), removed at the end; the
outputs appear, by rename, only when the whole job has succeeded. With
--superwords, every count and merge task also counts and adds up the superword
pieces of the same documents (`tok count --superwords`), into
OUTPUT/NAME.superwords.counts, for `tok build --superwords` from the counts.
"""
import argparse
import glob
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile

ARCHIVE = "tok-job.tar.gz"


def expand(patterns):
    files = set()
    for p in patterns:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                files.update(os.path.join(root, n) for n in names if not n.startswith("."))
        else:
            matched = glob.glob(p) if any(c in p for c in "*?[") else [p]
            if not matched or not all(os.path.exists(m) for m in matched):
                sys.exit(f"tok_spark: {p}: no such file")
            files.update(matched)
    return sorted(os.path.abspath(f) for f in files)


def pack(tok, vocab, work):
    """One archive with bin/tok (and vocab/): what the executors run."""
    path = os.path.join(work, ARCHIVE)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tok, arcname="bin/tok")
        if vocab:
            tar.add(vocab, arcname="vocab")
    return path


def shipped_tok():
    """On an executor: the tok binary from the job's archive."""
    from pyspark import SparkFiles
    return os.path.join(SparkFiles.get(ARCHIVE), "bin", "tok")


def run_tok(what, args):
    """On an executor: runs tok; a failure raises naming `what` (the shard) and tok's message."""
    r = subprocess.run([shipped_tok(), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{what}: {r.stderr.strip()}")
    return r.stdout


def count(args, spark):
    sc = spark.sparkContext
    domains = []
    for spec in args.domains:
        name, _, paths = spec.partition("=")
        if not name or not paths:
            sys.exit(f"tok_spark: domains are NAME=PATH[+PATH...], got '{spec}'")
        domains.append((name, expand(paths.split("+"))))
    if len({n for n, _ in domains}) != len(domains):
        sys.exit("tok_spark: a domain is named twice")
    output = os.path.abspath(args.output)
    os.makedirs(output, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".tok-spark-", dir=output)  # every executor sees it: it is under OUTPUT
    common = ["--pattern", args.pattern, "--field", args.field, "--threads", str(args.threads), "--quiet"]
    if args.strict:
        common.append("--strict")
    hold = ["--hold-out", str(args.hold_out), "--held-out-capacity", args.held_out_capacity] if args.hold_out else []
    superwords = ["--superwords"] if args.superwords else []
    try:
        sc.addArchive(pack(args.tok, None, work))
        tasks = [(name, k, path) for name, files in domains for k, path in enumerate(files)]
        # Pass 1: the held-out candidates' sizes, so each shard knows what the shards before it hold.
        before = {}
        if args.hold_out:
            scans = sc.parallelize(tasks, len(tasks)).map(
                lambda t: (t[0], t[1], run_tok(f"shard {t[2]}", ["count", *common, *hold, "--scan-held-out", t[2]]))
            ).collect()
            for name, _ in domains:
                files = []
                for _, k, scan in sorted(s for s in scans if s[0] == name):
                    files.append(os.path.join(work, f"{name}-scan-{k:06d}.json"))
                    pathlib.Path(files[-1]).write_text(scan)
                for k, part in enumerate(plan_held_out(args.tok, files, args.held_out_capacity)):
                    before[(name, k)] = part["heldOutBefore"]

        # Pass 2: count every shard.
        def count_shard(t):
            name, k, path = t
            out = os.path.join(work, f"{name}-0-{k:06d}.counts")
            extra = ["--held-out-before", str(before[(name, k)])] if args.hold_out else []
            run_tok(f"shard {path}", ["count", *common, *hold, *extra, *superwords, "--domain", name, path, "-o", out])
            return name, k, out
        counted = sc.parallelize(tasks, len(tasks)).map(count_shard).collect()
        level = {name: [out for _, _, out in sorted(c for c in counted if c[0] == name)] for name, _ in domains}
        # The merge tree: --fan-in files a task, level by level, all domains at once.
        depth = 0
        while any(len(files) > 1 for files in level.values()):
            depth += 1
            groups = [(name, i, files[i:i + args.fan_in]) for name, files in level.items() if len(files) > 1
                      for i in range(0, len(files), args.fan_in)]

            def merge_group(g, depth=depth):
                name, i, files = g
                out = os.path.join(work, f"{name}-{depth}-{i // args.fan_in:06d}.counts")
                run_tok(f"merging {len(files)} count files of {name}", ["count", "--merge", "--quiet", *superwords, *files, "-o", out])
                return name, i, out
            merged = sc.parallelize(groups, len(groups)).map(merge_group).collect()
            for name in level:
                if len(level[name]) > 1:
                    level[name] = [out for _, _, out in sorted(m for m in merged if m[0] == name)]
        for name, (final,) in level.items():
            held_out = final[:-len(".counts")] + ".heldout.txt"
            if os.path.exists(held_out):
                os.replace(held_out, os.path.join(output, f"{name}.heldout.txt"))
            if args.superwords:
                os.replace(final[:-len(".counts")] + ".superwords.counts", os.path.join(output, f"{name}.superwords.counts"))
            os.replace(final, os.path.join(output, f"{name}.counts"))
            print(f"{output}/{name}.counts: {len(dict(domains)[name])} shards, merge tree depth {depth}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def plan_held_out(tok, scans, capacity):
    """On the driver: tok's hold-out plan over a domain's shard scans (in corpus order), one part a shard."""
    r = subprocess.run([tok, "count", "--plan-held-out", "--held-out-capacity", capacity, *scans], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"tok_spark: planning the held-out text: {r.stderr.strip()}")
    plan = [json.loads(line) for line in r.stdout.splitlines()]
    assert [part["scan"] for part in plan] == scans, "a plan part for each scan, in order"
    return plan


def encode_shard(task, settings):
    """On an executor: tok encode one input into its shard; returns the shard's manifest."""
    from pyspark import SparkFiles
    k, source = task
    root = SparkFiles.get(ARCHIVE)
    tok = os.path.join(root, "bin", "tok")
    prefix = f"{settings['output']}-{k:05d}"
    cmd = [tok, "encode", "--vocab", os.path.join(root, "vocab"), "--format", "megatron", "--quiet",
           "--threads", str(settings["threads"]), "--field", settings["field"], source, "-o", prefix]
    if settings["append_eod"]:
        cmd.insert(6, "--append-eod")
    if settings["domain"]:
        cmd[6:6] = ["--domain", settings["domain"]]
    if settings["strict"]:
        cmd.insert(6, "--strict")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"shard {k} ({source}): {r.stderr.strip()}")
    with open(prefix + ".manifest.json") as f:
        return k, json.load(f), r.stderr.strip()


def encode(args, spark):
    sc = spark.sparkContext
    inputs = expand(args.inputs)
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    work = tempfile.mkdtemp(prefix="tok-spark-")
    try:
        sc.addArchive(pack(args.tok, args.vocab, work))
        settings = {"output": output, "append_eod": args.append_eod, "field": args.field, "domain": args.domain,
                    "strict": args.strict, "threads": args.threads}
        tasks = list(enumerate(inputs))
        results = sc.parallelize(tasks, len(tasks)).map(lambda t: encode_shard(t, settings)).collect()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results.sort(key=lambda r: r[0])
    first = results[0][1]
    shards, statistics = [], {}
    for k, manifest, warnings in results:
        for line in warnings.splitlines():
            print(f"tok_spark: shard {k}: {line}", file=sys.stderr)
        (shard,) = manifest["shards"]
        shard["start"] = {"file": k, "document": 0}
        shard["end"] = {"file": k + 1, "document": 0}
        for key, value in manifest["statistics"].items():
            statistics[key] = statistics.get(key, 0) + value
        shard["statisticsBeforeEndFile"] = dict(statistics)  # shards 0..k: the inputs before file k + 1
        shards.append(shard)
    combined = dict(first, inputs=inputs, shards=shards, statistics=statistics, complete=True,
                    vocabulary=os.path.abspath(args.vocab))
    tmp = output + ".manifest.json.tmp"
    with open(tmp, "w") as f:
        json.dump(combined, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, output + ".manifest.json")
    documents = sum(s["documents"] for s in shards)
    tokens = sum(s["tokens"] for s in shards)
    print(f"{output}: {len(shards)} shards, {documents} documents, {tokens} tokens")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("encode", help="encode shards into megatron-core indexed datasets")
    e.add_argument("inputs", nargs="+", help="input shards: files, folders, globs (.txt, .jsonl, .zst)")
    e.add_argument("--tok", default=str(pathlib.Path(__file__).resolve().parents[2] / ".build/release/tok"))
    e.add_argument("--vocab", required=True)
    e.add_argument("--output", required=True, help="the dataset prefix: OUTPUT-NNNNN shards and OUTPUT.manifest.json")
    e.add_argument("--append-eod", action="store_true")
    e.add_argument("--field", default="text")
    e.add_argument("--domain")
    e.add_argument("--strict", action="store_true")
    e.add_argument("--threads", type=int, default=1, help="tok threads per task (executor cores per task)")
    c = sub.add_parser("count", help="count each domain's shards into one count file per domain (and its held-out text)")
    c.add_argument("domains", nargs="+", help="NAME=PATH[+PATH...]: a domain's shards (files, folders, globs)")
    c.add_argument("--tok", default=str(pathlib.Path(__file__).resolve().parents[2] / ".build/release/tok"))
    c.add_argument("--output", required=True, help="folder for NAME.counts and NAME.heldout.txt")
    c.add_argument("--pattern", default="tok")
    c.add_argument("--field", default="text")
    c.add_argument("--strict", action="store_true")
    c.add_argument("--hold-out", type=int, default=20, help="thousandths of documents held out, as tok build (0: none)")
    c.add_argument("--held-out-capacity", default="4M")
    c.add_argument("--fan-in", type=int, default=16, help="count files one merge task adds up")
    c.add_argument("--threads", type=int, default=1, help="tok threads per task (executor cores per task)")
    c.add_argument("--superwords", action="store_true", help="also NAME.superwords.counts, for tok build --superwords")
    args = ap.parse_args()
    if args.command == "count" and args.fan_in < 2:
        sys.exit("tok_spark: --fan-in must be at least 2")
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName(f"tok {args.command}").getOrCreate()
    try:
        (count if args.command == "count" else encode)(args, spark)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
