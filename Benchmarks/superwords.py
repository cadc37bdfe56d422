#!/usr/bin/env python3
"""Superword vocabularies against the plain build of the same size: for each
transition point T (a share of the ids learned as ordinary BPE first), the
evaluation set's bytes/token per domain and its ratio to the plain build's,
the build's time and peak memory; then one core's encoding speed (tok-bench,
best of 3, pinned to one core) of the plain vocabulary and of a superword one
on each domain's evaluation text, the two taking turns for --rounds rounds:
the best of each, and the range of the rounds' ratios (this machine's noise
moves a single run's figure by a third).

    python3 Benchmarks/superwords.py CORPORA_DIR --eval EVAL_DIR [--vocab-size 153376]
        [--shares 0.6,0.7,0.8,0.9] [--max-words 4] [--speed-share 0.8] [--rounds 5] [--keep DIR]
"""
import argparse
import json
import pathlib
import subprocess
import tempfile

from benchlib import DOMAINS, TOK, TOK_BENCH, files_of, measured, pinned


def build(out, spec, evaluation, size, extra):
    seconds, peak = measured([TOK, "build", "--domains", spec, "--eval", evaluation, "--vocab-size", size,
                              "--quiet", *extra, "-o", out])
    return json.loads((pathlib.Path(out) / "build-report.json").read_text()), seconds, peak


def speed(vocab, files):
    r = subprocess.run(pinned([TOK_BENCH, vocab, *files], cores="0"), capture_output=True, text=True, check=True)
    return {pathlib.Path(f["file"]).stem: f for f in json.loads(r.stdout)["files"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora")
    ap.add_argument("--eval", required=True)
    ap.add_argument("--vocab-size", type=int, default=153376)
    ap.add_argument("--shares", default="0.6,0.7,0.8,0.9")
    ap.add_argument("--max-words", type=int, default=4)
    ap.add_argument("--speed-share", type=float, default=0.8, help="the superword build whose encoding speed is measured")
    ap.add_argument("--rounds", type=int, default=5, help="turns of the two vocabularies' speed runs")
    ap.add_argument("--keep", help="keep the vocabularies in this folder")
    args = ap.parse_args()
    root, ev = pathlib.Path(args.corpora), pathlib.Path(args.eval)
    spec = ",".join(f"{d}={root / d}" for d in DOMAINS)
    evaluation = ",".join(f"{d}={ev / d}" for d in DOMAINS)
    bpe_ids = args.vocab_size - 1  # one special token
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        plain, plain_s, plain_mb = build(work / "plain", spec, evaluation, args.vocab_size, [])
        print(f"corpora {root}, evaluation {ev}, {args.vocab_size} ids, --max-words {args.max_words}")
        print(f"{'T':>7} {'share':>5} " + " ".join(f"{d + ' b/t':>9} {'x plain':>7}" for d in DOMAINS) + f" {'build s':>8} {'peak MB':>8}")
        row = {d["name"]: d["merged"]["bytesPerToken"] for d in plain["domains"]}
        print(f"{'plain':>7} {1.0:5.2f} " + " ".join(f"{row[d]:9.3f} {1.0:7.3f}" for d in DOMAINS) + f" {plain_s:8.1f} {plain_mb:8.0f}")
        speed_vocab = None
        for share in [float(s) for s in args.shares.split(",")]:
            t = 256 + round((bpe_ids - 256) * share)
            out = work / f"sw-{share:.2f}"
            report, seconds, peak = build(out, spec, evaluation, args.vocab_size,
                                          ["--superwords", t, "--max-words", args.max_words])
            cells = []
            for d in report["domains"]:
                assert d["plain"]["bytesPerToken"] == row[d["name"]], "the report's plain build is the plain build"
                cells.append(f"{d['merged']['bytesPerToken']:9.3f} {d['merged']['bytesPerToken'] / row[d['name']]:7.3f}")
            stage = report["seconds"].get("superwords", 0)
            print(f"{t:7d} {share:5.2f} " + " ".join(cells) + f" {seconds:8.1f} {peak:8.0f}   (superword stage {stage:.1f} s)")
            if abs(share - args.speed_share) < 1e-9:
                speed_vocab = out
        if speed_vocab is None:
            return
        texts = []
        for d in DOMAINS:
            path = work / f"eval-{d}.txt"
            path.write_bytes(b"".join(pathlib.Path(f).read_bytes() for f in files_of(ev / d)))
            texts.append(str(path))
        rounds = [(speed(work / "plain", texts), speed(speed_vocab, texts)) for _ in range(args.rounds)]
        a = {d: max((r[0][d] for r in rounds), key=lambda f: f["mb_per_s"]) for d in rounds[0][0]}
        b = {d: max((r[1][d] for r in rounds), key=lambda f: f["mb_per_s"]) for d in rounds[0][1]}
        print(f"\none core, tok-bench best of 3, {args.rounds} rounds taking turns: the best MB/s of the plain "
              f"vocabulary and of {speed_vocab.name}, their ratio, and the range of the rounds' ratios")
        for d in DOMAINS:
            x, y = a[f"eval-{d}"], b[f"eval-{d}"]
            ratios = [r[1][f"eval-{d}"]["mb_per_s"] / r[0][f"eval-{d}"]["mb_per_s"] for r in rounds]
            print(f"{d:5} {x['bytes'] / 1e6:6.1f} MB  plain {x['mb_per_s']:7.1f}  superwords {y['mb_per_s']:7.1f}  "
                  f"ratio {y['mb_per_s'] / x['mb_per_s']:.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})  "
                  f"tokens {y['tokens'] / x['tokens']:.3f}x")
        total = sum(a[f"eval-{d}"]["bytes"] for d in DOMAINS)
        ta = sum(a[f"eval-{d}"]["seconds"] for d in DOMAINS)
        tb = sum(b[f"eval-{d}"]["seconds"] for d in DOMAINS)
        print(f"all   {total / 1e6:6.1f} MB  plain {total / 1e6 / ta:7.1f}  superwords {total / 1e6 / tb:7.1f}  ratio {ta / tb:.2f}")


if __name__ == "__main__":
    main()
