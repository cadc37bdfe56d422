#!/usr/bin/env python3
"""How the default pattern was chosen: trains one BPE per candidate pattern on the
same mixed zh/en/code/math text with HuggingFace's BpeTrainer, and prints held-out
bytes/token per domain (higher is better) and how many tokens mix Han with Latin.

    python3 Benchmarks/patterns.py CORPORA_DIR [--vocab-size N] [--train-mb M] [--eval corpora/eval]

With --eval, bytes/token is measured on that evaluation set (other sources)
instead of the text after the training text.
"""
import argparse
import json
import pathlib
import subprocess
import sys

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests/oracle"))
import conftest  # noqa: E402

HAN = "\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\U00020000-\U000323AF"


def pattern(name):
    return json.loads(subprocess.run([ROOT / ".build/release/tok", "pretokenize", "--pattern", name, "--print-regexes", "--hf"],
                                     check=True, capture_output=True).stdout)[0]


def candidates():
    o200k, tok = pattern("o200k"), pattern("tok")
    lead = "[^\\r\\n\\p{L}\\p{N}]?"
    han = "[" + HAN + "]+|"
    assert lead + han in tok, "the tok pattern's Han alternative changed"
    no_lead = tok.replace(lead + han, han, 1)
    digits3 = (r"|\p{N}|", r"|\p{N}{1,3}|")
    return {
        "o200k (Han runs joined to letters, digits 1-3)": o200k,
        "o200k, single digits": o200k.replace(r"\p{N}{1,3}", r"\p{N}"),
        "Han apart, no leading punctuation, digits 1-3": no_lead.replace(*digits3),
        "Han apart, no leading punctuation, single digits": no_lead,
        "Han apart after one punctuation, single digits (tok)": tok,
        "Han apart after one punctuation, digits 1-3": tok.replace(*digits3),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora")
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--train-mb", type=float, default=2.0)
    ap.add_argument("--eval", help="measure on this evaluation set (DIR/<domain>/*.txt)")
    args = ap.parse_args()
    conftest.CORPORA = pathlib.Path(args.corpora)
    train_bytes = int(args.train_mb * 1e6)
    texts = {d: conftest.domain_text(d, train_bytes + 600_000) for d in conftest.DOMAINS}
    train = {d: t[: len(t) * train_bytes // (train_bytes + 600_000)] for d, t in texts.items()}
    held = {d: texts[d][len(train[d]):] for d in conftest.DOMAINS}
    if args.eval:
        held = {d: "".join(f.read_text() for f in sorted(pathlib.Path(args.eval, d).glob("*.txt"))) for d in conftest.DOMAINS}
    print(f"{'pattern':48} " + " ".join(f"{d:>6}" for d in conftest.DOMAINS) + "  mixed-script tokens")
    for label, regex in candidates().items():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(list(train.values()), trainer=trainer)
        ratios = []
        for d in conftest.DOMAINS:
            ratios.append(len(held[d].encode()) / len(tok.encode(held[d]).ids))
        mixed = 0
        for t in tok.get_vocab():
            s = tok.decode([tok.token_to_id(t)])
            if any("\u4e00" <= c <= "\u9fff" for c in s) and any(c.isascii() and c.isalpha() for c in s):
                mixed += 1
        print(f"{label:48} " + " ".join(f"{r:6.3f}" for r in ratios) + f"  {mixed:>6}")


if __name__ == "__main__":
    main()
