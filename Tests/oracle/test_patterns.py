"""The pattern compiler against the real engines: generated patterns (random
combinations of the subset's constructs, and variants of the published
patterns) split real text of the four domains and random Unicode exactly as
HuggingFace `tokenizers` (Oniguruma) and, where the engines agree on the
construct, Python `regex`; and BPE vocabularies that `tokenizers` trains under
a dozen of them give the same ids in tok, imported and exported."""
import json
import random

import pytest
import regex
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from conftest import DOMAINS, random_text, tok

# Sets of one code point, written as a class or an escape.
SETS = [r"\p{L}", r"\p{Lu}", r"\p{Ll}", r"\p{N}", r"\p{Nd}", r"\p{M}", r"\p{P}", r"\p{S}", r"\s", r"\S", r"\d", r"\D",
        r"[^\s\p{L}\p{N}]", r"[^\r\n\p{L}\p{N}]", r"[\p{L}\p{M}]", r"[\r\n]", r"[a-z]", r"[A-Za-z]", r"[0-9]", r"\p{Han}",
        r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", r"[\p{P}\p{S}]", r"[^\p{P}\p{S}\s]", r"\p{Latin}",
        r"[\u4e00-\u9fa5\u3040-\u30ff]", r"[^\p{L}]", r"\p{Hiragana}", r"[\p{L}&&[^a-z]]", r"\P{L}", r"\p{Zs}", r"[.,;:]",
        " ", "'", "-", r"\.", "x", "e"]
# Constructs only Oniguruma reads this way (Python regex differs or lacks them).
ONIG_ONLY_SETS = [r"\w", r"\W", r"\h", r"[[:alpha:]]", r"[[:punct:]]", r"\p{^N}"]
QUANTIFIERS = ["", "", "?", "*", "+", "{1,3}", "{2}", "{2,}", "+?", "*?", "??", "++", "?+", "*+", "{1,2}?"]
ONIG_ONLY_QUANTIFIERS = ["{1,3}+", "{,2}"]
EXTRAS = [r"(?i:'s|'t|'re|'ve|'m|'ll|'d)", r"(?:'s|'t)", r"(?!\S)", r"(?=\p{L})", r"(?!\d)", r"(?>\p{L}+)", r"(?i:[a-f]+)"]
ONIG_ONLY_EXTRAS = ["$", "^", r"\b", r"\Z", r"\s+$"]


def generate(rng, onig_only):
    sets = SETS + (ONIG_ONLY_SETS if onig_only else [])
    quantifiers = QUANTIFIERS + (ONIG_ONLY_QUANTIFIERS if onig_only else [])
    extras = EXTRAS + (ONIG_ONLY_EXTRAS if onig_only else [])
    branches = []
    for _ in range(rng.randint(2, 6)):
        items = []
        # A first item that consumes at least one code point, so no branch matches empty.
        items.append(rng.choice(sets) + rng.choice(["", "+", "{1,3}", "++", "+?"]))
        for _ in range(rng.randint(0, 3)):
            r = rng.random()
            if r < 0.2:
                items.append(rng.choice(extras))
            else:
                items.append(rng.choice(sets) + rng.choice(quantifiers))
        if rng.random() < 0.3:
            items.insert(0, rng.choice([" ?", "[^\\r\\n\\p{L}\\p{N}]?", "'?"]))
        branches.append("".join(items))
    return "|".join(branches)


