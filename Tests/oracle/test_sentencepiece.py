"""SentencePiece models: `tok import tokenizer.model` gives sentencepiece's own
ids (`SentencePieceProcessor.encode`) and decodes as it does, on the four
domains, invalid UTF-8, whitespace runs and user-defined pieces, for models
the sentencepiece trainer makes here (BPE with and without byte fallback,
split digits, user-defined and control symbols, nmt_nfkc, nfkc_cf, identity
with whitespace-only pieces, whitespace as suffix); the HuggingFace form of
the same models (`Metaspace`, `Prepend`/`Replace`, byte fallback, fuse_unk,
ignore_merges) gives `tokenizers`' ids. Unigram models and broken models are
refused with one line and leave nothing behind. Vocabularies `tok build --model
sentencepiece` and `tok train --model sentencepiece` make are exported as a
`tokenizer.model` sentencepiece gives the same ids with, and as a tokenizer.json
`tokenizers` and transformers' LlamaTokenizerFast give them with; published
models (Mistral's, from mistral-common) give sentencepiece's ids."""
import json
import random

import numpy
import pytest
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2
from tokenizers import Tokenizer

from conftest import CORPORA, DOMAINS, REFVOCAB, domain_text, refused, tok

# name -> sentencepiece trainer options beyond the common ones.
MODELS = {
    "plain": {},
    "bytes": {"byte_fallback": True},
    "symbols": {"byte_fallback": True, "split_digits": True, "user_defined_symbols": ["<sep>", "[unused0]", "▁foo", "中文"],
                "control_symbols": ["<|User|>"]},
    "nfkc_cf": {"normalization_rule_name": "nmt_nfkc_cf"},
    "identity": {"normalization_rule_name": "identity", "remove_extra_whitespaces": False, "byte_fallback": True,
                 "allow_whitespace_only_pieces": True, "split_by_whitespace": False},
    "suffix": {"treat_whitespace_as_suffix": True, "byte_fallback": True, "add_dummy_prefix": True},
}


@pytest.fixture(scope="module")
def training_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("sp-train") / "train.txt"
    path.write_text("".join(domain_text(d, 120_000) for d in DOMAINS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def models(training_text, tmp_path_factory):
    """Each model trained by sentencepiece and imported by tok: name -> (model path, vocabulary folder)."""
    root = tmp_path_factory.mktemp("sp-models")
    out = {}
    for name, options in list(MODELS.items()) + [("unigram", {"model_type": "unigram"})]:
        settings = dict(input=str(training_text), model_prefix=str(root / name), vocab_size=3000, model_type="bpe",
                        num_threads=1, minloglevel=2, max_sentence_length=200_000)
        settings.update(options)
        spm.SentencePieceTrainer.train(**settings)
        if name != "unigram":
            tok("import", root / f"{name}.model", "-o", root / name)
        out[name] = (root / f"{name}.model", root / name)
    return out


def texts():
    """The four domains, invalid UTF-8, whitespace runs and the symbols' texts, as bytes."""
    rng = random.Random(31)
    out = [(d, domain_text(d, 300_000).encode()) for d in DOMAINS]
    out.append(("invalid UTF-8", bytes(rng.choice(b" A\n\t\xe4\xb8\xad\x80\xff\xc3\xed\xa0") for _ in range(4000))))
    out.append(("whitespace", ("  a   b \t\t c\n\n  d    \u3000\u00a0 e" * 40 + "  ▁x ▁▁y ▁ " * 10 + "   ").encode()))
    out.append(("symbols", ("<sep>x [unused0]<sep> ▁foo foo 中文字 <|User|>: 12345 ａｂｃ Ⅻ ﬁ" * 30).encode()))
    return out


def encode(vocab, data, *extra):
    return [int(x) for x in tok("encode", "--vocab", vocab, *extra, input=data).stdout.split()]


def assert_same(ours, theirs, what):
    if ours == theirs:
        return
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    raise AssertionError(f"{what}: first difference at id {i}: tok {ours[max(0, i - 2):i + 5]} vs {theirs[max(0, i - 2):i + 5]}")


@pytest.mark.parametrize("name", list(MODELS))
def test_ids_and_text_equal_sentencepiece(name, models):
    path, vocab = models[name]
    sp = spm.SentencePieceProcessor(model_file=str(path))
    for what, data in texts():
        theirs = sp.encode(data)
        assert_same(encode(vocab, data), theirs, f"{name} {what}")
        decoded = tok("decode", "--vocab", vocab, input=" ".join(map(str, theirs)).encode()).stdout
        assert decoded == sp.decode(theirs).encode(), f"{name} {what}: decode differs"
        if name == "identity" and what != "invalid UTF-8" and "▁".encode() not in data:
            assert decoded == data, f"{name} {what}: decode(encode(x)) != x"


def test_pieces_sharing_a_score_merge_leftmost_first(models, tmp_path):
    """A vocabulary extended as Chinese-LLaMA's was: new pieces all of one score,
    so that pairs of them tie and sentencepiece takes the leftmost."""
    path, _ = models["bytes"]
    m = model_pb2.ModelProto()
    m.ParseFromString(path.read_bytes())
    known = {p.piece for p in m.pieces}
    lowest = min(p.score for p in m.pieces) - 1
    text = domain_text("en", 200_000) + domain_text("zh", 200_000)
    pairs = {}
    for a, b in zip(text, text[1:]):
        if (a + b) not in known and " " not in a + b and "\n" not in a + b:
            pairs[a + b] = pairs.get(a + b, 0) + 1
    for piece, _ in sorted(pairs.items(), key=lambda kv: -kv[1])[:300]:
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, lowest, model_pb2.ModelProto.SentencePiece.NORMAL
    (tmp_path / "tied.model").write_bytes(m.SerializeToString())
    tok("import", tmp_path / "tied.model", "-o", tmp_path / "tied")
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "tied.model"))
    for what, data in texts():
        assert_same(encode(tmp_path / "tied", data), sp.encode(data), f"tied {what}")


