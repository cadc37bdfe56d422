#!/usr/bin/env python3
"""Encoding against the fastest published encoders, side by side.

    python3 Benchmarks/peers.py CORPORA [--vocab o200k=vocab/o200k ...] [--mixed-mb 100] [--domain-mb 20]

Installs the peers from PyPI into their own environment (.build-peers:
tiktoken, tokenizers, fastokens, riptoken, bpe-openai, toktok-rs) and runs
each fresh, in its own process pinned to one core (taskset -c 0), making one
pass over: the four domains of CORPORA interleaved by document (--mixed-mb,
at least 100 MB) and each domain alone (--domain-mb). tok runs as a user runs
it: `tok encode --format u32 --threads 1` (start-up, vocabulary load, reading
and writing included), and on all cores for the mixed text. Every peer's ids
are checked against tiktoken's (toktok gives counts only: its count is
checked; bpe-openai refuses inputs over its length limit: "refuses"). Prints
MB/s and the ratio of tok to the fastest peer on each row.
"""
import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

from benchlib import ROOT, TOK, TOK_BENCH, attempt, exported, make_texts

VENV = ROOT / ".build-peers"
PEERS = {"tiktoken": "tiktoken==0.14.0", "tokenizers": "tokenizers==0.23.3", "fastokens": "fastokens==0.3.5",
         "riptoken": "riptoken==0.2.4", "bpe-openai": "bpe-openai==0.1.4", "toktok": "toktok-rs==0.3.0"}
BUNDLED = {"o200k": "o200k_base", "cl100k": "cl100k_base"}  # what bpe-openai and toktok ship
SLOW = {"tiktoken", "tokenizers"}  # the references: several times slower than the rest, run once


def ensure_venv():
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS.values()], check=True)
    return python


def ids_digest(ids):
    import array
    return hashlib.sha1(array.array("I", ids).tobytes()).hexdigest()


