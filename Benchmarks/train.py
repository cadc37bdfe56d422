#!/usr/bin/env python3
"""Training benchmark: `tok train` (counting + training) against HuggingFace's
BpeTrainer on the same corpus, pattern and vocabulary size, both on all cores.
Prints wall time, peak memory (max RSS) and the ratios per domain.

    python3 Benchmarks/train.py CORPORA_DIR [--domains zh,en,code,math] [--vocab-size 32000]
"""
import argparse
import os
import pathlib
import sys
import tempfile

from benchlib import HF_SCRIPT, TOK, files_of, hf_regex, measured


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora")
    ap.add_argument("--domains", default="zh,en,code,math")
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--pattern", default="tok")
    args = ap.parse_args()
    regex = hf_regex(args.pattern)
    print(f"{'domain':8} {'MB':>7} {'HF s':>7} {'HF MB':>7} {'tok s':>7} {'tok MB':>7} {'speed-up':>9} {'memory':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for domain in args.domains.split(","):
            folder = pathlib.Path(args.corpora) / domain
            files = files_of(folder)
            mb = sum(os.path.getsize(f) for f in files) / 1e6
            listing = pathlib.Path(tmp) / "files.txt"
            listing.write_text("\n".join(files))
            hf_s, hf_mb = measured([sys.executable, "-c", HF_SCRIPT, regex, args.vocab_size, f"{tmp}/hf.json", listing])
            tok_s, tok_mb = measured([TOK, "train", folder, "--vocab-size", args.vocab_size, "--pattern", args.pattern,
                                 "--quiet", "-o", f"{tmp}/tok-{domain}", "--json"])
            print(f"{domain:8} {mb:7.1f} {hf_s:7.1f} {hf_mb:7.0f} {tok_s:7.1f} {tok_mb:7.0f} {hf_s / tok_s:8.2f}x "
                  f"{tok_mb / hf_mb:6.2f}x", flush=True)


if __name__ == "__main__":
    main()