def test_decode_of_any_ids_equals_sentencepiece(models):
    """Ids no encoding gives: lone and broken byte pieces, controls, <unk>, pieces starting with ▁ anywhere."""
    path, vocab = models["symbols"]
    sp = spm.SentencePieceProcessor(model_file=str(path))
    rng = random.Random(7)
    for _ in range(20):
        ids = [rng.randrange(sp.get_piece_size()) for _ in range(200)]
        got = tok("decode", "--vocab", vocab, input=" ".join(map(str, ids)).encode()).stdout
        assert got == sp.decode(ids).encode()
    r = tok("decode", "--vocab", vocab, input=str(sp.get_piece_size()).encode(), check=False)
    refused(r, str(sp.get_piece_size()))


def test_formats_special_tokens_and_counts(models, tmp_path):
    path, vocab = models["bytes"]
    sp = spm.SentencePieceProcessor(model_file=str(path))
    text = domain_text("en", 50_000).encode()
    theirs = sp.encode(text)
    u32 = tok("encode", "--vocab", vocab, "--format", "u32", input=text).stdout
    assert numpy.frombuffer(u32, dtype="<u4").tolist() == theirs
    assert encode(vocab, text, "--add-special") == sp.encode(text, add_bos=True)
    assert encode(vocab, text, "--lines") == [i for line in text.split(b"\n") for i in sp.encode(line)]
    counted = tok("encode", "--vocab", vocab, "--count", input=text).stdout.decode().splitlines()[1].split("\t")
    assert int(counted[3]) == len(theirs)
    # Megatron: each document as sentencepiece encodes it, ending with </s>.
    docs = [domain_text(d, 20_000) for d in DOMAINS]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    tok("encode", "--vocab", vocab, "--format", "megatron", "--append-eod", tmp_path / "docs.jsonl", "-o", tmp_path / "ds")
    stored = numpy.fromfile(tmp_path / "ds.bin", dtype=numpy.uint16).tolist()
    assert stored == [i for d in docs for i in sp.encode(d) + [sp.eos_id()]]


