#!/usr/bin/env python3
"""Runs tok on Apache Spark: one task per input shard, on the executors.

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
    """One archive with bin/tok and vocab/: what the executors run."""
    path = os.path.join(work, ARCHIVE)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tok, arcname="bin/tok")
        tar.add(vocab, arcname="vocab")
    return path


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
    args = ap.parse_args()
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName(f"tok {args.command}").getOrCreate()
    try:
        encode(args, spark)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
