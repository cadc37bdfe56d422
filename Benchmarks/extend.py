#!/usr/bin/env python3
"""Extension benchmark: cl100k plus 20,000 tokens learned on Chinese (and, apart,
plus 5,000 on mathematics) with `tok extend`, against cl100k itself and against a
balanced vocabulary built from scratch by `tok build` on all four domains at the
size of the Chinese extension (cl100k's pattern, equal weights), measured with
`tok stats` on an evaluation set from other sources than any training text.

    python3 Benchmarks/extend.py [CORPORA] [EVAL] [--cl100k FILE] [--also NAME=VOCAB ...] [--json OUT]

CORPORA holds zh/ en/ code/ math/ (default: corpora, made by corpora/gather.py;
or ../shared/corpora/gather.sh's output), EVAL the same domains (default:
corpora/eval). The extensions learn on all of their domain's text
(--held-out-per-mille 0): the evaluation set is the held-out text. Prints
bytes/token per domain and vocabulary, each against cl100k's, the time and
peak memory of each run, and the floors of the extension issue: with 20,000
tokens, Chinese at least 1.35x cl100k's bytes/token, English and code at least
0.995x. Exits 1 when a floor is missed.
"""
import argparse
import json
import pathlib
import sys
import time

from benchlib import DOMAINS, ROOT, TOK, run

CACHE = ROOT / ".build-extend"
FLOORS = {"zh": 1.35, "en": 0.995, "code": 0.995}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora", nargs="?", default=str(ROOT / "corpora"))
    ap.add_argument("eval", nargs="?")
    ap.add_argument("--cl100k", default=str(ROOT / "vocab/reference/cl100k_base.tiktoken"))
    ap.add_argument("--zh-tokens", type=int, default=20000)
    ap.add_argument("--math-tokens", type=int, default=5000)
    ap.add_argument("--also", action="append", default=[], help="NAME=VOCAB: another vocabulary folder to measure")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    corpora = pathlib.Path(args.corpora)
    evaluation = pathlib.Path(args.eval) if args.eval else corpora / "eval"
    eval_spec = ",".join(f"{d}={evaluation / d}" for d in DOMAINS)
    CACHE.mkdir(exist_ok=True)
    base = CACHE / "cl100k"
    run([TOK, "import", args.cl100k, "--pattern", "cl100k", "-o", base])

    vocabularies = [("cl100k", base)]
    runs = {}
    for domain, tokens in [("zh", args.zh_tokens), ("math", args.math_tokens)]:
        out = CACHE / f"cl100k+{domain}"
        started = time.time()
        report = json.loads(run([TOK, "extend", "--vocab", base, "--domains", f"{domain}={corpora / domain}", "--add", tokens,
                                 "--held-out-per-mille", 0, "--eval", eval_spec, "--json", "-o", out]))
        runs[f"cl100k+{domain}"] = {"seconds": round(time.time() - started, 1), "peakMemoryMB": round(report["peakMemoryMB"]),
                                    "size": report["size"], "stages": report["seconds"]}
        vocabularies.append((f"cl100k+{tokens // 1000}k {domain}", out))
    size = runs["cl100k+zh"]["size"]
    scratch = CACHE / f"balanced-{size}"
    started = time.time()
    run([TOK, "build", "--domains", ",".join(f"{d}={corpora / d}" for d in DOMAINS), "--vocab-size", size,
         "--pattern", "cl100k", "--held-out-per-mille", 0, "--eval", eval_spec, "--quiet", "-o", scratch])
    runs["balanced"] = {"seconds": round(time.time() - started, 1)}
    vocabularies.append((f"balanced {size} (tok build)", scratch))
    vocabularies += [tuple(a.split("=", 1)) for a in args.also]

    stats = json.loads(run([TOK, "stats", "--json", "--domains", eval_spec] + [a for _, v in vocabularies for a in ("--vocab", v)]))
    # tok stats names each vocabulary by its path as given.
    figures = {name: {d: stats["results"][d][str(path)]["bytesPerToken"] for d in DOMAINS} for name, path in vocabularies}
    cl = figures["cl100k"]
    print(f"evaluation set {evaluation}: bytes/token (against cl100k)")
    print(f"{'vocabulary':32}" + "".join(f"{d:>17}" for d in DOMAINS))
    for name, _ in vocabularies:
        cells = [f"{figures[name][d]:.3f}" + ("" if name == "cl100k" else f" ({figures[name][d] / cl[d]:.3f}x)") for d in DOMAINS]
        print(f"{name:32}" + "".join(f"{c:>17}" for c in cells))
    for name, r in runs.items():
        print(f"{name}: {r['seconds']} s" + (f", peak memory {r['peakMemoryMB']} MB, {r['size']} ids" if "size" in r else ""))
    zh_name = vocabularies[1][0]
    missed = [d for d, floor in FLOORS.items() if figures[zh_name][d] / cl[d] < floor]
    print("floors (zh >= 1.35x, en and code >= 0.995x cl100k with 20,000 tokens): "
          + ("met" if not missed else "missed on " + ", ".join(missed)))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"bytesPerToken": figures, "runs": runs}, indent=2) + "\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