def test_stats_and_library_agree(models, tmp_path):
    path, vocab = models["plain"]
    sp = spm.SentencePieceProcessor(model_file=str(path))
    text = domain_text("zh", 100_000)
    (tmp_path / "zh.txt").write_text(text)
    report = json.loads(tok("stats", "--vocab", vocab, "--domains", f"zh={tmp_path / 'zh.txt'}", "--json").stdout)
    assert json.dumps(report).count(str(len(sp.encode(text)))) >= 1, report


def test_unigram_is_refused_by_name(models, tmp_path):
    path, _ = models["unigram"]
    r = tok("import", path, "-o", tmp_path / "u", check=False)
    refused(r, "Unigram", path.name)
    assert not (tmp_path / "u").exists()


def broken(model, change):
    m = model_pb2.ModelProto()
    m.ParseFromString(model.read_bytes())
    change(m)
    return m.SerializeToString()


def make_unreachable(m):
    p = m.pieces.add()
    p.piece, p.score, p.type = "☃☄☂", 0.5, model_pb2.ModelProto.SentencePiece.NORMAL


@pytest.mark.parametrize("case,words", [
    ("truncated", ["truncated"]),
    ("model type", ["model type", "9"]),
    ("duplicate", ["repeats piece"]),
    ("unreachable", ["do not encode to themselves", "☃☄☂"]),
    ("byte pieces", ["256"]),
])
def test_broken_models_fail_with_one_line_and_leave_nothing(case, words, models, tmp_path):
    path, _ = models["bytes"]
    if case == "truncated":
        data = path.read_bytes()[: len(path.read_bytes()) // 2]
    elif case == "model type":
        # A second trainer_spec with model_type 9: protobuf merges it into the first.
        data = path.read_bytes() + bytes([0x12, 0x02, 0x18, 0x09])
    elif case == "duplicate":
        data = broken(path, lambda m: setattr(m.pieces[400], "piece", m.pieces[401].piece))
    elif case == "unreachable":
        data = broken(path, make_unreachable)
    else:
        data = broken(path, lambda m: m.pieces.pop(3 + 0x41))
    bad = tmp_path / "bad.model"
    bad.write_bytes(data)
    (tmp_path / "out").mkdir()
    r = tok("import", bad, "-o", tmp_path / "out" / "v", check=False)
    refused(r, "bad.model", *words)
    assert list((tmp_path / "out").iterdir()) == []


def huggingface_forms(model):
    """The HuggingFace form transformers writes for a LLaMA-style tokenizer, and its variants."""
    import transformers

    folder = model.parent / f"{model.stem}-llama"
    folder.mkdir(exist_ok=True)
    (folder / "tokenizer.model").write_bytes(model.read_bytes())
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}))
    transformers.AutoTokenizer.from_pretrained(str(folder)).save_pretrained(str(folder / "out"))
    base = json.loads((folder / "out" / "tokenizer.json").read_text())
    legacy = json.loads(json.dumps(base))
    legacy["pre_tokenizer"] = None
    legacy["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                                {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    legacy["model"]["unk_token"] = "<unk>"
    split = json.loads(json.dumps(base))
    split["pre_tokenizer"].update(split=True, prepend_scheme="first")
    split["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}
    merges = json.loads(json.dumps(base))
    merges["model"].update(ignore_merges=True, byte_fallback=False, unk_token="<unk>", fuse_unk=False)
    return {"converted": base, "legacy": legacy, "split": split, "ignore_merges": merges}


@pytest.mark.parametrize("name", ["bytes", "symbols"])
def test_huggingface_form_equals_tokenizers(name, models, tmp_path):
    path, _ = models[name]
    for form, data in huggingface_forms(path).items():
        (tmp_path / f"{form}.json").write_text(json.dumps(data))
        hf = Tokenizer.from_file(str(tmp_path / f"{form}.json"))
        tok("import", tmp_path / f"{form}.json", "-o", tmp_path / form)
        for what, text in texts():
            text = text.decode("utf-8", errors="replace")
            theirs = hf.encode(text, add_special_tokens=False).ids
            assert_same(encode(tmp_path / form, text.encode(), "--allow-special", "all"), theirs, f"{name} {form} {what}")
            decoded = tok("decode", "--vocab", tmp_path / form, input=" ".join(map(str, theirs)).encode()).stdout
            assert decoded == hf.decode(theirs, skip_special_tokens=False).encode(), f"{name} {form} {what}: decode differs"
        exported = tok("export", "--vocab", tmp_path / form, "--format", "hf", "-o", tmp_path / f"{form}.out.json")
        assert exported.returncode == 0 and json.loads((tmp_path / f"{form}.out.json").read_text()) == data


def test_export_writes_models_sentencepiece_and_tokenizers_load_with_the_same_ids(models, tmp_path):
    """--format sentencepiece gives the model sentencepiece loads; --format hf, for a model the
    HuggingFace form encodes alike (identity, spaces kept), a tokenizer.json `tokenizers` gives
    sentencepiece's ids with; the rest is refused with one line, and byte-level BPE as a model too."""
    path, vocab = models["identity"]
    tok("export", "--vocab", vocab, "--format", "sentencepiece", "-o", tmp_path / "out.model")
    assert (tmp_path / "out.model").read_bytes() == path.read_bytes()
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "out.model"))
    tok("export", "--vocab", vocab, "--format", "hf", "-o", tmp_path / "out.json")
    hf = Tokenizer.from_file(str(tmp_path / "out.json"))
    for what, data in texts():
        if what in ("invalid UTF-8", "symbols"):
            continue  # tokenizers reads text; and it matches control pieces' text, which sentencepiece never does
        text = data.decode()
        assert_same(hf.encode(text, add_special_tokens=False).ids, sp.encode(text), f"exported hf {what}")
        assert_same(encode(vocab, data), sp.encode(text), f"identity {what}")
    r = tok("export", "--vocab", models["bytes"][1], "--format", "hf", "-o", tmp_path / "no.json", check=False)
    refused(r, "nmt_nfkc")
    (tmp_path / "b.txt").write_text(domain_text("en", 20_000))
    tok("train", tmp_path / "b.txt", "--vocab-size", 300, "-o", tmp_path / "bytelevel")
    r = tok("export", "--vocab", tmp_path / "bytelevel", "--format", "sentencepiece", "-o", tmp_path / "no.model", check=False)
    refused(r, "byte-level")
    assert not (tmp_path / "no.json").exists() and not (tmp_path / "no.model").exists()



