#!/usr/bin/env python3
"""Scale benchmarks: corpora far larger than the ones we have, made by
tok-scale-corpus (an order-k model of the real corpora), and `tok build` on
them within a memory budget.

    python3 Benchmarks/scale.py growth                 # generated vs real: distinct pieces, piece and Han run lengths
    python3 Benchmarks/scale.py generate DATA --per-domain 4G
    python3 Benchmarks/scale.py build DATA --sizes 1,4,16 --memory default,4G [--hf 1]
    python3 Benchmarks/scale.py shards DATA            # per-shard count, scan and merge costs, for planning a cluster run

`generate` writes DATA/<domain>/part-NNNNN.txt (256 MiB shards) for zh, en,
code and math with each domain's model settings below; `build` takes the first
shards of each domain for a total of 1, 4, 16 GiB (a quarter per domain), runs
the default `tok build` at each memory budget and prints wall time and
throughput per stage and the peak RSS; `--hf SIZES` also runs HuggingFace's
BpeTrainer (all cores) on the same files at those sizes, with a time limit.
Everything is measured on this machine, side by side, one run at a time.
"""
import argparse
import json
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile
import time

from benchlib import DOMAINS, HF_SCRIPT, ROOT, TOK, files_of, hf_regex, parse_size, timed

GENERATOR = ROOT / ".build/release/tok-scale-corpus"
# Order (bytes of context) and jump rate per domain: the settings whose distinct
# pieces grow like the real corpus's (`growth` prints the comparison).
SETTINGS = {"zh": (9, 0.5), "en": (6, 0.2), "code": (7, 0.2), "math": (6, 0.2)}
SHARD = 256 << 20


def generator(model, size, out, domain, seed):
    order, jump = SETTINGS[domain]
    subprocess.run([GENERATOR, "--model", model, "--size", str(size), "--order", str(order), "--jump", str(jump),
                    "--seed", str(seed), "--shard-size", str(SHARD), "-o", out], check=True, stdout=subprocess.DEVNULL)


def shuffled_documents(folder):
    """The real corpus's documents (blank-line separated), in a fixed random order: a homogeneous sample at any prefix."""
    data = b"".join(pathlib.Path(f).read_bytes() + b"\n\n" for f in files_of(folder))
    docs = [d for d in re.split(rb"\n\n+", data) if d.strip()]
    random.Random(1).shuffle(docs)
    return b"\n\n".join(docs)


def piece_statistics(text, tmp):
    """Distinct pieces, bytes per piece, and (for Han) the mean length of Han runs in characters."""
    path = pathlib.Path(tmp) / "sample.txt"
    path.write_bytes(text)
    meta = json.loads(subprocess.run([TOK, "count", path, "-o", f"{tmp}/sample.counts", "--json", "--quiet"],
                                     check=True, capture_output=True).stdout)
    runs = re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", text.decode("utf-8", "replace"))
    han = sum(map(len, runs)) / len(runs) if runs else 0
    return meta["distinctPieces"], meta["statistics"]["bytes"] / max(meta["pieces"], 1), han


