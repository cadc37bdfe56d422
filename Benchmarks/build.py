#!/usr/bin/env python3
"""Build benchmark: the whole default `tok build` (no --compare-pooled), with
each stage's time and the peak memory, against one HuggingFace BpeTrainer run
over the pooled corpora to the same size (all cores for both).

    python3 Benchmarks/build.py CORPORA_DIR [--vocab-size 153376]
"""
import argparse
import json
import os
import pathlib
import sys
import tempfile

from benchlib import HF_SCRIPT, TOK, files_of, hf_regex, measured


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora")
    ap.add_argument("--domains", default="zh,en,code,math")
    ap.add_argument("--vocab-size", type=int, default=153376)
    args = ap.parse_args()
    domains = args.domains.split(",")
    root = pathlib.Path(args.corpora)
    regex = hf_regex("tok")
    with tempfile.TemporaryDirectory() as tmp:
        spec = ",".join(f"{d}={root / d}" for d in domains)
        tok_s, tok_mb = measured([TOK, "build", "--domains", spec, "--vocab-size", args.vocab_size, "--quiet", "-o", f"{tmp}/v"])
        report = json.loads(pathlib.Path(f"{tmp}/v/build-report.json").read_text())
        files = [f for d in domains for f in files_of(root / d)]
        mb = sum(os.path.getsize(f) for f in files) / 1e6
        listing = pathlib.Path(tmp) / "files.txt"
        listing.write_text("\n".join(files))
        hf_s, hf_mb = measured([sys.executable, "-c", HF_SCRIPT, regex, args.vocab_size, f"{tmp}/hf.json", listing])
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(report["seconds"].items()) if k != "total")
    print(f"corpora: {mb:.0f} MB ({', '.join(domains)}), vocabulary {args.vocab_size}")
    print(f"tok build:             {tok_s:7.1f} s  {tok_mb:7.0f} MB peak   ({stages})")
    print(f"HuggingFace, pooled:   {hf_s:7.1f} s  {hf_mb:7.0f} MB peak")
    print(f"tok is {hf_s / tok_s:.2f}x faster at {tok_mb / hf_mb:.2f}x the peak memory")


if __name__ == "__main__":
    main()
