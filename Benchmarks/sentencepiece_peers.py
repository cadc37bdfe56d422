#!/usr/bin/env python3
"""SentencePiece BPE encoding against sentencepiece and the published encoders
that load its models, side by side (`python3 Benchmarks/peers.py CORPORA --sentencepiece`
runs it, as does this file alone):

    python3 Benchmarks/sentencepiece_peers.py CORPORA [--model NAME=PATH.model ...] [--mixed-mb 100] [--domain-mb 20]

Trains two LLaMA-style models with sentencepiece itself on CORPORA (32,000
and 150,000 pieces: BPE, identity normalizer, spaces kept, byte fallback,
split digits; cached under --work) and takes the published Mistral 7B v0.1
model (`mistral-v1/tokenizer.model` in --refvocab, which scripts/fixtures
fetches from PyPI's mistral-common) and any other `.model` given with --model. Installs the peers into their own environment (.build-peers:
sentencepiece, gigatoken, kitoken, tokie) and runs each fresh, in its own
process pinned to one core (taskset -c 0), one pass over each text: the four
domains interleaved by document and each domain alone, as peers.py cuts them.
sentencepiece, gigatoken and kitoken load the `.model`; tokie loads the
HuggingFace form transformers writes of it (gigatoken loads both). tok runs
twice: as the peers do, its Python package (the source tree's `python/` and
`.build/release/libTokC.so`) timed on its encoding call alone, ids as a numpy
array as gigatoken gives them (`tok py`); and as a user of the shell runs it,
`tok encode --format u32 --threads 1`, start-up, loading and writing included
(`tok cli`). Every peer's ids are checked against sentencepiece's ('!' where
they differ). Prints MB/s and the ratios of tok's call to sentencepiece and to
the fastest peer with the right ids.
"""
import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

from benchlib import ROOT, TOK, attempt

PEERS = {"sentencepiece": "sentencepiece==0.2.3", "gigatoken": "gigatoken==0.10.0", "kitoken": "kitoken==0.11.1",
         "tokie": "tokie==0.1.4"}
SIZES = {"sp32k": 32_000, "sp150k": 150_000}
# Published models benchmarked when scripts/refvocab.py has fetched them: name -> file in the reference folder.
PUBLISHED = {"mistral-v1": "mistral-v1/tokenizer.model"}


def ensure_venv():
    """peers.py's environment, with these peers added to it."""
    sys.path.insert(0, str(ROOT / "Benchmarks"))
    import peers
    python = peers.ensure_venv()
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS.values()], check=True)
    return python


def worker(args):
    """In the peers' environment: load one peer, one timed pass, one JSON line."""
    import array
    model = args.model[0]
    text = pathlib.Path(args.text).read_text(encoding="utf-8")
    started = time.perf_counter()
    if args.peer == "sentencepiece":
        import sentencepiece
        encode = sentencepiece.SentencePieceProcessor(model_file=model).encode
    elif args.peer == "gigatoken":
        import gigatoken
        t = gigatoken.Tokenizer.from_sentencepiece(model)
        encode = lambda s: t.encode(s)  # noqa: E731
    elif args.peer == "tok":
        sys.path.insert(0, str(ROOT / "python"))
        os.environ.setdefault("TOK_LIBRARY", str(ROOT / ".build/release/libTokC.so"))
        import tok
        enc = tok.load(args.vocab)
        encode = lambda s: enc.encode_to_numpy(s, disallowed_special=())  # noqa: E731  (control pieces' text is text, as in sentencepiece)
    elif args.peer == "kitoken":
        import kitoken
        encode = kitoken.Kitoken.from_sentencepiece_file(model).encode
    else:
        import tokie
        t = tokie.Tokenizer.from_json(args.hf)
        encode = lambda s: t.encode(s).ids  # noqa: E731
    load = time.perf_counter() - started
    start = time.perf_counter()
    ids = encode(text)
    seconds = time.perf_counter() - start
    digest = hashlib.sha1(array.array("I", [int(i) for i in ids]).tobytes()).hexdigest()
    print(json.dumps({"load": load, "seconds": seconds, "count": len(ids), "digest": digest}))


def train(corpora, work, name, size, mb):
    """A LLaMA-style model of `size` pieces from `mb` MB of each domain (kept in `work` once made)."""
    model = work / f"{name}.model"
    if model.exists():
        return model
    import sentencepiece
    sys.path.insert(0, str(ROOT / "Benchmarks"))
    from benchlib import domain_text
    text = work / f"{name}.train.txt"
    text.write_text("".join(domain_text(pathlib.Path(corpora) / d, int(mb * 1e6)) for d in ["zh", "en", "code", "math"]))
    started = time.perf_counter()
    sentencepiece.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(work / name), vocab_size=size, model_type="bpe", byte_fallback=True,
        split_digits=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, character_coverage=0.99995, num_threads=os.cpu_count(), minloglevel=2,
        max_sentence_length=1 << 20)
    print(f"{name}: trained by sentencepiece in {time.perf_counter() - started:.0f} s", flush=True)
    return model


def huggingface_form(model, work):
    """The tokenizer.json transformers writes for a LLaMA-style tokenizer of `model`."""
    import transformers
    folder = work / f"{model.stem}-llama"
    folder.mkdir(exist_ok=True)
    (folder / "tokenizer.model").write_bytes(model.read_bytes())
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}))
    transformers.AutoTokenizer.from_pretrained(str(folder)).save_pretrained(str(folder / "out"))
    return folder / "out" / "tokenizer.json"


