#!/usr/bin/env python3
"""Encoding through Python: tok's package against the fastest encoders on PyPI.

    python3 Benchmarks/python_peers.py CORPORA [--vocab o200k=vocab/o200k ...] [--mixed-mb 100] [--domain-mb 20]

Installs the peers and tok's package (`pip install ./python`) into an
environment of their own (.build-python-peers: tiktoken, fastokens,
gigatoken, quicktok-v1, tokie, kitoken, toktok-rs) and runs each in a fresh
process. One core (taskset -c 0): one call over the mixed text (the four
domains of CORPORA interleaved by document, --mixed-mb) and over each domain
(--domain-mb), timing the call alone (load and reading excluded, for every
peer alike). With --in-process, instead: the fast engines taking turns in one
process on ten parts of the mixed text (CPU time, for a loaded machine), and
tok's batch on one thread and on all cores. A batch row: 10,000 documents of 1-4 KB cut from the mixed
text, one call, on one core and on all. tok is timed twice: returning a
list of ints (`enc.encode`, `enc.encode_batch`: what tiktoken and most peers
return) and a numpy array (`enc.encode_to_numpy`: what gigatoken returns),
so Python's own cost of making a list is seen apart from encoding. Every
encoder takes special tokens' text as ordinary text, as tiktoken's
`encode_ordinary` does (tok's numpy call with `disallowed_special=()`,
gigatoken with no special tokens), so none scans for them. Every
peer's ids are checked against tiktoken's (toktok gives counts only: its
count is checked). Prints MB/s and tok's ratio to the fastest peer of the
same output kind.
"""
import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

from benchlib import ROOT, TOK, attempt, exported, make_texts

VENV = ROOT / ".build-python-peers"
PEERS = {"tiktoken": "tiktoken==0.14.0", "fastokens": "fastokens==0.3.5", "gigatoken": "gigatoken==0.10.0",
         "quicktok": "quicktok-v1==0.4.0", "tokie": "tokie==0.1.4", "kitoken": "kitoken==0.11.1",
         "toktok": "toktok-rs==0.3.0"}
BUNDLED = {"o200k": "o200k_base", "cl100k": "cl100k_base"}  # what quicktok and toktok ship
NUMPY_OUTPUT = {"gigatoken", "tok numpy"}
COUNTS_ONLY = {"toktok"}


def ensure_venv():
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "numpy",
                    *PEERS.values(), str(ROOT / "python")], check=True)
    return python


def digest(ids):
    import numpy
    return hashlib.sha1(numpy.asarray(ids, dtype=numpy.uint32).tobytes()).hexdigest()


