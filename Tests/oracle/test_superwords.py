"""Superword vocabularies (tok build/train --superwords): the ids of HuggingFace
tokenizers and tiktoken on all four domains, every token encoding to itself,
the same build for any thread count, the constraints on superword tokens, the
same build from count files (`tok count --superwords`, a domain in two shards)
as from the text, and plain builds left as they were."""
import json
import os
import random
import re

import pytest
import tiktoken
from tokenizers import Tokenizer

from conftest import CORPORA, DOMAINS, random_text, refused, tok

SIZE, TRANSITION = 12000, 9000


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("superwords")
    domains = ",".join(f"{d}={CORPORA / d}" for d in DOMAINS)
    out = root / "sw"
    report = json.loads(tok("build", "--domains", domains, "--vocab-size", SIZE, "--superwords", TRANSITION,
                            "--threads", 2, "--json", "-o", out).stdout)
    return root, domains, out, report


def token_bytes(vocab):
    """Every BPE token's bytes by id, from the tiktoken export."""
    import base64
    export = vocab.parent / (vocab.name + ".tiktoken")
    if not export.exists():
        tok("export", "--vocab", vocab, "--format", "tiktoken", "-o", export)
    ranks = {}
    for line in export.read_bytes().splitlines():
        b64, rank = line.split()
        ranks[int(rank)] = base64.b64decode(b64)
    return [ranks[i] for i in range(len(ranks))]


def test_superword_tokens_cross_words_within_the_limits(built):
    _, _, out, report = built
    sw = report["superwords"]
    assert sw["transition"] == TRANSITION and sw["superwordTokens"] == SIZE - 1 - TRANSITION
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["size"] == SIZE and manifest["unreachableTokens"] == 0
    tokens = token_bytes(out)
    assert len(tokens) == SIZE - 1 == len(set(tokens))
    later = tokens[TRANSITION:]
    # Merges across the spaces between words, only after the transition point.
    assert sum(1 for t in later if re.search(rb"\S \S", t)) > len(later) // 4
    assert not any(re.search(rb"\S \S", t) for t in tokens[:TRANSITION])
    for t in later:
        assert len(t.split()) <= 4, t                   # --max-words 4
        assert not re.search(rb"[0-9][0-9]", t), t       # digits stay one a token
        assert b": " not in t, t                          # nothing runs past a colon into the next words
        assert not re.search(rb"[\r\n][^\r\n]", t), t    # nor past a line break
        assert not re.search(rb"[.!?]\s\S", t), t        # nor past a sentence end