PUBLISHED = {
    "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "o200k": r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "deepseek": r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}


def top_level_branches(pattern):
    """The alternatives of a pattern's outermost alternation."""
    out, depth, start, i = [], 0, 0, 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    return out + [pattern[start:]]


def variants(rng):
    """The published patterns changed as their users change them."""
    out = []
    for name, pat in PUBLISHED.items():
        branches = top_level_branches(pat)
        out.append(pat.replace(r"\p{L}", r"[\p{L}\p{M}]"))            # marks in the letter classes
        out.append(pat.replace(r"\p{N}{1,3}", r"\p{N}"))               # single digits
        out.append(pat.replace(r"\p{N}{1,3}", r"\p{N}{1,4}"))
        out.append(pat.replace("[\\r\\n]*", "[\\r\\n/]*"))
        out.append(pat.replace(r"\s+(?!\S)|", ""))
        out.append(r"\p{Han}+|" + pat)                                 # Han runs apart
        if branches:
            shuffled = branches[:]
            rng.shuffle(shuffled)
            out.append("|".join(shuffled))
    return out


def patterns():
    rng = random.Random(2026)
    common = [generate(rng, False) for _ in range(40)] + variants(rng)
    onig = [generate(rng, True) for _ in range(20)]
    return common, onig


COMMON, ONIG = patterns()


def tok_pieces(pattern, data, behavior="Isolated", invert=False):
    r = tok("pretokenize", "--regex", pattern, "--behavior", behavior, *(["--invert"] if invert else []), input=data)
    return [json.loads(line) for line in r.stdout.decode("utf-8").split("\n") if line]


def hf_pieces(pattern, text, behavior="isolated", invert=False):
    pre = pre_tokenizers.Split(Regex(pattern), behavior=behavior, invert=invert)
    return [p for p, _ in pre.pre_tokenize_str(text)]


@pytest.fixture(scope="module")
def texts(corpus):
    rng = random.Random(5)
    return [(d, corpus[d][:40_000]) for d in DOMAINS] + [("random", random_text(rng, 4000))]


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"piece {i}: tok {x!r} vs oracle {y!r}; context {a[max(0, i - 3): i + 3]!r}"
    return f"lengths differ: {len(a)} vs {len(b)}"


def test_there_are_enough_patterns():
    assert len(set(COMMON)) + len(set(ONIG)) >= 50


@pytest.mark.parametrize("pattern", COMMON + ONIG)
def test_splits_match_tokenizers(pattern, texts):
    for label, text in texts:
        ours = tok_pieces(pattern, text.encode("utf-8"))
        theirs = hf_pieces(pattern, text)
        assert ours == theirs, f"{label}: {first_difference(ours, theirs)}"


@pytest.mark.parametrize("pattern", COMMON)
def test_matches_match_python_regex(pattern, texts):
    # Nested classes and && are VERSION1 syntax in Python regex.
    compiled = regex.compile(("(?V1)" if "&&" in pattern or "[\\p{L}\\p{M}]\\" in pattern or "[[" in pattern else "") + pattern)
    for label, text in texts:
        # Removed + invert keeps exactly the matches, as findall returns them.
        ours = tok_pieces(pattern, text.encode("utf-8"), "Removed", True)
        theirs = [m for m in compiled.findall(text) if m]
        assert ours == theirs, f"{label}: {first_difference(ours, theirs)}"


# The inverted behaviours and most trained patterns take over 90 s together:
# the fast loop keeps one of each behaviour and two trained patterns.
@pytest.mark.parametrize("behavior", ["Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"])
@pytest.mark.parametrize("invert", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_behaviors_match_tokenizers(behavior, invert, texts):
    hf_name = {"MergedWithPrevious": "merged_with_previous", "MergedWithNext": "merged_with_next"}.get(behavior, behavior.lower())
    for pattern in COMMON[:8] + ONIG[:4]:
        for label, text in texts:
            ours = tok_pieces(pattern, text.encode("utf-8"), behavior, invert)
            theirs = hf_pieces(pattern, text, hf_name, invert)
            assert ours == theirs, f"{pattern!r} {label}: {first_difference(ours, theirs)}"


@pytest.mark.parametrize("k", [0, 1] + [pytest.param(k, marks=pytest.mark.slow) for k in range(2, 12)])
def test_vocabularies_trained_under_generated_patterns(k, corpus, tmp_path):
    pattern = (COMMON + ONIG)[k * 5]
    model = Tokenizer(models.BPE(ignore_merges=k % 2 == 0))
    model.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior=["isolated", "removed", "merged_with_previous"][k % 3], invert=k % 4 == 3),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1500, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    model.train_from_iterator([corpus[d][:200_000] for d in DOMAINS], trainer=trainer)
    model.save(str(tmp_path / "t.json"))
    tok("import", tmp_path / "t.json", "-o", tmp_path / "v")
    tok("export", "--vocab", tmp_path / "v", "--format", "hf", "-o", tmp_path / "e.json")
    exported = Tokenizer.from_file(str(tmp_path / "e.json"))
    rng = random.Random(k)
    for label, text in [(d, corpus[d][200_000:300_000]) for d in DOMAINS] + [("random", random_text(rng, 3000))]:
        ours = [int(x) for x in tok("encode", "--vocab", tmp_path / "v", input=text.encode("utf-8")).stdout.split()]
        assert ours == model.encode(text, add_special_tokens=False).ids, f"{pattern!r} {label} vs tokenizers"
        assert ours == exported.encode(text, add_special_tokens=False).ids, f"{pattern!r} {label} vs export"