def load_peer(peer, vocab, ranks, hf, bundled):
    """(encode one text, encode a batch) for a peer: each returns ids (a list
    or a numpy array; for a batch, a list of them), or counts for toktok."""
    if peer == "tiktoken":
        import base64
        import tiktoken
        (pattern,) = json.loads((pathlib.Path(vocab) / "manifest.json").read_text())["regexes"]
        table = {}
        for line in pathlib.Path(ranks).read_bytes().splitlines():
            b64, rank = line.split()
            table[base64.b64decode(b64)] = int(rank)
        enc = tiktoken.Encoding("peer", pat_str=pattern, mergeable_ranks=table, special_tokens={})
        return enc.encode_ordinary, lambda docs, threads: enc.encode_ordinary_batch(docs, num_threads=threads)
    if peer in ("tok list", "tok numpy"):
        import tok
        enc = tok.load(vocab)
        if peer == "tok numpy":
            return (lambda s: enc.encode_to_numpy(s, disallowed_special=())), \
                lambda docs, threads: enc.encode_to_numpy(docs, threads=threads, disallowed_special=())[0]
        return enc.encode_ordinary, lambda docs, threads: enc.encode_ordinary_batch(docs, threads=threads)
    if peer == "fastokens":
        import fastokens
        t = fastokens.Tokenizer.from_file(hf)
        return (lambda s: t.encode_ordinary(s).ids), lambda docs, threads: [e.ids for e in t.encode_batch(docs, add_special_tokens=False)]
    if peer == "gigatoken":
        import gigatoken
        # Its tokenizer.json reader does not know cl100k's regex as tok writes it: the ranks file then.
        t = gigatoken.Tokenizer.from_tiktoken(ranks, pretokenizer=bundled.split("_")[0], special_tokens={}) if bundled \
            else gigatoken.Tokenizer(hf)
        return t.encode, lambda docs, threads: t.encode_batch_list(docs, parallel=threads > 1)
    if peer == "quicktok":
        import quicktok
        t = quicktok.get_encoding(bundled)
        return t.encode_ordinary, lambda docs, threads: t.encode_batch(docs)
    if peer == "tokie":
        import tokie
        t = tokie.Tokenizer.from_json(hf)
        return (lambda s: t.encode(s, add_special_tokens=False).ids), \
            lambda docs, threads: [e.ids for e in t.encode_batch(docs, add_special_tokens=False)]
    if peer == "kitoken":
        from kitoken import Kitoken
        t = Kitoken.from_tokenizers_file(hf)
        return t.encode, lambda docs, threads: t.encode_all(docs)
    if peer == "toktok":
        import toktok
        return (lambda s: toktok.batch_count([s], bundled, threads=1)[0]), \
            lambda docs, threads: toktok.batch_count(docs, bundled, threads=threads)
    raise SystemExit(f"unknown peer {peer}")


def worker(args):
    """In the benchmark's environment: load one peer, time one call, print one JSON line."""
    encode, batch = load_peer(args.worker, args.vocab, args.ranks, args.hf, args.bundled)
    if args.batch:
        docs = json.loads(pathlib.Path(args.text).read_text())
        batch(docs[:10], args.threads)  # thread pools started, first-call costs paid
        started = time.perf_counter()
        out = batch(docs, args.threads)
        seconds = time.perf_counter() - started
        if args.worker in COUNTS_ONLY:
            print(json.dumps({"seconds": seconds, "count": int(sum(out))}))
            return
        import numpy
        if isinstance(out, numpy.ndarray):
            flat = out  # tok's numpy batch: every document's ids, one after another
        else:
            flat = numpy.concatenate([numpy.asarray(x, dtype=numpy.uint32) for x in out]) if len(out) else []
        print(json.dumps({"seconds": seconds, "count": len(flat), "digest": digest(flat)}))
        return
    text = pathlib.Path(args.text).read_text(encoding="utf-8")
    encode("warm up")
    started = time.perf_counter()
    ids = encode(text)
    seconds = time.perf_counter() - started
    if args.worker in COUNTS_ONLY:
        print(json.dumps({"seconds": seconds, "count": ids}))
        return
    print(json.dumps({"seconds": seconds, "count": len(ids), "digest": digest(ids)}))