def growth(args):
    sizes = [int(float(s) * 1e6) for s in args.sizes.split(",")]
    print(f"{'domain':6} {'MB':>5}  {'distinct pieces: real':>21} {'generated':>10} {'ratio':>6}   "
          f"{'bytes/piece: real':>17} {'gen':>5}   {'Han run: real':>13} {'gen':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for domain in args.domains.split(","):
            real = shuffled_documents(pathlib.Path(args.corpora) / domain)
            generator(pathlib.Path(args.corpora) / domain, max(sizes) + (1 << 20), f"{tmp}/gen", domain, 1)
            generated = b"".join(pathlib.Path(f).read_bytes() for f in files_of(f"{tmp}/gen"))
            for size in sizes:
                if size > len(real):
                    continue
                r = piece_statistics(real[:size], tmp)
                g = piece_statistics(generated[:size], tmp)
                han = f"{r[2]:13.2f} {g[2]:5.2f}" if domain == "zh" else f"{'-':>13} {'-':>5}"
                print(f"{domain:6} {size / 1e6:5.0f}  {r[0]:21d} {g[0]:10d} {g[0] / r[0]:6.2f}   {r[1]:17.2f} {g[1]:5.2f}   {han}",
                      flush=True)
            subprocess.run(["rm", "-rf", f"{tmp}/gen"], check=True)


def generate(args):
    for k, domain in enumerate(DOMAINS):
        start = time.perf_counter()
        generator(pathlib.Path(args.corpora) / domain, parse_size(args.per_domain), f"{args.data}/{domain}", domain, k + 1)
        print(f"{args.data}/{domain}: {args.per_domain} in {time.perf_counter() - start:.0f} s", flush=True)


def shards_for(data, gib):
    """The first shards of each domain making up `gib` GiB in all, a quarter per domain."""
    per_domain = gib * (1 << 30) // 4 // SHARD
    picked = {}
    for domain in DOMAINS:
        files = files_of(pathlib.Path(data) / domain)[:per_domain]
        if len(files) < per_domain:
            sys.exit(f"{data}/{domain}: {len(files)} shards, {per_domain} needed (run generate first)")
        picked[domain] = files
    return picked


def build(args):
    sizes = [int(s) for s in args.sizes.split(",")]
    budgets = [b for b in args.memory.split(",") if b]  # none: only HF
    hf_sizes = [int(s) for s in args.hf.split(",")] if args.hf else []
    regex = hf_regex("tok")
    print(f"{'GiB':>4} {'budget':>7} {'total s':>8} {'s/GiB':>6} {'count MB/s':>10} {'count s':>8} {'joint s':>8} "
          f"{'train s':>8} {'eval s':>7} {'peak RSS MB':>11}  reduced (distinct / mass)", flush=True)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for gib in sizes:
            picked = shards_for(args.data, gib)
            spec = ",".join(f"{d}={'+'.join(files)}" for d, files in picked.items())
            total_bytes = sum(os.path.getsize(f) for files in picked.values() for f in files)
            for budget in budgets:
                out = f"{tmp}/v-{gib}-{budget}"
                cmd = [TOK, "build", "--domains", spec, "--vocab-size", "153376", "-o", out]
                if budget != "default":
                    cmd += ["--memory", budget]
                seconds, rss, status = timed(cmd)
                if status != 0:
                    print(f"{gib:4d} {budget:>7} failed ({status})", flush=True)
                    continue
                report = json.loads(pathlib.Path(out, "build-report.json").read_text())
                s = report["seconds"]
                reduced = ", ".join(f"{k} {r['droppedPieces'] / r['distinctPieces'] * 100:.0f}% / "
                                    f"{r['droppedMass'] / max(r['pieceMass'], 1) * 100:.1f}%"
                                    for k, r in sorted(report.get("reductions", {}).items())) or "none"
                print(f"{gib:4d} {budget:>7} {seconds:8.0f} {seconds / gib:6.0f} {total_bytes / 1e6 / s['count']:10.1f} "
                      f"{s['count']:8.0f} {s['joint']:8.0f} {s['train']:8.0f} {s['evaluate']:7.1f} {rss:11.0f}  {reduced}",
                      flush=True)
                summary = {d["name"]: round(d["merged"]["bytesPerToken"], 4) for d in report["domains"] if d.get("merged")}
                print(f"     held-out bytes/token: {summary}", flush=True)
                subprocess.run(["rm", "-rf", out])
            if gib in hf_sizes:
                listing = pathlib.Path(tmp) / "files.txt"
                listing.write_text("\n".join(f for files in picked.values() for f in files))
                seconds, rss, status = timed([sys.executable, "-c", HF_SCRIPT, regex, 153376, f"{tmp}/hf.json", listing],
                                             limit=args.hf_limit)
                verdict = "completed" if status == 0 else f"did not complete ({status})"
                print(f"{gib:4d}      HF BpeTrainer: {seconds:.0f} s, {seconds / gib:.0f} s/GiB, peak RSS {rss:.0f} MB, {verdict}",
                      flush=True)


def shards(args):
    """Per-shard costs for planning a cluster run: `tok count` (one thread) of a shard of each domain, the
    held-out scan of it, and `tok count --merge` of several such count files."""
    size = parse_size(args.shard_size)
    print(f"{'domain':6} {'shard MB':>8} {'count s':>8} {'MB/s':>6} {'RSS MB':>7} {'counts MB':>9} {'scan s':>7} "
          f"{'merge of ' + str(args.merge) + ' s':>12} {'merged MB':>9}", flush=True)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for domain in DOMAINS:
            source = pathlib.Path(files_of(pathlib.Path(args.data) / domain)[0])
            counts, times, rss_max, scan = [], [], 0, 0
            with open(source, "rb") as f:
                for k in range(args.merge):
                    shard = pathlib.Path(tmp) / f"{domain}-{k}.txt"
                    shard.write_bytes(f.read(size))
                    out = pathlib.Path(tmp) / f"{domain}-{k}.counts"
                    seconds, rss, status = timed([TOK, "count", "--threads", 1, "--hold-out", 20, "--quiet", shard, "-o", out])
                    assert status == 0
                    times.append(seconds)
                    rss_max = max(rss_max, rss)
                    if k == 0:
                        scan, _, _ = timed([TOK, "count", "--hold-out", 20, "--scan-held-out", shard])
                    counts.append(out)
                    shard.unlink()
            merged = pathlib.Path(tmp) / f"{domain}.counts"
            merge_s, _, status = timed([TOK, "count", "--merge", "--quiet", *counts, "-o", merged])
            assert status == 0
            count_mb = sum(os.path.getsize(c) for c in counts) / len(counts) / 1e6
            t = sum(times) / len(times)
            print(f"{domain:6} {size / 1e6:8.0f} {t:8.1f} {size / 1e6 / t:6.1f} {rss_max:7.0f} {count_mb:9.1f} {scan:7.2f} "
                  f"{merge_s:12.1f} {os.path.getsize(merged) / 1e6:9.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("growth")
    g.add_argument("--corpora", default=str(ROOT / "corpora"))
    g.add_argument("--domains", default="zh,en,code,math")
    g.add_argument("--sizes", default="2,5,10,20", help="MB")
    n = sub.add_parser("generate")
    n.add_argument("data")
    n.add_argument("--corpora", default=str(ROOT / "corpora"))
    n.add_argument("--per-domain", default="4G")
    b = sub.add_parser("build")
    b.add_argument("data")
    b.add_argument("--sizes", default="1,4,16", help="GiB in all, a quarter per domain")
    b.add_argument("--memory", default="default,4G")
    b.add_argument("--hf", default="", help="sizes at which to run HuggingFace's BpeTrainer too")
    b.add_argument("--hf-limit", type=float, default=3600, help="seconds before HF's run is stopped")
    b.add_argument("--work", default=None, help="folder for the built vocabularies (default: $TMPDIR)")
    h = sub.add_parser("shards")
    h.add_argument("data")
    h.add_argument("--shard-size", default="100M")
    h.add_argument("--merge", type=int, default=4, help="shards counted per domain, then merged")
    h.add_argument("--work", default=None)
    args = ap.parse_args()
    {"growth": growth, "generate": generate, "build": build, "shards": shards}[args.command](args)


if __name__ == "__main__":
    main()
