"""Each hand-written pattern splits exactly as the regex it claims, with Python
`regex`, HuggingFace `tokenizers` and (for single patterns) tiktoken as oracles."""
import json
import random

import pytest
import regex
from tokenizers import Regex, pre_tokenizers

from conftest import DOMAINS, every_code_point, tok, random_text

SINGLE = ["r50k", "cl100k", "llama3", "qwen2", "o200k", "tok", "superwords"]


def regexes(pattern, engine="tiktoken"):
    """The regexes tok records for a pattern: as tiktoken and Python regex read them,
    or (engine="hf") as written into tokenizer.json for HuggingFace's Oniguruma."""
    flag = ["--hf"] if engine == "hf" else []
    return json.loads(tok("pretokenize", "--pattern", pattern, "--print-regexes", *flag).stdout)


def tok_pieces(pattern, text):
    data = text.encode("utf-8")
    lengths = [int(x) for x in tok("pretokenize", "--pattern", pattern, "--lengths", input=data).stdout.split()]
    out, at = [], 0
    for n in lengths:
        out.append(data[at: at + n].decode("utf-8"))
        at += n
    assert at == len(data)
    return out


def python_regex_pieces(pattern_regexes, text):
    (pat,) = pattern_regexes
    # The tok pattern uses class intersection (&&), which Python regex spells in VERSION1.
    compiled = regex.compile(("(?V1)" if "&&" in pat else "") + pat)
    return compiled.findall(text)


def hf_pieces(pattern_regexes, text):
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r), behavior="isolated") for r in pattern_regexes])
    return [piece for piece, _ in pre.pre_tokenize_str(text)]


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"piece {i}: tok {x!r} vs oracle {y!r}; context {a[max(0, i - 3): i + 3]!r}"
    return f"lengths differ: {len(a)} vs {len(b)}"


@pytest.mark.parametrize("pattern", SINGLE)
@pytest.mark.parametrize("domain", DOMAINS)
def test_real_text_matches_regex(pattern, domain, corpus):
    text = corpus[domain][:600_000]
    ours = tok_pieces(pattern, text)
    theirs = python_regex_pieces(regexes(pattern), text)
    assert ours == theirs, first_difference(ours, theirs)


@pytest.mark.parametrize("pattern", SINGLE + ["deepseek-v3"])
@pytest.mark.parametrize("domain", DOMAINS)
def test_real_text_matches_tokenizers(pattern, domain, corpus):
    text = corpus[domain][:300_000]
    ours = tok_pieces(pattern, text)
    theirs = hf_pieces(regexes(pattern, "hf"), text)
    assert ours == theirs, first_difference(ours, theirs)


@pytest.mark.parametrize("pattern", SINGLE + ["deepseek-v3"])
def test_random_unicode(pattern):
    rng = random.Random(f"pretokenize-{pattern}")
    pats = regexes(pattern)
    hf_pats = regexes(pattern, "hf")
    for trial in range(60):
        text = random_text(rng, rng.choice([5, 20, 200, 3000]))
        ours = tok_pieces(pattern, text)
        theirs = hf_pieces(hf_pats, text)
        assert ours == theirs, f"trial {trial} {text!r}: " + first_difference(ours, theirs)
        if len(pats) == 1:
            theirs = python_regex_pieces(pats, text)
            assert ours == theirs, f"trial {trial} {text!r}: " + first_difference(ours, theirs)


# Fragments where the matchers' ASCII fast paths hand over to the general path:
# ASCII runs that go on, or stop, at a letter, digit, mark or space outside ASCII.
FRAGMENTS = ["abc", "ABC", "Ab", "aB", "x", "'s", "'S", "'ll", "'Re", "'", "ſ", "é", "É", "\u0301", "ǅ", "ʰ",
             "中文", "한", "123", "7", "٣", "Ⅻ", "²", " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000",
             "\u2028", "\x0b", "\x85", "/", "//", "...", "(", "—", "_", "$", "\x00", "\x1f"]


@pytest.mark.parametrize("pattern", SINGLE + ["deepseek-v3"])
def test_ascii_boundaries(pattern):
    rng = random.Random(f"ascii-boundaries-{pattern}")
    pats = regexes(pattern)
    hf_pats = regexes(pattern, "hf")
    for trial in range(200):
        text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.choice([3, 10, 40, 400])))
        ours = tok_pieces(pattern, text)
        assert ours == hf_pieces(hf_pats, text), f"trial {trial} {text!r}: " + first_difference(ours, hf_pieces(hf_pats, text))
        if len(pats) == 1:
            theirs = python_regex_pieces(pats, text)
            assert ours == theirs, f"trial {trial} {text!r}: " + first_difference(ours, theirs)


@pytest.mark.parametrize("pattern", SINGLE + ["deepseek-v3"])
def test_every_code_point_matches_tokenizers(pattern):
    # tok's classes are Unicode 16.0.0's, as tokenizers' Oniguruma has them;
    # Python regex is a version ahead, so it is not the oracle here.
    text = every_code_point()
    ours = tok_pieces(pattern, text)
    theirs = hf_pieces(regexes(pattern, "hf"), text)
    assert ours == theirs, first_difference(ours, theirs)
