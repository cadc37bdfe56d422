#!/usr/bin/env python3
"""Quality benchmark: balanced builds against one pooled BPE of the same size
trained by HuggingFace `tokenizers` on the same corpora, at equal pattern,
measured on evaluation text from sources the training corpora do not use.

    python3 Benchmarks/quality.py CORPORA EVAL [--pattern o200k] [--variant NAME='ARGS' ...]

CORPORA holds zh/ en/ code/ math/ (the project's `corpora`, or
../shared/corpora/gather.sh's output); EVAL holds the same domains
(`corpora/eval`, made by corpora/gather.py from other packages than both).
The pooled BPE is trained with `train_from_iterator` over whole files, so that
pieces span lines as they do in tok (`Tokenizer.train(files)` reads line by
line: no piece holds a newline followed by text, and it compresses 2-7% worse
here). Each variant is `tok build` with extra arguments, holding nothing out
(the evaluation set replaces held-out text). Prints bytes/token per domain,
the change against the pooled BPE, the geometric mean, and the quality
floors a balance must meet (geometric mean >= +1.5%, zh >= +5%, no domain below -1%).
"""
import argparse
import hashlib
import json
import math
import os
import pathlib
import shlex
import sys
import time

from benchlib import DOMAINS, HF_SCRIPT, ROOT, TOK, files_of, hf_regex, run

CACHE = ROOT / ".build-quality"


def pooled_hf(corpora, pattern, size):
    """Trains (or reuses) the pooled HF BPE; returns its imported folder."""
    files = [f for d in DOMAINS for f in files_of(corpora / d)]
    key = hashlib.sha256(json.dumps([pattern, size, [(f, os.path.getsize(f)) for f in files]]).encode()).hexdigest()[:16]
    folder = CACHE / f"hf-{pattern}-{key}"
    if not (folder / "tokenizer.json").exists():
        CACHE.mkdir(exist_ok=True)
        regex = hf_regex(pattern)
        listing = CACHE / f"files-{key}.txt"
        listing.write_text("\n".join(files))
        started = time.time()
        run([sys.executable, "-c", HF_SCRIPT, regex, size - 1, CACHE / f"hf-{key}.json", listing, "whole-files"])
        print(f"pooled HF BpeTrainer: {time.time() - started:.0f} s", file=sys.stderr)
        run([TOK, "import", CACHE / f"hf-{key}.json", "-o", folder])
    return folder


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora")
    ap.add_argument("eval")
    ap.add_argument("--pattern", default="o200k")
    ap.add_argument("--vocab-size", type=int, default=153376)
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME='tok build arguments' (default: balanced='')")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    corpora, evaluation = pathlib.Path(args.corpora), pathlib.Path(args.eval)
    variants = [v.split("=", 1) for v in args.variant] or [["balanced", ""]]
    spec = ",".join(f"{d}={corpora / d}" for d in DOMAINS)
    eval_spec = ",".join(f"{d}={evaluation / d}" for d in DOMAINS)
    vocabularies = [("pooled HF", pooled_hf(corpora, args.pattern, args.vocab_size))]
    for name, extra in variants:
        out = CACHE / f"v-{args.pattern}-{name}"
        started = time.time()
        run([TOK, "build", "--domains", spec, "--pattern", args.pattern, "--vocab-size", args.vocab_size,
             "--held-out-per-mille", 0, "--eval", eval_spec, "--quiet", "-o", out] + shlex.split(extra))
        print(f"{name}: {time.time() - started:.0f} s", file=sys.stderr)
        vocabularies.append((name, out))
    stats = json.loads(run([TOK, "stats", "--json", "--domains", eval_spec]
                           + [a for _, v in vocabularies for a in ("--vocab", v)]))
    # tok stats names each vocabulary by its folder's name (the paths here end differently).
    by_path = {}
    for m in stats["metrics"]:
        by_path[m["name"]] = by_path[str(pathlib.Path(m["name"]).name)] = m
    by_path.update({str(path): by_path[pathlib.Path(path).name] for _, path in vocabularies})
    sizes = {d: by_path[str(vocabularies[0][1])]["domains"][d]["bytes"] for d in DOMAINS}
    print(f"training corpora {corpora} ({', '.join(f'{d} {sum(map(os.path.getsize, files_of(corpora / d))) / 1e6:.0f} MB' for d in DOMAINS)}); "
          f"evaluation {evaluation} ({', '.join(f'{d} {sizes[d] / 1e6:.1f} MB' for d in DOMAINS)}); "
          f"pattern {args.pattern}; {args.vocab_size} ids")
    print("bytes/token on the evaluation set, and the change against the pooled HF BPE:")
    print(f"{'vocabulary':24}" + "".join(f"{d:>17}" for d in DOMAINS) + f"{'geomean':>10}  floors")
    base = by_path[str(vocabularies[0][1])]["domains"]
    rows = {}
    for name, path in vocabularies:
        m = by_path[str(path)]["domains"]
        gains = {d: m[d]["bytesPerToken"] / base[d]["bytesPerToken"] - 1 for d in DOMAINS}
        geomean = math.exp(sum(math.log(1 + g) for g in gains.values()) / len(gains)) - 1
        ok = geomean >= 0.015 and gains["zh"] >= 0.05 and min(gains.values()) >= -0.01
        cells = "".join(f"{m[d]['bytesPerToken']:8.3f} ({gains[d] * 100:+5.1f}%)" for d in DOMAINS)
        print(f"{name:24}{cells}{geomean * 100:+9.2f}%  {'' if name == 'pooled HF' else ('met' if ok else 'not met')}")
        rows[name] = {"bytesPerToken": {d: m[d]["bytesPerToken"] for d in DOMAINS}, "gains": gains, "geomean": geomean}
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
