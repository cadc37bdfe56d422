#!/usr/bin/env python3
"""How the default pattern was chosen: trains one BPE per candidate pattern on the
same mixed zh/en/code/math text with HuggingFace's BpeTrainer, and prints held-out
bytes/token per domain (higher is better) and how many tokens mix Han with Latin.

    python3 Benchmarks/patterns.py CORPORA_DIR [--vocab-size N] [--train-mb M] [--eval corpora/eval]

With --eval, bytes/token is measured on that evaluation set (other sources)
instead of the text after the training text.
"""
import argparse
import pathlib

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from benchlib import DOMAINS, domain_text, hf_regex

HAN = "\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\U00020000-\U000323AF"


def candidates():
    o200k, tok = hf_regex("o200k"), hf_regex("tok")
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
    train_bytes = int(args.train_mb * 1e6)
    texts = {d: domain_text(pathlib.Path(args.corpora) / d, train_bytes + 600_000) for d in DOMAINS}
    train = {d: t[: len(t) * train_bytes // (train_bytes + 600_000)] for d, t in texts.items()}
    held = {d: texts[d][len(train[d]):] for d in DOMAINS}
    if args.eval:
        held = {d: "".join(f.read_text() for f in sorted(pathlib.Path(args.eval, d).glob("*.txt"))) for d in DOMAINS}
    print(f"{'pattern':48} " + " ".join(f"{d:>6}" for d in DOMAINS) + "  mixed-script tokens")
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
        for d in DOMAINS:
            ratios.append(len(held[d].encode()) / len(tok.encode(held[d]).ids))
        mixed = 0
        for t in tok.get_vocab():
            s = tok.decode([tok.token_to_id(t)])
            if any("\u4e00" <= c <= "\u9fff" for c in s) and any(c.isascii() and c.isalpha() for c in s):
                mixed += 1
        print(f"{label:48} " + " ".join(f"{r:6.3f}" for r in ratios) + f"  {mixed:>6}")


if __name__ == "__main__":
    main()