def best_of(runs, command):
    """The run of `command` (a worker) with the shortest time among `runs` fresh processes, or None."""
    results = []
    for _ in range(runs):
        out, _ = attempt(command, "0")
        if out:
            results.append(json.loads(out))
    return min(results, key=lambda r: r["seconds"]) if results else None


def run(corpora, work, models, mixed_mb, domain_mb, runs=1):
    sys.path.insert(0, str(ROOT / "Benchmarks"))
    from peers import make_texts
    python = ensure_venv()
    work.mkdir(parents=True, exist_ok=True)
    texts = make_texts(corpora, mixed_mb, domain_mb, work)
    print(f"one core (taskset -c 0), fresh processes, one pass each, the fastest of {runs}; MB/s of text; tok py = tok's Python call alone, "
          "as the peers are timed; tok cli = `tok encode --format u32 --threads 1` end to end; '!': ids differ from sentencepiece's")
    for name, model in models.items():
        model = pathlib.Path(model)
        hf = huggingface_form(model, work)
        vocab = work / f"{name}-tok"
        subprocess.run([TOK, "import", model, "-o", vocab], check=True, capture_output=True)
        peers = list(PEERS)
        print(f"\n{name} ({model})")
        print(f"{'text':8s} {'MB':>6s} " + " ".join(f"{p:>13s}" for p in peers)
              + f" {'tok py':>8s} {'tok cli':>8s} {'tok/sp':>7s} {'tok/best':>9s}")
        for tname in ["mixed", "zh", "en", "code", "math"]:
            path = texts[tname]
            mb = path.stat().st_size / 1e6
            cells, speeds, reference = [], {}, None
            for peer in peers:
                r = best_of(runs, [python, __file__, "--worker", peer, "--model", model, "--hf", hf, "--text", path,
                                   "--vocab", vocab])
                if r is None:
                    cells.append("error")
                    continue
                reference = reference or (r if peer == "sentencepiece" else None)
                ok = r["digest"] == (reference or {}).get("digest")
                speeds[peer] = (mb / r["seconds"], ok)
                cells.append(f"{mb / r['seconds']:.1f}" + ("" if ok else "!"))
            cli_seconds = float("inf")
            for _ in range(runs):
                (work / "tok.u32").unlink(missing_ok=True)
                start = time.perf_counter()
                attempt([TOK, "encode", "--vocab", vocab, "--format", "u32", "--threads", 1, path, "-o", work / "tok.u32"], "0")
                cli_seconds = min(cli_seconds, time.perf_counter() - start)
            tok_speed = mb / cli_seconds
            ok = hashlib.sha1((work / "tok.u32").read_bytes()).hexdigest() == (reference or {}).get("digest")
            call = best_of(runs, [python, __file__, "--worker", "tok", "--model", model, "--hf", hf, "--text", path,
                                  "--vocab", vocab])
            call_speed = mb / call["seconds"] if call else 0.0
            call_ok = call is not None and call["digest"] == (reference or {}).get("digest")
            sp = speeds.get("sentencepiece", (0.0, True))[0]
            best = max([s for s, good in speeds.values() if good] or [0.0])
            print(f"{tname:8s} {mb:6.1f} " + " ".join(f"{c:>13s}" for c in cells)
                  + f" {call_speed:7.1f}{'' if call_ok else '!'} {tok_speed:7.1f}{'' if ok else '!'}"
                  + f" {call_speed / sp if sp else 0:6.1f}x {call_speed / best if best else 0:8.2f}x", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora", nargs="?")
    ap.add_argument("--model", action="append", default=[], help="NAME=PATH.model: a published model besides the two trained")
    ap.add_argument("--mixed-mb", type=float, default=100)
    ap.add_argument("--domain-mb", type=float, default=20)
    ap.add_argument("--train-mb", type=float, default=5, help="MB of each domain the two models are trained on")
    ap.add_argument("--runs", type=int, default=1, help="fresh processes per figure, the fastest kept (the same for every peer)")
    ap.add_argument("--work", default="/tmp/tok-peers-sentencepiece")
    ap.add_argument("--refvocab", help="where scripts/refvocab.py put the published models (default: $TOK_REFVOCAB or vocab/reference)")
    ap.add_argument("--worker", dest="peer")
    ap.add_argument("--text")
    ap.add_argument("--hf")
    ap.add_argument("--vocab", help="(worker) tok's vocabulary folder of the model")
    args = ap.parse_args()
    if args.peer:
        return worker(args)
    benchmark(args.corpora, pathlib.Path(args.work), args.mixed_mb, args.domain_mb, args.train_mb,
              dict(m.split("=", 1) for m in args.model), args.refvocab, args.runs)


def benchmark(corpora, work, mixed_mb, domain_mb, train_mb=5, published=None, refvocab=None, runs=1):
    """Trains the two models (once) and prints the rows for them and the published ones."""
    work.mkdir(parents=True, exist_ok=True)
    models = {name: train(corpora, work, name, size, train_mb) for name, size in SIZES.items()}
    reference = pathlib.Path(refvocab or os.environ.get("TOK_REFVOCAB", ROOT / "vocab/reference"))
    models.update({name: reference / file for name, file in PUBLISHED.items() if (reference / file).exists()})
    models.update(published or {})
    run(corpora, work, models, mixed_mb, domain_mb, runs)


if __name__ == "__main__":
    main()