def in_process(args):
    """In the benchmark's environment: the engines taking turns on the ten
    parts of the mixed text (CPU seconds, so that a loaded machine's noise
    falls on all alike), then tok's batch on one thread and on all."""
    text = pathlib.Path(args.text).read_text(encoding="utf-8")
    step = len(text) // 10
    parts = [text[k * step:(k + 1) * step] for k in range(10)]
    names = ["tok numpy", "tok list", "fastokens", "gigatoken"] + (["quicktok"] if args.bundled else [])
    engines = {name: load_peer(name, args.vocab, args.ranks, args.hf, args.bundled)[0] for name in names}
    for encode in engines.values():
        encode("warm up")
    cpu = dict.fromkeys(engines, 0.0)
    for part in parts:
        for name, encode in engines.items():
            started = time.process_time()
            encode(part)
            cpu[name] += time.process_time() - started
    mb = len(text[:10 * step].encode()) / 1e6
    print("  turns on ten parts of the mixed text, MB/s of CPU time: "
          + ", ".join(f"{name} {mb / seconds:.1f}" for name, seconds in cpu.items()))
    import tok
    from tok._native import as_list, view
    enc = tok.load(args.vocab)
    result = enc._encode(parts[0], None, False)
    n = result.ids()[1]
    costs = {}
    for name, make in [("shared ints", lambda: as_list(result, enc._ints)), ("an int per id", lambda: view(*result.ids(), "I").tolist())]:
        started = time.process_time()
        made = make()
        costs[name] = (time.process_time() - started) / n * 1e9
        del made
    print(f"  a list of {n} ids: " + ", ".join(f"{name} {ns:.1f} ns an id" for name, ns in costs.items()))
    docs = json.loads((pathlib.Path(args.text).parent / "batch.json").read_text())
    mb = sum(len(d.encode()) for d in docs) / 1e6
    enc.encode_to_numpy(docs[:100])
    cores = len(os.sched_getaffinity(0))
    for name, call in [("numpy", enc.encode_to_numpy), ("lists", enc.encode_batch)]:
        figures = []
        for threads in [1, cores]:
            best, used = float("inf"), 0.0
            for _ in range(3):
                wall, cpu_started = time.perf_counter(), time.process_time()
                call(docs, threads=threads)
                if time.perf_counter() - wall < best:
                    best, used = time.perf_counter() - wall, time.process_time() - cpu_started
            figures.append(f"{threads} thread(s) {mb / best:.1f} MB/s ({used / best:.2f} cores busy)")
        print(f"  batch of {len(docs)} documents ({mb:.1f} MB), {name}: " + ", ".join(figures))