PUBLISHED = ["mistral-v1", "mistral-v3", "mistral-v7"]


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_models_give_sentencepiece_ids(name, tmp_path):
    """Mistral's SentencePiece BPE models (v1 as Mistral 7B v0.1 ships it; v3 and v7 with
    user-defined pieces), which scripts/fixtures fetches from mistral-common on PyPI."""
    path = REFVOCAB / name / "tokenizer.model"
    if not path.exists():
        pytest.skip(f"{path}: run scripts/fixtures")
    tok("import", path, "-o", tmp_path / name)
    sp = spm.SentencePieceProcessor(model_file=str(path))
    for what, data in texts():
        theirs = sp.encode(data)
        assert_same(encode(tmp_path / name, data), theirs, f"{name} {what}")
        decoded = tok("decode", "--vocab", tmp_path / name, input=" ".join(map(str, theirs)).encode()).stdout
        assert decoded == sp.decode(theirs).encode(), f"{name} {what}: decode differs"


def test_published_model_loads_from_its_fast_form(tmp_path):
    """Mistral v1's pieces share scores, and its ranks skip some: its tokenizer.bin is
    read back, not rebuilt (and rewritten) at every load."""
    path = REFVOCAB / "mistral-v1" / "tokenizer.model"
    if not path.exists():
        pytest.skip(f"{path}: run scripts/fixtures")
    tok("import", path, "-o", tmp_path / "m")
    binary = tmp_path / "m" / "tokenizer.bin"
    encode(tmp_path / "m", b"first load")
    made = binary.stat().st_ino
    # A rebuild writes a new file in its place (a new inode); a load that reads it back at
    # most rewrites its stamps in place.
    for _ in range(2):
        assert encode(tmp_path / "m", b"a later load") == encode(tmp_path / "m", b"a later load")
        assert binary.stat().st_ino == made