def test_ids_equal_tokenizers_and_tiktoken_on_every_domain(built, tmp_path):
    _, _, out, report = built
    tok("export", "--vocab", out, "--format", "hf", "-o", tmp_path / "t.json")
    assert (tmp_path / "t.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    hf = Tokenizer.from_file(str(out / "tokenizer.json"))
    manifest = json.loads((out / "manifest.json").read_text())
    (regex,) = manifest["regexes"]
    ranks = {t: i for i, t in enumerate(token_bytes(out))}
    tt = tiktoken.Encoding("sw", pat_str=regex, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": SIZE - 1})
    rng = random.Random(7)
    for d in DOMAINS:
        text = (out / "heldout" / f"{d}.txt").read_text()
        text += random_text(rng, 3000)
        ids = [int(x) for x in tok("encode", "--vocab", out, "--threads", 1, input=text.encode()).stdout.split()]
        assert ids == hf.encode(text).ids, d
        assert ids == tt.encode_ordinary(text), d
        assert len(ids) < len(text.encode())
    # The report's figures are tok stats' figures on the same text.
    held = ",".join(f"{d}={out / 'heldout' / f'{d}.txt'}" for d in DOMAINS)
    stats = json.loads(tok("stats", "--vocab", out, "--domains", held, "--json").stdout)
    for d in report["domains"]:
        assert stats["results"][d["name"]][str(out)]["tokens"] == d["merged"]["tokens"]
        assert d["plain"]["bytes"] == d["merged"]["bytes"] and d["plain"]["tokens"] > 0


def test_every_token_encodes_to_itself(built):
    _, _, out, _ = built
    hf = Tokenizer.from_file(str(out / "tokenizer.json"))
    texts, ids = [], []
    for i, t in enumerate(token_bytes(out)):
        try:
            texts.append(t.decode("utf-8"))
            ids.append(i)
        except UnicodeDecodeError:
            continue  # a partial character: no text is only it
    assert len(ids) > SIZE * 0.9
    assert [e.ids for e in hf.encode_batch(texts)] == [[i] for i in ids]
    one_line = [(t, i) for t, i in zip(texts, ids) if "\n" not in t and "\r" not in t and t.strip() == t and t]
    got = tok("encode", "--vocab", out, "--lines", input="\n".join(t for t, _ in one_line).encode() + b"\n").stdout.decode()
    assert [l.split() for l in got.splitlines()] == [[str(i)] for _, i in one_line]


@pytest.mark.slow
def test_the_build_is_the_same_for_any_thread_count(built, tmp_path):
    _, domains, out, _ = built
    tok("build", "--domains", domains, "--vocab-size", SIZE, "--superwords", TRANSITION, "--threads", 1, "--quiet",
        "-o", tmp_path / "again")
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()


def test_train_learns_superwords_and_matches_tokenizers(tmp_path):
    out = tmp_path / "en"
    summary = json.loads(tok("train", CORPORA / "en", "--vocab-size", 6000, "--superwords", "auto", "--max-words", 3,
                             "--json", "-o", out).stdout)
    assert summary["pattern"] == "superwords" and summary["vocabularySize"] == 6000
    tokens = token_bytes(out)
    assert all(len(t.split()) <= 3 for t in tokens)
    assert any(len(t.split()) == 3 for t in tokens)
    hf = Tokenizer.from_file(str(out / "tokenizer.json"))
    text = "\n".join(p.read_text(errors="replace") for p in sorted((CORPORA / "eval" / "en").rglob("*")) if p.is_file())
    text = text[:300_000]
    ids = [int(x) for x in tok("encode", "--vocab", out, input=text.encode()).stdout.split()]
    assert ids == hf.encode(text).ids
    # The same training from count files (the superword counts beside them).
    tok("count", "--domain", "en", "--superwords", CORPORA / "en", "-o", tmp_path / "en.counts")
    tok("train", tmp_path / "en.counts", "--vocab-size", 6000, "--superwords", "auto", "--max-words", 3, "-o", tmp_path / "again")
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()


@pytest.fixture(scope="module")
def counted(built):
    """`tok count --superwords --hold-out 20` of each domain (en in two shards,
    told by the hold-out plan what the first held out), at 1 and 2 threads:
    the --domains of a build from count files (math's a glob that names its pair)."""
    root = built[0] / "counts"
    root.mkdir()
    specs = []
    for i, d in enumerate(DOMAINS):
        files = sorted(p for p in (CORPORA / d).iterdir() if p.is_file() and not p.name.startswith("."))
        shards = [files[: len(files) // 2], files[len(files) // 2:]] if d == "en" else [files]
        scans = []
        for k, shard in enumerate(shards):
            scans.append(root / f"{d}-{k}.scan")
            scans[-1].write_bytes(tok("count", "--hold-out", 20, "--scan-held-out", *shard).stdout)
        plan = [json.loads(line) for line in tok("count", "--plan-held-out", *scans).stdout.splitlines()]
        parts = []
        for k, (shard, part) in enumerate(zip(shards, plan)):
            parts.append(root / f"{d}-{k}.counts")
            tok("count", "--domain", d, "--hold-out", 20, "--held-out-before", part["heldOutBefore"], "--superwords",
                "--threads", 1 + i % 2, *shard, "-o", parts[-1])
            assert parts[-1].with_suffix(".superwords.counts").exists() and not list(root.glob("*.superwords.heldout.txt"))
        specs.append(f"{d}={root}/{d}-*.counts" if d == "math" else f"{d}=" + "+".join(map(str, parts)))
    return ",".join(specs)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_build_from_count_files_equals_the_build_from_the_text(built, counted, threads, tmp_path):
    _, _, out, report = built
    again = tmp_path / "from-counts"
    tok("build", "--domains", counted, "--vocab-size", SIZE, "--superwords", TRANSITION, "--threads", threads, "--quiet",
        "-o", again)
    assert (again / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    for d in DOMAINS:
        assert (again / "heldout" / f"{d}.txt").read_bytes() == (out / "heldout" / f"{d}.txt").read_bytes(), d
    from_counts = json.loads((again / "build-report.json").read_text())
    assert from_counts["domains"] == report["domains"] and from_counts["superwords"] == report["superwords"]


def test_superwords_are_refused_with_one_line(built, tmp_path):
    _, _, out, _ = built
    counts = tmp_path / "en.counts"
    tok("count", "--domain", "en", CORPORA / "en", "-o", counts)
    # Count files without superword counts beside them; superword counts of other text.
    refused(tok("build", "--domains", f"en={counts}", "--vocab-size", 3000, "--superwords", 2000, "-o", tmp_path / "x",
                check=False), f"{counts}: no superword counts beside it ({tmp_path / 'en.superwords.counts'})",
            "tok count --superwords")
    first = min(p for p in (CORPORA / "en").iterdir() if not p.name.startswith("."))
    tok("count", "--domain", "en", "--superwords", first, "-o", tmp_path / "other.counts")
    (tmp_path / "en.superwords.counts").write_bytes((tmp_path / "other.superwords.counts").read_bytes())
    refused(tok("build", "--domains", f"en={counts}", "--vocab-size", 3000, "--superwords", 2000, "-o", tmp_path / "x",
                check=False), f"{tmp_path / 'en.superwords.counts'}: not the superword counts of {counts}")
    refused(tok("count", "--merge", "--superwords", counts, tmp_path / "other.counts", "-o", tmp_path / "m.counts", check=False),
            f"{tmp_path / 'en.superwords.counts'}: not the superword counts of {counts}")
    refused(tok("count", "--merge", counts, tmp_path / "other.superwords.counts", "-o", tmp_path / "m.counts", check=False),
            "other.superwords.counts: counted with pattern superwords, not tok")
    assert not list(tmp_path.glob("m.*"))
    refused(tok("train", counts, "--vocab-size", 3000, "--superwords", 2000, "-o", tmp_path / "y", check=False),
            f"{tmp_path / 'en.superwords.counts'}: not the superword counts of {counts}")
    refused(tok("train", CORPORA / "en", "--vocab-size", 3000, "--superwords", 3001, "-o", tmp_path / "z", check=False),
            "--superwords 3001")
    refused(tok("train", CORPORA / "en", "--vocab-size", 3000, "--superwords", 100, "-o", tmp_path / "z", check=False),
            "--superwords", code=64)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


def test_a_plain_build_is_unchanged(built, tmp_path):
    """A build without --superwords gives main's tokenizer.json byte for byte
    (TOK_BASELINE_BIN: a tok built from main)."""
    baseline = os.environ.get("TOK_BASELINE_BIN")
    if not baseline:
        pytest.skip("TOK_BASELINE_BIN (a tok built from main) is not set")
    _, domains, _, _ = built
    args = ["build", "--domains", domains, "--vocab-size", 6000, "--threads", 2, "--quiet"]
    tok(*args, "-o", tmp_path / "ours")
    import subprocess
    r = subprocess.run([baseline, *map(str, args), "-o", str(tmp_path / "main")], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "ours" / "tokenizer.json").read_bytes() == (tmp_path / "main" / "tokenizer.json").read_bytes()
