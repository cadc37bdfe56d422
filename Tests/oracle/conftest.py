"""Shared fixtures for the oracle tests: the release `tok` binary, real text of
the four domains, and the published reference vocabularies.

Paths come from the environment that scripts/test sets:
TOK_BIN, TOK_TEST_CORPORA (a gather.sh --small output), TOK_REFVOCAB (a refvocab.sh output).
"""
import os
import pathlib
import random
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOK = os.environ.get("TOK_BIN", str(ROOT / ".build/release/tok"))
CORPORA = pathlib.Path(os.environ.get("TOK_TEST_CORPORA", ROOT / "corpora/test-small"))
REFVOCAB = pathlib.Path(os.environ.get("TOK_REFVOCAB", ROOT / "vocab/reference"))
DOMAINS = ["zh", "en", "code", "math"]


def tok(*args, input=None, check=True, cwd=None):
    """Runs the tok binary; returns the completed process."""
    r = subprocess.run([TOK, *map(str, args)], input=input, capture_output=True, cwd=cwd)
    if check and r.returncode != 0:
        raise AssertionError(f"tok {' '.join(map(str, args))} failed: {r.stderr.decode(errors='replace')}")
    return r


def refused(r, *words, code=1):
    """The run failed with exit `code` (1, or 64 for a command line refused as
    it is parsed) and one `tok:` line holding every word; returns the line."""
    message = r.stderr.decode()
    assert r.returncode == code, message
    assert message.startswith("tok: ") and message.count("\n") == 1, message
    for word in words:
        assert str(word) in message, message
    return message


def domain_text(domain, limit):
    """The first `limit` bytes of a domain's gathered files, in path order, cut at a line end."""
    files = sorted(p for p in (CORPORA / domain).rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files, f"no corpus files under {CORPORA / domain}: run scripts/test, which gathers them"
    out = bytearray()
    for f in files:
        out += f.read_bytes()
        if len(out) >= limit:
            break
    cut = out.rfind(b"\n", 0, limit)
    return bytes(out[: cut + 1 if cut > 0 else limit]).decode("utf-8")


@pytest.fixture(scope="session")
def corpus():
    """Real text per domain, about 2.5 MB each."""
    return {d: domain_text(d, 2_500_000) for d in DOMAINS}


# Characters that exercise every branch of the patterns: contraction letters in
# both cases and the long s, apostrophes, every kind of whitespace and newline,
# marks, digits of several scripts, Han and kana, and punctuation.
SPICE = list("'sStTdDmMlLvVeErR") + ["ſ", "'", "'", "'s", "'LL", "'Ve", "'re", "'d"] + \
    [" ", " ", " ", "  ", "\n", "\r\n", "\r", "\t", "\u00a0", "\u3000", "\u2028", "\u0085", "\x0b", "\x0c"] + \
    list("0123456789٣४௫１") + list("中文字漢語㐀豈𠀀あアーｶ한") + \
    list("\u0301\u0308\u093f\u0f71") + list(".,;:!?/()[]{}<>\"#$%&*+-=@\\^_`|~，。、「」…—") + \
    list("AbCdÉéßǅΣσЖжا") 


def _assigned_chars():
    import unicodedata
    chars = []
    for cp in range(0x20000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(cp))
        if cat not in ("Cn", "Cs", "Co"):
            chars.append(chr(cp))
    return chars


_ASSIGNED = None


def every_code_point():
    """Every code point of planes 0-3 and 14 and both ends of the others (no
    surrogates), each in contexts where its class decides the cuts: beside
    letters of both cases, digits, punctuation, spaces and itself (about 9 MB)."""
    others = [plane << 16 | low for plane in range(4, 17) if plane != 14 for low in (0, 0xFFFD, 0xFFFF)]
    points = [c for c in [*range(0x40000), *range(0xE0000, 0xF0000), *others] if not 0xD800 <= c < 0xE000]
    return "".join(f"a{x}b {x}1{x}.{x}A{x}{x} {x}\n" for x in map(chr, points))


def random_text(rng, length):
    """Random Unicode: assigned code points (Unicode 14, which every engine
    here agrees on), heavily mixed with SPICE so that boundaries are hit."""
    global _ASSIGNED
    if _ASSIGNED is None:
        _ASSIGNED = _assigned_chars()
    parts = []
    for _ in range(length):
        r = rng.random()
        if r < 0.45:
            parts.append(rng.choice(SPICE))
        elif r < 0.75:
            parts.append(chr(rng.randrange(0x20, 0x7F)))
        else:
            parts.append(rng.choice(_ASSIGNED))
    return "".join(parts)
