#!/usr/bin/env python3
"""Training-data benchmark: the whole path (read, parse, encode, write) from
JSON lines to a megatron-core indexed dataset.

    python3 Benchmarks/dataset.py --vocab vocab/o200k CORPUS_DIR [--mb 100]

Builds one .jsonl of documents (paragraphs of every domain folder in
CORPUS_DIR, interleaved, about --mb MB) and times, on the same file and
vocabulary: megatron-core's own path as tools/preprocess_data.py runs it
(HuggingFace tokenizers in 2 worker processes feeding IndexedDatasetBuilder),
`tok encode --format megatron` on 1 thread and on all threads (pinned to the
cores with taskset; best of three), and the tok library alone on the same
text (tok-bench, best of three), and checks that the datasets are
byte-identical.
"""
import argparse
import json
import multiprocessing
import os
import pathlib
import subprocess
import time
import warnings

from benchlib import ROOT, TOK, TOK_BENCH, best_of, pinned


def build_corpus(root, mb, out):
    domains = sorted(p for p in pathlib.Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))
    per = []
    for d in domains:
        text = b"".join(f.read_bytes() for f in sorted(d.iterdir()) if f.is_file() and not f.name.startswith("."))
        docs = [x.decode("utf-8", "replace") for x in text.split(b"\n\n") if x.strip()]
        if docs:
            per.append(docs)
    lines, size, k = [], 0, 0
    while size < mb * 1e6:
        for docs in per:
            doc = docs[k % len(docs)]
            lines.append(json.dumps({"text": doc}, ensure_ascii=False))
            size += len(doc.encode())
        k += 1
    out.write_text("\n".join(lines) + "\n")
    return size


_tokenizer = None


def _init(path):
    global _tokenizer
    from tokenizers import Tokenizer
    _tokenizer = Tokenizer.from_file(path)


def _encode(line):
    ids = _tokenizer.encode(json.loads(line)["text"], add_special_tokens=False).ids
    return ids, len(line)


def megatron_path(jsonl, hf_json, prefix, workers, eod):
    warnings.filterwarnings("ignore")
    from megatron.core.datasets.indexed_dataset import DType, IndexedDatasetBuilder
    from tokenizers import Tokenizer
    size = Tokenizer.from_file(hf_json).get_vocab_size()
    start = time.perf_counter()
    builder = IndexedDatasetBuilder(prefix + ".bin", dtype=DType.optimal_dtype(size))
    with open(jsonl, encoding="utf-8") as f, multiprocessing.Pool(workers, initializer=_init, initargs=(hf_json,)) as pool:
        for ids, _ in pool.imap(_encode, f, 32):
            if ids:
                ids.append(eod)
            builder.add_document(ids, [len(ids)] if ids else [])
    builder.finalize(prefix + ".idx")
    return time.perf_counter() - start


def timed(cmd, cores, output, runs=3):
    """Best of `runs` (tok-bench takes the best of three too: the machine is shared)."""
    def once():
        for old in output.parent.glob(output.name + ".*"):
            old.unlink()  # a complete dataset of the same run would be resumed, not written
        subprocess.run(pinned(cmd, cores), check=True, stdout=subprocess.DEVNULL)
    return best_of(runs, once)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora")
    ap.add_argument("--vocab", default=str(ROOT / "vocab/o200k"))
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--work", default="/tmp/tok-megatron-bench")
    args = ap.parse_args()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    jsonl = work / "docs.jsonl"
    text_bytes = build_corpus(args.corpora, args.mb, jsonl)
    hf_json = str(work / "tokenizer.json")
    subprocess.run([TOK, "export", "--vocab", args.vocab, "--format", "hf", "-o", hf_json], check=True)
    from tokenizers import Tokenizer
    eod = Tokenizer.from_file(hf_json).token_to_id("<|endoftext|>")
    cores = os.cpu_count()
    all_cores = f"0-{cores - 1}"
    rows = []
    t = megatron_path(str(jsonl), hf_json, str(work / "megatron"), 2, eod)
    rows.append(("megatron-core path (tokenizers, 2 workers)", t))
    for threads, pin in [(1, "0"), (cores, all_cores)]:
        t = timed([TOK, "encode", "--vocab", args.vocab, "--format", "megatron", "--append-eod", "--quiet",
                   "--threads", threads, jsonl, "-o", work / f"tok{threads}"], pin, work / f"tok{threads}")
        rows.append((f"tok encode --format megatron, {threads} thread(s)", t))
    same = all((work / f"tok{cores}.{e}").read_bytes() == (work / f"megatron.{e}").read_bytes() for e in ["bin", "idx"])
    # The library alone on the same text, one thread: the documents' text as one file.
    texts = work / "texts.txt"
    with open(jsonl, encoding="utf-8") as f, open(texts, "w", encoding="utf-8") as out:
        for line in f:
            out.write(json.loads(line)["text"])
    bench = json.loads(subprocess.run(pinned([TOK_BENCH, args.vocab, texts], "0"),
                                      check=True, capture_output=True).stdout)
    library = bench["files"][0]["mb_per_s"]
    print(f"{text_bytes / 1e6:.1f} MB of text in {jsonl.stat().st_size / 1e6:.1f} MB of JSON lines, vocabulary {args.vocab}, {cores} cores")
    base = rows[0][1]
    for name, t in rows:
        print(f"{name:48s} {t:7.2f} s {text_bytes / t / 1e6:7.1f} MB/s {base / t:6.2f}x")
    print(f"{'tok library alone (tok-bench), 1 thread':48s} {'':9s} {library:7.1f} MB/s")
    one = text_bytes / rows[1][1] / 1e6
    print(f"tok encode on 1 thread is {one / library * 100:.0f}% of the library's speed; datasets identical to megatron-core's: {same}")


if __name__ == "__main__":
    main()