def worker(args):
    """In the peers' environment: load one peer, one timed pass, one JSON line."""
    text = pathlib.Path(args.text).read_text(encoding="utf-8")
    manifest = json.loads((pathlib.Path(args.vocab) / "manifest.json").read_text())
    (pattern,) = manifest["regexes"]
    started = time.perf_counter()
    count = None
    if args.peer in ("tiktoken", "riptoken"):
        import base64
        ranks = {}
        for line in pathlib.Path(args.ranks).read_bytes().splitlines():
            b64, rank = line.split()
            ranks[base64.b64decode(b64)] = int(rank)
        if args.peer == "tiktoken":
            import tiktoken
            enc = tiktoken.Encoding("peer", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        else:
            import riptoken
            enc = riptoken.CoreBPE(ranks, {}, pattern)
        encode = enc.encode_ordinary
    elif args.peer == "tokenizers":
        from tokenizers import Tokenizer
        t = Tokenizer.from_file(args.hf)
        encode = lambda s: t.encode(s, add_special_tokens=False).ids  # noqa: E731
    elif args.peer == "fastokens":
        import fastokens
        t = fastokens.Tokenizer.from_file(args.hf)
        encode = lambda s: t.encode_ordinary(s).ids  # noqa: E731
    elif args.peer == "bpe-openai":
        import bpe_openai
        encode = bpe_openai.get_encoding(args.bundled).encode_ordinary
    elif args.peer == "toktok":
        import toktok
        toktok.batch_count(["warm up"], args.bundled, threads=1)
        encode = None
    load = time.perf_counter() - started
    docs = json.loads(pathlib.Path(args.text + ".docs.json").read_text()) if args.short else None
    started = time.perf_counter()
    if docs is not None:
        total = 0
        for d in docs:
            total += len(encode(d)) if encode else toktok.batch_count([d], args.bundled, threads=1)[0]
        seconds = time.perf_counter() - started
        print(json.dumps({"load": load, "seconds": seconds, "count": total, "calls": len(docs)}))
        return
    if encode is None:
        count = toktok.batch_count([text], args.bundled, threads=1)[0]
        seconds = time.perf_counter() - started
        print(json.dumps({"load": load, "seconds": seconds, "count": count}))
        return
    ids = encode(text)
    seconds = time.perf_counter() - started
    print(json.dumps({"load": load, "seconds": seconds, "count": len(ids), "digest": ids_digest(ids)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora", nargs="?")
    ap.add_argument("--vocab", action="append", help="NAME=DIR (default: o200k, cl100k and balanced-153k under vocab/)")
    ap.add_argument("--mixed-mb", type=float, default=100)
    ap.add_argument("--domain-mb", type=float, default=20)
    ap.add_argument("--work", default="/tmp/tok-peers")
    ap.add_argument("--worker", dest="peer")
    ap.add_argument("--text")
    ap.add_argument("--ranks")
    ap.add_argument("--hf")
    ap.add_argument("--bundled")
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each fast peer and of tok, taking turns; the best is kept")
    ap.add_argument("--sentencepiece", action="store_true", help="SentencePiece BPE models instead: sentencepiece_peers.py")
    args = ap.parse_args()
    if args.sentencepiece:
        import sentencepiece_peers
        return sentencepiece_peers.benchmark(args.corpora, pathlib.Path(args.work) / "sentencepiece", args.mixed_mb,
                                             args.domain_mb)
    if args.peer:
        args.vocab = args.vocab[0]
        return worker(args)
    python = ensure_venv()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    texts = make_texts(args.corpora, args.mixed_mb, args.domain_mb, work)
    vocabs = dict(v.split("=", 1) for v in (args.vocab or ["o200k=vocab/o200k", "cl100k=vocab/cl100k",
                                                            "built=vocab/balanced-153k"]))
    cores = os.cpu_count()
    print(f"one core (taskset -c 0), fresh processes, one pass each, best of {args.rounds} round(s) "
          f"(tiktoken and tokenizers: one); MB/s of text; tok = `tok encode --format u32 --threads 1` end to end")
    for vname, vdir in vocabs.items():
        files = exported(vname, vdir, work)
        if files is None:
            continue
        ranks, hf = files
        peers = ["tiktoken", "tokenizers", "fastokens", "riptoken"] + (["bpe-openai", "toktok"] if vname in BUNDLED else [])
        print(f"\n{vname} ({vdir})")
        print(f"{'text':8s} {'MB':>6s} " + " ".join(f"{p:>11s}" for p in peers) + f" {'tok':>8s} {'tok/best':>9s}"
              + f" {'tok ' + str(cores) + ' cores':>12s}")
        for tname in ["mixed", "zh", "en", "code", "math", "short"]:
            path = texts[tname]
            mb = path.stat().st_size / 1e6
            # Rounds take turns, peers and tok alike, and each keeps its best:
            # the machine's noise (up to 1.8x between runs minutes apart) then
            # falls on all of them. The two slow references run once.
            reference, speeds, oks, tok_speed, ok, parallel = None, {}, {}, 0.0, False, 0.0
            for round_ in range(args.rounds):
                for peer in peers:
                    # Later rounds only for fast peers that answered (not "refuses" or "error").
                    if round_ > 0 and (peer in SLOW or not isinstance(speeds.get(peer), float)):
                        continue
                    out, err = attempt([python, __file__, "--worker", peer, "--vocab", vdir, "--text", path, "--ranks", ranks,
                                    "--hf", hf, "--bundled", BUNDLED.get(vname, ""), *(["--short"] if tname == "short" else [])], "0")
                    if out is None:
                        speeds.setdefault(peer, "refuses" if "too long" in (err or "") else "error")
                        continue
                    r = json.loads(out)
                    if peer == "tiktoken":
                        reference = r
                    oks[peer] = oks.get(peer, True) and (
                        r.get("digest", reference and reference.get("digest")) == (reference or {}).get("digest")
                        if "digest" in r else r["count"] == (reference or r)["count"])
                    speeds[peer] = max(speeds.get(peer, 0.0), mb / r["seconds"])
                if tname == "short":
                    out, err = attempt([TOK_BENCH, "--short", vdir, path], "0")
                    r = json.loads(out) if out else {}
                    tok_speed = max(tok_speed, mb / r["seconds"] if r else 0)
                    ok = r.get("count") == (reference or {}).get("count")
                else:
                    # The peers write nothing; replacing the last run's output would
                    # add the file system's freeing of it (1-14 ms for 20 MB here,
                    # a `discard` mount) to tok's time.
                    (work / "tok.u32").unlink(missing_ok=True)
                    start = time.perf_counter()
                    out, err = attempt([TOK, "encode", "--vocab", vdir, "--format", "u32", "--threads", 1, path, "-o", work / "tok.u32"], "0")
                    tok_speed = max(tok_speed, mb / (time.perf_counter() - start))
                    ok = hashlib.sha1((work / "tok.u32").read_bytes()).hexdigest() == (reference or {}).get("digest")
                    if tname == "mixed":
                        (work / "tok2.u32").unlink(missing_ok=True)
                        start = time.perf_counter()
                        attempt([TOK, "encode", "--vocab", vdir, "--format", "u32", path, "-o", work / "tok2.u32"], f"0-{cores - 1}")
                        parallel = max(parallel, mb / (time.perf_counter() - start))
            cells, best = [], 0.0
            for peer in peers:
                v = speeds.get(peer, "error")
                if isinstance(v, str):
                    cells.append(v)
                    continue
                best = max(best, v) if oks[peer] else best
                cells.append(f"{v:.1f}" + ("" if oks[peer] else "!"))
            print(f"{tname:8s} {mb:6.1f} " + " ".join(f"{c:>11s}" for c in cells)
                  + f" {tok_speed:7.1f}{'' if ok else '!'} {tok_speed / best if best else 0:8.2f}x"
                  + f" {f'{parallel:.1f}' if parallel else '':>12s}", flush=True)
    print("\n'!': ids (or count) differ from tiktoken's")


if __name__ == "__main__":
    main()