SP_SPECIALS = ["<|endoftext|>", "<|User|>"]
SP_USER = ["<sep>", "[unused0]"]


def sp_build(output, *extra):
    domains = ",".join(f"{d}={CORPORA / d}" for d in DOMAINS)
    return tok("build", "--model", "sentencepiece", "--domains", domains, "--vocab-size", 12000, "--special-tokens",
               ",".join(SP_SPECIALS), "--user-defined-symbols", ",".join(SP_USER), "--quiet", "-o", output, *extra)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A SentencePiece vocabulary `tok build` makes from the four domains, exported both ways."""
    root = tmp_path_factory.mktemp("sp-built")
    sp_build(root / "built")
    tok("export", "--vocab", root / "built", "--format", "sentencepiece", "-o", root / "built.model")
    tok("export", "--vocab", root / "built", "--format", "hf", "-o", root / "built.json")
    return root


def test_built_model_round_trips_through_sentencepiece(built):
    """ids of tok on its own vocabulary == sentencepiece's on the exported tokenizer.model, on the
    four domains, invalid UTF-8, whitespace runs and the symbols' texts; decoding too."""
    assert (built / "built.model").read_bytes() == (built / "built" / "tokenizer.model").read_bytes()
    sp = spm.SentencePieceProcessor(model_file=str(built / "built.model"))
    assert sp.get_piece_size() == 12000
    for what, data in texts():
        theirs = sp.encode(data)
        assert_same(encode(built / "built", data), theirs, f"built {what}")
        decoded = tok("decode", "--vocab", built / "built", input=" ".join(map(str, theirs)).encode()).stdout
        assert decoded == sp.decode(theirs).encode(), f"built {what}: decode differs"
        if what not in ("invalid UTF-8", "symbols") and "▁".encode() not in data:
            assert decoded == data, f"built {what}: decode(encode(x)) != x"


def test_built_model_layout_and_rules(built):
    """<unk>, <s>, </s> at 0-2, control and user-defined pieces, the 256 byte pieces, merged
    pieces best first (no ▁ past the start unless all ▁, no digit with anything, at most 16
    characters), then single characters; identity normalizer, dummy prefix, byte fallback."""
    m = model_pb2.ModelProto()
    m.ParseFromString((built / "built.model").read_bytes())
    T = model_pb2.ModelProto.SentencePiece
    head = [(p.piece, p.type) for p in m.pieces[:3 + len(SP_SPECIALS) + len(SP_USER)]]
    assert head == [("<unk>", T.UNKNOWN), ("<s>", T.CONTROL), ("</s>", T.CONTROL)] \
        + [(s, T.CONTROL) for s in SP_SPECIALS] + [(u, T.USER_DEFINED) for u in SP_USER]
    start = len(head)
    assert [p.piece for p in m.pieces[start:start + 256]] == [f"<0x{b:02X}>" for b in range(256)]
    assert all(p.type == T.BYTE for p in m.pieces[start:start + 256])
    rest = m.pieces[start + 256:]
    assert all(p.type == T.NORMAL for p in rest)
    scores = [p.score for p in rest]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)
    merged = [p.piece for p in rest if len(p.piece) > 1]
    assert [p.piece for p in rest[:len(merged)]] == merged  # single characters last
    for piece in merged:
        assert "▁" not in piece[1:] or set(piece) == {"▁"}, piece
        assert not any(c.isdigit() for c in piece) and len(piece) <= 16, piece
    assert any(all("\u4e00" <= c <= "\u9fff" for c in p) for p in merged)  # Chinese pieces
    assert "▁▁▁▁" in merged  # indentation
    assert m.normalizer_spec.name == "identity" and m.normalizer_spec.add_dummy_prefix
    assert not m.normalizer_spec.remove_extra_whitespaces and m.trainer_spec.byte_fallback
    assert m.trainer_spec.model_type == model_pb2.TrainerSpec.BPE


