"""tok count and tok train against HuggingFace's BpeTrainer, and the promises
of the count files: deterministic, mergeable, the same from .txt, .jsonl and .zst."""
import json
import subprocess

import pytest
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from conftest import DOMAINS, tok

BYTE_LEVEL = pre_tokenizers.ByteLevel.alphabet()


def byte_level_decoder():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


DECODE = byte_level_decoder()


def hf_train(texts, pattern, vocab_size):
    (regex,) = json.loads(tok("pretokenize", "--pattern", pattern, "--print-regexes", "--hf").stdout)
    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, initial_alphabet=BYTE_LEVEL)
    model.train_from_iterator(texts, trainer=trainer)
    merges = json.loads(model.to_str())["model"]["merges"]
    as_bytes = [(bytes(DECODE[c] for c in a), bytes(DECODE[c] for c in b)) for a, b in merges]
    return model, as_bytes


def tok_merges(vocab):
    report = json.loads((vocab / "training.json").read_text())
    tokens = [bytes([b]) for b in range(256)]
    out = []
    for left, right, count, tied in report["merges"]:
        out.append((tokens[left], tokens[right], count, tied))
        tokens.append(tokens[left] + tokens[right])
    return out


@pytest.fixture(scope="module")
def split_corpus(corpus, tmp_path_factory):
    """Per domain: training files (one document each) and held-out text."""
    root = tmp_path_factory.mktemp("train")
    out = {}
    for d in DOMAINS:
        text = corpus[d]
        cut = text.rfind("\n", 0, int(len(text) * 0.8)) + 1
        docs = [text[i: i + 200_000] for i in range(0, cut, 200_000)]
        folder = root / d
        folder.mkdir()
        for k, doc in enumerate(docs):
            (folder / f"doc{k:03}.txt").write_text(doc)
        out[d] = (folder, docs, text[cut:])
    return out


@pytest.mark.parametrize("domain", DOMAINS)
def test_merges_match_huggingface_until_a_tie(domain, split_corpus, tmp_path):
    folder, docs, held_out = split_corpus[domain]
    size = 3000
    tok("train", folder, "--vocab-size", size, "-o", tmp_path / "v", "--quiet")
    ours = tok_merges(tmp_path / "v")
    model, theirs = hf_train(docs, "tok", size)
    assert len(ours) == len(theirs) == size - 256
    first_tie = next((i for i, m in enumerate(ours) if m[3]), len(ours))
    for i in range(first_tie):
        assert ours[i][:2] == theirs[i], f"merge {i} (count {ours[i][2]}): tok {ours[i][:2]} vs HF {theirs[i]}"
    assert first_tie > 20, f"a tie already at merge {first_tie}"
    # Past the first tie, the two may part ways; held-out compression must agree within 0.5%.
    ours_ids = tok("encode", "--vocab", tmp_path / "v", input=held_out.encode()).stdout.split()
    theirs_ids = model.encode(held_out).ids
    assert abs(len(ours_ids) - len(theirs_ids)) / len(theirs_ids) < 0.005, (len(ours_ids), len(theirs_ids))


