"""tok encode gives exactly the ids of tiktoken and HuggingFace tokenizers, on
real text of the four domains and on random Unicode, for published vocabularies
and for vocabularies trained by `tokenizers` during the run."""
import base64
import json
import random

import pytest
import tiktoken
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from conftest import DOMAINS, REFVOCAB, every_code_point, random_text, tok


def tok_encode(vocab, text, *extra):
    data = text.encode("utf-8") if isinstance(text, str) else text
    out = tok("encode", "--vocab", vocab, *extra, input=data).stdout.split()
    return [int(x) for x in out]


def tiktoken_from_export(vocab, tmp_path):
    """A tiktoken.Encoding built only from what tok exports: the ranks file and the manifest."""
    ranks_file = tmp_path / "ranks.tiktoken"
    tok("export", "--vocab", vocab, "--format", "tiktoken", "-o", ranks_file)
    manifest = json.loads((vocab / "manifest.json").read_text())
    (pat,) = manifest["regexes"]
    ranks = {}
    for line in ranks_file.read_bytes().splitlines():
        b64, rank = line.split()
        ranks[base64.b64decode(b64)] = int(rank)
    specials = {s["content"]: s["id"] for s in manifest["specialTokens"]}
    return tiktoken.Encoding(manifest["name"], pat_str=pat, mergeable_ranks=ranks, special_tokens=specials)


def hf_from_export(vocab, tmp_path):
    path = tmp_path / "exported-tokenizer.json"
    tok("export", "--vocab", vocab, "--format", "hf", "-o", path)
    return Tokenizer.from_file(str(path))


def assert_same(ours, theirs, text, what):
    if ours == theirs:
        return
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    raise AssertionError(f"{what}: first difference at id {i}: tok {ours[i:i + 5]} vs {theirs[i:i + 5]}")


@pytest.fixture(scope="session")
def imported(tmp_path_factory):
    """Published vocabularies imported with tok import."""
    root = tmp_path_factory.mktemp("vocab")
    out = {}
    for name, source, pattern in [("o200k", "o200k_base.tiktoken", "o200k"), ("cl100k", "cl100k_base.tiktoken", "cl100k"),
                                  ("qwen2.5", "qwen2.5/tokenizer.json", None), ("deepseek-v3", "deepseek-v3/tokenizer.json", None),
                                  ("llama3", "llama3/tokenizer.json", None)]:
        args = ["import", REFVOCAB / source, "-o", root / name] + (["--pattern", pattern] if pattern else [])
        tok(*args)
        out[name] = root / name
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["o200k", "cl100k"])
def test_tiktoken_vocabularies_match_tiktoken_and_tokenizers(name, imported, corpus, tmp_path):
    vocab = imported[name]
    enc = tiktoken_from_export(vocab, tmp_path)
    hf = hf_from_export(vocab, tmp_path)
    rng = random.Random(name)
    texts = [(d, corpus[d]) for d in DOMAINS] + [(f"random{k}", random_text(rng, 3000)) for k in range(5)]
    for label, text in texts:
        ours = tok_encode(vocab, text)
        assert_same(ours, enc.encode_ordinary(text), text, f"{name} {label} vs tiktoken")
        assert_same(ours, hf.encode(text, add_special_tokens=False).ids, text, f"{name} {label} vs tokenizers")


@pytest.mark.parametrize("name", ["o200k", "cl100k", "deepseek-v3"])
def test_every_code_point_matches_the_references(name, imported, tmp_path):
    """Code points assigned up to Unicode 16 take the classes tiktoken's and
    tokenizers' regex engines give them, whatever the machine's ICU knows."""
    vocab = imported[name]
    text = every_code_point()
    ours = tok_encode(vocab, text)
    if name == "deepseek-v3":
        original = Tokenizer.from_file(str(REFVOCAB / name / "tokenizer.json"))
        assert_same(ours, original.encode(text, add_special_tokens=False).ids, text, f"{name} vs its tokenizer.json")
        return
    assert_same(ours, tiktoken_from_export(vocab, tmp_path).encode_ordinary(text), text, f"{name} vs tiktoken")
    assert_same(ours, hf_from_export(vocab, tmp_path).encode(text, add_special_tokens=False).ids, text,
                f"{name} vs tokenizers")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["qwen2.5", "deepseek-v3", "llama3"])