def test_built_pieces_encode_to_themselves(built):
    """Every normal piece, as text (without the dummy prefix), is that one piece in sentencepiece."""
    m = model_pb2.ModelProto()
    m.ParseFromString((built / "built.model").read_bytes())
    m.normalizer_spec.add_dummy_prefix = False
    sp = spm.SentencePieceProcessor(model_proto=m.SerializeToString())
    normal = [(i, p.piece) for i, p in enumerate(m.pieces) if p.type == model_pb2.ModelProto.SentencePiece.NORMAL]
    assert len(normal) > 10_000
    wrong = [(i, piece, sp.encode(piece.replace("▁", " "))) for i, piece in normal if sp.encode(piece.replace("▁", " ")) != [i]]
    assert wrong == []


def test_built_huggingface_form_gives_the_same_ids(built):
    """The exported tokenizer.json in tokenizers and in transformers' LlamaTokenizerFast: sentencepiece's ids."""
    import transformers

    sp = spm.SentencePieceProcessor(model_file=str(built / "built.model"))
    hf = Tokenizer.from_file(str(built / "built.json"))
    llama = transformers.LlamaTokenizerFast(tokenizer_file=str(built / "built.json"))
    for what, data in texts():
        if what in ("invalid UTF-8", "symbols"):
            continue  # tokenizers reads text; and it matches control pieces' text, which sentencepiece never does
        text = data.decode()
        theirs = sp.encode(text)
        assert_same(hf.encode(text, add_special_tokens=False).ids, theirs, f"tokenizers {what}")
        assert_same(llama.encode(text, add_special_tokens=False), theirs, f"LlamaTokenizerFast {what}")
        assert llama.encode(text)[0] == sp.bos_id()


def test_sentencepiece_training_is_deterministic_across_threads(built, tmp_path):
    """`tok build` on one thread makes the same model as on all cores; `tok train` too, and its
    model round-trips through sentencepiece."""
    sp_build(tmp_path / "one", "--threads", 1)
    assert (tmp_path / "one" / "tokenizer.model").read_bytes() == (built / "built" / "tokenizer.model").read_bytes()
    (tmp_path / "train.txt").write_bytes(b"".join(domain_text(d, 400_000).encode() for d in DOMAINS))
    models = []
    for threads in (1, 2):
        out = tmp_path / f"train-{threads}"
        r = tok("train", "--model", "sentencepiece", tmp_path / "train.txt", "--vocab-size", 8000, "--threads", threads, "--quiet",
                "-o", out)
        assert b"8000 ids" in r.stdout
        models.append((out / "tokenizer.model").read_bytes())
        assert json.loads((out / "training.json").read_text())["model"] == "sentencepiece"
    assert models[0] == models[1]
    sp = spm.SentencePieceProcessor(model_proto=models[0])
    for what, data in texts():
        assert_same(encode(tmp_path / "train-1", data), sp.encode(data), f"trained {what}")


def test_sentencepiece_training_bad_inputs_fail_with_one_line(built, tmp_path):
    (tmp_path / "t.txt").write_text(domain_text("zh", 200_000))
    (tmp_path / "out").mkdir()
    r = tok("train", "--model", "sentencepiece", tmp_path / "t.txt", "--vocab-size", 500, "--quiet", "-o", tmp_path / "out" / "v",
            check=False)
    refused(r, "500 ids", "no room", "--character-coverage")
    r = tok("train", "--model", "sentencepiece", tmp_path / "t.txt", "--vocab-size", 5000, "--special-tokens", "</s>",
            "--quiet", "-o", tmp_path / "out" / "v", check=False)
    refused(r, "</s>")
    r = tok("train", tmp_path / "t.txt", "--vocab-size", 5000, "--user-defined-symbols", "<x>", "-o", tmp_path / "out" / "v", check=False)
    refused(r, "--user-defined-symbols", code=64)
    r = tok("export", "--vocab", built / "built", "--format", "tiktoken", "-o", tmp_path / "out" / "x.tiktoken", check=False)
    refused(r, "SentencePiece")
    r = tok("extend", "--vocab", built / "built", "--domains", f"zh={tmp_path / 't.txt'}", "--add", 10, "--quiet",
            "-o", tmp_path / "out" / "x", check=False)
    refused(r, "SentencePiece", "tok extend")
    assert list((tmp_path / "out").iterdir()) == []