def test_count_files_are_deterministic_and_mergeable(split_corpus, tmp_path):
    folder, _, _ = split_corpus["en"]
    one = tmp_path / "one.counts"
    two = tmp_path / "two.counts"
    tok("count", "--domain", "en", folder, "--threads", "1", "-o", one)
    tok("count", "--domain", "en", folder, "--threads", "2", "--memory", "2M", "-o", two)  # forces spilled runs
    assert one.read_bytes() == two.read_bytes()
    files = sorted(folder.iterdir())
    half_a, half_b = tmp_path / "a.counts", tmp_path / "b.counts"
    tok("count", "--domain", "en", *files[: len(files) // 2], "-o", half_a)
    tok("count", "--domain", "en", *reversed(files[len(files) // 2:]), "-o", half_b)
    merged = tmp_path / "merged.counts"
    tok("count", "--merge", half_b, half_a, "-o", merged)
    assert merged.read_bytes() == one.read_bytes()
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    tok("train", one, "--vocab-size", 2000, "--threads", "1", "-o", v1)
    tok("train", two, "--vocab-size", 2000, "--threads", "2", "-o", v2)
    assert (v1 / "tokenizer.json").read_bytes() == (v2 / "tokenizer.json").read_bytes()


def test_jsonl_and_zstd_count_like_text(split_corpus, tmp_path):
    folder, docs, _ = split_corpus["zh"]
    plain = tmp_path / "plain.counts"
    tok("count", folder, "-o", plain)
    jsonl = tmp_path / "docs.jsonl"
    with jsonl.open("w") as f:
        for doc in docs:
            f.write(json.dumps({"id": 1, "meta": {"a": [1, 2, {"b": None}]}, "text": doc}, ensure_ascii=True) + "\n")
    subprocess.run(["zstd", "-q", "-f", jsonl, "-o", tmp_path / "docs.jsonl.zst"], check=True)
    for name in ["docs.jsonl", "docs.jsonl.zst"]:
        out = tmp_path / (name + ".counts")
        summary = json.loads(tok("count", tmp_path / name, "-o", out, "--json").stdout)
        assert summary["statistics"]["documents"] == len(docs)
        assert summary["distinctPieces"] == json.loads(tok("count", folder, "-o", tmp_path / "x", "--json").stdout)["distinctPieces"]
        # Same pieces and counts: the training result is identical.
        tok("train", out, "--vocab-size", 1000, "-o", tmp_path / f"v-{name}")
    tok("train", plain, "--vocab-size", 1000, "-o", tmp_path / "v-plain")
    expected = (tmp_path / "v-plain" / "tokenizer.json").read_bytes()
    assert (tmp_path / "v-docs.jsonl" / "tokenizer.json").read_bytes() == expected
    assert (tmp_path / "v-docs.jsonl.zst" / "tokenizer.json").read_bytes() == expected


def test_malformed_jsonl_is_reported_with_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "good line"}\n{"text": broken\n{"text": "another"}\n')
    r = tok("count", bad, "-o", tmp_path / "c", check=False)
    assert r.returncode == 0 and b"bad.jsonl:2" in r.stderr
    r = tok("count", bad, "--strict", "-o", tmp_path / "d", check=False)
    assert r.returncode != 0 and b"bad.jsonl:2" in r.stderr and not (tmp_path / "d").exists()
    r = tok("count", tmp_path / "missing", "-o", tmp_path / "e", check=False)
    assert r.returncode != 0 and b"missing" in r.stderr


def test_trained_vocabulary_exports_exactly(split_corpus, tmp_path):
    """A trained vocabulary is a ranks vocabulary: tiktoken and tokenizers reproduce its ids."""
    import base64
    import tiktoken
    folder, _, held_out = split_corpus["code"]
    tok("train", folder, "--vocab-size", 5000, "--special-tokens", "<|endoftext|>", "-o", tmp_path / "v")
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    assert manifest["size"] == 5000 and manifest["unreachableTokens"] == 0
    tok("export", "--vocab", tmp_path / "v", "--format", "tiktoken", "-o", tmp_path / "r.tiktoken")
    ranks = {base64.b64decode(b): int(r) for b, r in (l.split() for l in (tmp_path / "r.tiktoken").read_bytes().splitlines())}
    enc = tiktoken.Encoding("t", pat_str=manifest["regexes"][0], mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 4999})
    tok("export", "--vocab", tmp_path / "v", "--format", "hf", "-o", tmp_path / "t.json")
    hf = Tokenizer.from_file(str(tmp_path / "t.json"))
    ours = [int(x) for x in tok("encode", "--vocab", tmp_path / "v", input=held_out.encode()).stdout.split()]
    assert ours == enc.encode_ordinary(held_out)
    assert ours == hf.encode(held_out).ids
