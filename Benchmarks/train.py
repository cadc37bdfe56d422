#!/usr/bin/env python3
"""Training benchmark: `tok train` (counting + training) against HuggingFace's
BpeTrainer on the same corpus, pattern and vocabulary size, both on all cores.
Prints wall time, peak memory (max RSS) and the ratios per domain.

    python3 Benchmarks/train.py CORPORA_DIR [--domains zh,en,code,math] [--vocab-size 32000]
"""
import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOK = ROOT / ".build/release/tok"

HF_SCRIPT = r"""
import json, sys
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
regex, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
files = open(sys.argv[4]).read().split("\n")
model = Tokenizer(models.BPE())
model.pre_tokenizer = pre_tokenizers.Sequence([
    pre_tokenizers.Split(Regex(regex), behavior="isolated"),
    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
model.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=size, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
if sys.argv[5:] == ["whole-files"]:
    # Each file as one text, as tok reads it: train(files) reads line by line.
    model.train_from_iterator((open(f, encoding="utf-8", errors="replace").read() for f in files), trainer=trainer)
else:
    model.train(files, trainer=trainer)
model.save(out)
"""


def run(cmd):
    """Runs cmd; returns (seconds, peak RSS in MB) of the child alone."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execvp(cmd[0], [str(c) for c in cmd])
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed: {str(cmd[0])} {str(cmd[1])[:40]}...")
    return seconds, usage.ru_maxrss / 1024


def files_of(folder):
    return sorted(str(p) for p in pathlib.Path(folder).rglob("*") if p.is_file() and not p.name.startswith("."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora")
    ap.add_argument("--domains", default="zh,en,code,math")
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--pattern", default="tok")
    args = ap.parse_args()
    (regex,) = json.loads(subprocess.run([TOK, "pretokenize", "--pattern", args.pattern, "--print-regexes", "--hf"],
                                         check=True, capture_output=True).stdout)
    print(f"{'domain':8} {'MB':>7} {'HF s':>7} {'HF MB':>7} {'tok s':>7} {'tok MB':>7} {'speed-up':>9} {'memory':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for domain in args.domains.split(","):
            folder = pathlib.Path(args.corpora) / domain
            files = files_of(folder)
            mb = sum(os.path.getsize(f) for f in files) / 1e6
            listing = pathlib.Path(tmp) / "files.txt"
            listing.write_text("\n".join(files))
            hf_s, hf_mb = run([sys.executable, "-c", HF_SCRIPT, regex, args.vocab_size, f"{tmp}/hf.json", listing])
            tok_s, tok_mb = run([TOK, "train", folder, "--vocab-size", args.vocab_size, "--pattern", args.pattern,
                                 "--quiet", "-o", f"{tmp}/tok-{domain}", "--json"])
            print(f"{domain:8} {mb:7.1f} {hf_s:7.1f} {hf_mb:7.0f} {tok_s:7.1f} {tok_mb:7.0f} {hf_s / tok_s:8.2f}x "
                  f"{tok_mb / hf_mb:6.2f}x", flush=True)


if __name__ == "__main__":
    main()