def test_published_tokenizer_json_matches_tokenizers(name, imported, corpus, tmp_path):
    vocab = imported[name]
    original = Tokenizer.from_file(str(REFVOCAB / name / "tokenizer.json"))
    exported = hf_from_export(vocab, tmp_path)
    rng = random.Random(name)
    texts = [(d, corpus[d][:1_000_000]) for d in DOMAINS] + [(f"random{k}", random_text(rng, 2000)) for k in range(5)]
    for label, text in texts:
        ours = tok_encode(vocab, text, "--allow-special", "all")
        assert_same(ours, original.encode(text, add_special_tokens=False).ids, text, f"{name} {label} vs its tokenizer.json")
        assert_same(ours, exported.encode(text, add_special_tokens=False).ids, text, f"{name} {label} vs exported")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, corpus):
    """Vocabularies trained by tokenizers' BpeTrainer on the domains' text, imported into tok."""
    root = tmp_path_factory.mktemp("trained")
    out = {}
    for pattern in ["tok", "o200k"]:
        (regex,) = json.loads(tok("pretokenize", "--pattern", pattern, "--print-regexes", "--hf").stdout)
        model = Tokenizer(models.BPE(ignore_merges=False))
        model.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        model.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=6000, special_tokens=["<|endoftext|>"], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        model.train_from_iterator([corpus[d][:1_500_000] for d in DOMAINS], trainer=trainer)
        path = root / f"{pattern}.json"
        model.save(str(path))
        tok("import", path, "-o", root / pattern)
        out[pattern] = (path, root / pattern)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("pattern", ["tok", "o200k"])
def test_trained_vocabularies_match_tokenizers(pattern, trained, corpus, tmp_path):
    path, vocab = trained[pattern]
    original = Tokenizer.from_file(str(path))
    exported = hf_from_export(vocab, tmp_path)
    rng = random.Random(pattern)
    texts = [(d, corpus[d][1_500_000:]) for d in DOMAINS] + [(f"random{k}", random_text(rng, 2000)) for k in range(5)]
    for label, text in texts:
        ours = tok_encode(vocab, text)
        assert_same(ours, original.encode(text, add_special_tokens=False).ids, text, f"{pattern} {label} vs trainer's file")
        assert_same(ours, exported.encode(text, add_special_tokens=False).ids, text, f"{pattern} {label} vs exported")


def test_special_tokens_only_when_allowed(imported, tmp_path):
    vocab = imported["o200k"]
    enc = tiktoken_from_export(vocab, tmp_path)
    text = "before<|endoftext|>after <|endofprompt|>\n"
    assert tok_encode(vocab, text) == enc.encode_ordinary(text)
    assert tok_encode(vocab, text, "--allow-special", "all") == enc.encode(text, allowed_special="all")
    assert 199999 in tok_encode(vocab, text, "--allow-special", "all")
    assert 199999 not in tok_encode(vocab, text)
    only = tok_encode(vocab, text, "--allow-special", "<|endofprompt|>")
    assert only == enc.encode(text, allowed_special={"<|endofprompt|>"}, disallowed_special=())


@pytest.mark.parametrize("name", ["o200k", "deepseek-v3"])
def test_any_bytes_round_trip(name, imported):
    """Random bytes, invalid UTF-8 included, come back byte for byte (for
    vocabularies without a normalizer: NFC changes text by design)."""
    vocab = imported[name]
    rng = random.Random(name)
    for trial in range(8):
        data = bytes(rng.randrange(256) for _ in range(rng.choice([1, 50, 5000])))
        data += "日本語 text ünïcödé".encode() + bytes([0xFF, 0xC0, 0xE2, 0x82]) + data[:10]
        r = tok("encode", "--vocab", vocab, input=data)
        back = tok("decode", "--vocab", vocab, input=r.stdout).stdout
        assert back == data
        assert b"bytes of invalid UTF-8" in r.stderr