def short_documents(text, count=10_000):
    """`count` documents of 1-4 KB cut from `text` at line ends (cycling through it)."""
    docs, pos = [], 0
    while len(docs) < count:
        size = 1000 + (len(docs) * 7919) % 3000
        end = text.find("\n", pos + size)
        end = pos + size if end < 0 or end - pos > 4000 else end
        if end >= len(text):
            pos = 0
            continue
        docs.append(text[pos:end])
        pos = end
    return docs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora", nargs="?")
    ap.add_argument("--vocab", action="append", help="NAME=DIR (default: o200k and cl100k under vocab/)")
    ap.add_argument("--mixed-mb", type=float, default=100)
    ap.add_argument("--domain-mb", type=float, default=20)
    ap.add_argument("--work", default="/tmp/tok-python-peers")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each, taking turns; the best is kept")
    ap.add_argument("--worker")
    ap.add_argument("--text")
    ap.add_argument("--ranks")
    ap.add_argument("--hf")
    ap.add_argument("--bundled")
    ap.add_argument("--batch", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--peers", help="only these columns, comma-separated (e.g. 'gigatoken,tok numpy'); "
                                    "ids are then checked against the first of them unless tiktoken is one")
    ap.add_argument("--rows", help="only these rows, comma-separated (mixed, zh, en, code, math, batch)")
    ap.add_argument("--in-process", action="store_true",
                    help="instead of the table: the engines taking turns in one process, and tok's batch on 1 and all cores")
    ap.add_argument("--in-process-worker", action="store_true")
    args = ap.parse_args()
    if args.in_process_worker:
        args.vocab = args.vocab[0]
        return in_process(args)
    if args.worker:
        args.vocab = args.vocab[0]
        return worker(args)
    python = ensure_venv()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    texts = make_texts(args.corpora, args.mixed_mb, args.domain_mb, work)
    docs = short_documents(texts["mixed"].read_text(encoding="utf-8"))
    (work / "batch.json").write_text(json.dumps(docs))
    batch_mb = sum(len(d.encode()) for d in docs) / 1e6
    vocabs = dict(v.split("=", 1) for v in (args.vocab or ["o200k=vocab/o200k", "cl100k=vocab/cl100k"]))
    cores = len(os.sched_getaffinity(0))
    print(f"MB/s of text through Python, one call, the call alone timed; best of {args.rounds}; "
          f"one core: taskset -c 0; batch: 10,000 documents of 1-4 KB ({batch_mb:.1f} MB)")
    for vname, vdir in vocabs.items():
        files = exported(vname, vdir, work)
        if files is None:
            continue
        ranks, hf = files
        if args.in_process:
            print(f"\n{vname} ({vdir})", flush=True)
            subprocess.run([python, __file__, "--in-process-worker", "--vocab", vdir, "--text", texts["mixed"], "--ranks", ranks,
                            "--hf", hf, "--bundled", BUNDLED.get(vname, "")], check=True)
            continue
        peers = ["tiktoken", "fastokens", "gigatoken", "tokie", "kitoken"] + \
            (["quicktok", "toktok"] if vname in BUNDLED else [])
        columns = peers + ["tok list", "tok numpy"]
        if args.peers:
            wanted = args.peers.split(",")
            unknown = [p for p in wanted if p not in columns]
            if unknown:
                raise SystemExit(f"unknown peers {unknown}: choose from {columns}")
            columns = [p for p in columns if p in wanted]
            peers = [p for p in peers if p in wanted]
        print(f"\n{vname} ({vdir})")
        print(f"{'text':10s} {'MB':>6s} " + " ".join(f"{p:>10s}" for p in columns) + f" {'list/best':>10s} {'numpy/best':>11s}")
        rows = [(name, texts[name], False, 1, "0") for name in ["mixed", "zh", "en", "code", "math"]]
        rows += [("batch 1", work / "batch.json", True, 1, "0"), (f"batch {cores}", work / "batch.json", True, cores, f"0-{cores - 1}")]
        if args.rows:
            wanted = args.rows.split(",")
            rows = [r for r in rows if r[0] in wanted or (r[0].startswith("batch") and "batch" in wanted)]
        for label, path, is_batch, threads, pin in rows:
            mb = batch_mb if is_batch else path.stat().st_size / 1e6
            speeds, oks, reference = {}, {}, None
            for _ in range(args.rounds):
                for peer in columns:
                    out, err = attempt([python, __file__, "--worker", peer, "--vocab", vdir, "--text", path,
                                        "--ranks", ranks, "--hf", hf, "--bundled", BUNDLED.get(vname, ""),
                                        "--threads", threads, *(["--batch"] if is_batch else [])], pin)
                    if out is None:
                        speeds.setdefault(peer, "error")
                        print(f"  {peer}: {err}", file=sys.stderr)
                        continue
                    r = json.loads(out)
                    if peer == "tiktoken" or (reference is None and "tiktoken" not in columns):
                        reference = r
                    same = r["count"] == reference["count"] and r.get("digest", reference["digest"]) == reference["digest"]
                    oks[peer] = oks.get(peer, True) and same
                    speeds[peer] = max(speeds.get(peer, 0.0) if isinstance(speeds.get(peer), float) else 0.0, mb / r["seconds"])
            cells = [f"{speeds[p]:.1f}" + ("" if oks.get(p) else "!") if isinstance(speeds.get(p), float) else "error" for p in columns]

            def best(kinds):
                values = [speeds[p] for p in peers if p in kinds and isinstance(speeds.get(p), float) and oks.get(p)]
                return max(values) if values else 0.0
            list_peers = {p for p in peers if p not in NUMPY_OUTPUT and p not in COUNTS_ONLY}
            all_peers = {p for p in peers}
            ratio_list = speeds.get("tok list", 0) / best(list_peers) if best(list_peers) else 0
            ratio_numpy = speeds.get("tok numpy", 0) / best(all_peers) if best(all_peers) else 0
            print(f"{label:10s} {mb:6.1f} " + " ".join(f"{c:>10s}" for c in cells)
                  + f" {ratio_list:9.2f}x {ratio_numpy:10.2f}x", flush=True)
    print("\nlist/best: tok returning lists against the fastest peer returning lists; numpy/best: tok's numpy "
          "array against the fastest peer of any kind (lists, gigatoken's numpy, toktok's counts). "
          "'!': ids (or count) differ from tiktoken's")


if __name__ == "__main__":
    main()