def test_corpus_round_trip_and_threads(imported, corpus, tmp_path):
    vocab = imported["o200k"]
    data = "".join(corpus[d] for d in DOMAINS).encode("utf-8") * 2
    src = tmp_path / "all.txt"
    src.write_bytes(data)
    one = tok("encode", "--vocab", vocab, "--threads", "1", src).stdout
    two = tok("encode", "--vocab", vocab, "--threads", "2", src).stdout
    assert one == two
    assert tok("decode", "--vocab", vocab, input=one).stdout == data


def test_lines_mode(imported, corpus, tmp_path):
    vocab = imported["cl100k"]
    enc = tiktoken_from_export(vocab, tmp_path)
    lines = corpus["en"][:200_000].split("\n")[:-1]
    src = tmp_path / "lines.txt"
    src.write_text("".join(l + "\n" for l in lines))
    out = tok("encode", "--vocab", vocab, "--lines", src).stdout.decode().split("\n")[:-1]
    assert len(out) == len(lines)
    for line, ids in zip(lines, out):
        assert [int(x) for x in ids.split()] == enc.encode_ordinary(line)
    back = tok("decode", "--vocab", vocab, "--lines", input="\n".join(out).encode() + b"\n").stdout
    assert back == src.read_bytes()


def test_lines_mode_in_blocks_on_threads(imported, corpus, tmp_path):
    """--lines over several 1 MiB blocks: a line longer than a block, no final
    newline; one and two threads give the same lines, each tiktoken's ids."""
    vocab = imported["cl100k"]
    enc = tiktoken_from_export(vocab, tmp_path)
    lines = (corpus["en"] + corpus["code"]).split("\n")
    while sum(len(l) + 1 for l in lines) < 3_000_000:
        lines = lines + lines
    lines.insert(len(lines) // 2, "words of a very long line, " * 60_000)
    lines.append("the last line, without a newline")
    src = tmp_path / "lines.txt"
    src.write_text("\n".join(lines))  # the last line has no newline
    one = tok("encode", "--vocab", vocab, "--lines", "--threads", "1", src).stdout
    two = tok("encode", "--vocab", vocab, "--lines", "--threads", "2", src).stdout
    assert one == two
    out = one.decode().split("\n")[:-1]
    assert len(out) == len(lines)
    for k in sorted({0, len(lines) // 2, len(lines) - 1, *random.Random(5).sample(range(len(lines)), 300)}):
        assert [int(x) for x in out[k].split()] == enc.encode_ordinary(lines[k])


def test_count(imported, corpus, tmp_path):
    vocab = imported["o200k"]
    enc = tiktoken_from_export(vocab, tmp_path)
    files = []
    for d in DOMAINS:
        f = tmp_path / f"{d}.txt"
        f.write_text(corpus[d][:300_000])
        files.append(f)
    rows = tok("encode", "--vocab", vocab, "--count", *files).stdout.decode().strip().split("\n")
    assert rows[0].split("\t") == ["file", "bytes", "characters", "tokens", "bytes/token"]
    for f, row in zip(files, rows[1:]):
        name, nbytes, chars, tokens, ratio = row.split("\t")
        text = f.read_text()
        assert int(nbytes) == len(text.encode())
        assert int(chars) == len(text)
        assert int(tokens) == len(enc.encode_ordinary(text))


def test_errors_name_the_file_and_leave_no_output(imported, tmp_path):
    vocab = imported["o200k"]
    out = tmp_path / "out.txt"
    r = tok("encode", "--vocab", vocab, tmp_path / "missing.txt", "-o", out, check=False)
    assert r.returncode != 0 and b"missing.txt" in r.stderr and not out.exists()
    ids = tmp_path / "ids.txt"
    ids.write_text("1 2 3\n4 999999999 5\n")
    r = tok("decode", "--vocab", vocab, ids, "-o", out, check=False)
    assert r.returncode != 0 and b"ids.txt:2" in r.stderr and b"999999999" in r.stderr
    assert not out.exists() and list(tmp_path.glob("out.txt*")) == []
    ids.write_text("1 2 x3\n")
    r = tok("decode", "--vocab", vocab, ids, check=False)
    assert r.returncode != 0 and b"ids.txt:1" in r.stderr
    r = tok("encode", "--vocab", tmp_path / "nope", input=b"x", check=False)
    assert r.returncode != 0 and b"nope" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"type": "WordPiece", "vocab": {}}}')
    r = tok("import", bad, "-o", tmp_path / "v", check=False)
    assert r.returncode != 0 and b"WordPiece" in r.stderr and not (tmp_path / "v").exists()


def test_one_long_line_encodes_in_parallel_like_tiktoken(imported, corpus, tmp_path):
    """A 5 MB text with no newline at all is still cut (at spaces between letters) and
    encoded on two threads with exactly tiktoken's ids."""
    vocab = imported["o200k"]
    enc = tiktoken_from_export(vocab, tmp_path)
    text = (corpus["en"] + corpus["code"]).replace("\n", " ")
    src = tmp_path / "line.txt"
    src.write_text(text)
    two = [int(x) for x in tok("encode", "--vocab", vocab, "--threads", "2", src).stdout.split()]
    assert two == enc.encode_ordinary(text)


@pytest.mark.parametrize("fmt,width", [("u32", 4), ("u16", 2)])
def test_raw_binary_output_gives_tiktokens_ids_and_round_trips(fmt, width, imported, corpus, tmp_path):
    import array
    if fmt == "u16":
        vocab = tmp_path / "v16"  # u16 needs a vocabulary of at most 65,536 ids: o200k's first 50,000 ranks
        lines = (REFVOCAB / "o200k_base.tiktoken").read_bytes().splitlines()[:50_000]
        (tmp_path / "r.tiktoken").write_bytes(b"\n".join(lines) + b"\n")
        tok("import", tmp_path / "r.tiktoken", "--pattern", "o200k", "--special", "<|endoftext|>=50000", "-o", vocab)
        r = tok("encode", "--vocab", imported["o200k"], "--format", "u16", input=b"x", check=False)
        assert r.returncode == 1 and b"do not fit --format u16" in r.stderr
    else:
        vocab = imported["o200k"]
    enc = tiktoken_from_export(vocab, tmp_path)
    text = corpus["zh"][:300_000] + corpus["code"][:300_000]
    (tmp_path / "t.txt").write_text(text)
    tok("encode", "--vocab", vocab, "--format", fmt, tmp_path / "t.txt", "-o", tmp_path / "t.ids")
    ids = array.array("I" if width == 4 else "H", (tmp_path / "t.ids").read_bytes())
    assert list(ids) == enc.encode_ordinary(text)
    tok("decode", "--vocab", vocab, "--format", fmt, tmp_path / "t.ids", "-o", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == text


@pytest.mark.parametrize("name", ["o200k", "cl100k", "qwen2.5"])
def test_piece_cache_changes_no_id(name, imported, corpus, tmp_path):
    """The piece cache off, tiny (16 entries: evicting all the time, and the
    long-piece cache with it) and at 65,536 entries gives tiktoken's or
    tokenizers' ids, on the four domains, repeated text and random Unicode."""
    vocab = imported[name]
    rng = random.Random(f"piece-cache-{name}")
    noise = "".join(random_text(rng, 400) for _ in range(30))
    # Repeated pieces make hits; rows of '*' and '─' make long pieces that repeat.
    repeated = ("(" + "*" * 70 + ")\n" + " ├" + "─" * 40 + "┤\n" + "中文分词的测试句子没有标点符号") * 50
    text = "\n\n".join([corpus[d][:200_000] for d in DOMAINS] + [noise, repeated, corpus["en"][:50_000]])
    data = text.encode("utf-8")
    if name == "qwen2.5":
        theirs = Tokenizer.from_file(str(REFVOCAB / "qwen2.5/tokenizer.json")).encode(text, add_special_tokens=False).ids
    else:
        theirs = tiktoken_from_export(vocab, tmp_path).encode(text, disallowed_special=())
    for entries in ["0", "16", "65536"]:
        out = tmp_path / f"ids-{entries}.u32"
        tok("encode", "--vocab", vocab, "--format", "u32", "--piece-cache", entries, "--threads", "1", "-o", out, input=data)
        ours = list(memoryview(out.read_bytes()).cast("I"))
        assert_same(ours, theirs, text, f"--piece-cache {entries}")
