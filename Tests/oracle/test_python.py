"""The Python package (`python/`, `import tok`): ids equal to tiktoken's and
tokenizers' on the four domains, batches equal to singles on any number of
threads, many Python threads and forked workers at once, errors as Python
exceptions with the library's one line, the transformers tokenizer equal to
transformers' own, and `pip install ./python` into a fresh venv giving a
library that needs no Swift runtime.

The package is imported from the source tree (python/), which loads the
library `swift build -c release` made (.build/release/libTokC.so)."""
import json
import multiprocessing
import os
import pathlib
import subprocess
import sys
import threading

import numpy
import pytest
import tiktoken
from tokenizers import Tokenizer

from conftest import CORPORA, DOMAINS, REFVOCAB, ROOT, domain_text, tok as tok_cli

sys.path.insert(0, str(ROOT / "python"))
import tok  # noqa: E402

LIBRARY = ROOT / ".build" / "release" / "libTokC.so"


@pytest.fixture(scope="module")
def texts():
    """About 1 MB of each domain, and its documents (paragraphs)."""
    out = {}
    for d in DOMAINS:
        text = domain_text(d, 1_000_000)
        out[d] = (text, [p for p in text.split("\n\n") if p])
    return out


@pytest.fixture(scope="module")
def vocabularies(tmp_path_factory):
    """o200k and cl100k imported by the CLI, and a vocabulary tok.build makes."""
    root = tmp_path_factory.mktemp("python-vocab")
    out = {}
    for name in ["o200k", "cl100k"]:
        tok_cli("import", REFVOCAB / f"{name}_base.tiktoken", "--pattern", name, "-o", root / name)
        out[name] = root / name
    report = tok.build({d: CORPORA / d for d in DOMAINS}, root / "built", vocab_size=8000,
                       special_tokens=["<|endoftext|>", "<|pad|>"])
    assert report["vocabularySize"] == 8000 and [d["name"] for d in report["domains"]] == DOMAINS
    out["built"] = root / "built"
    return out


def references(folder, tmp_path):
    """tiktoken and tokenizers made from what tok exports."""
    manifest = json.loads((folder / "manifest.json").read_text())
    enc = tok.load(folder)
    ranks = {}
    for line in enc.export("tiktoken").splitlines():
        import base64
        b64, rank = line.split()
        ranks[base64.b64decode(b64)] = int(rank)
    (pattern,) = manifest["regexes"]
    specials = {s["content"]: s["id"] for s in manifest["specialTokens"]}
    reference = tiktoken.Encoding(manifest["name"], pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
    return enc, reference, Tokenizer.from_str(enc.export("hf").decode())


def published(name):
    """tiktoken's own o200k_base or cl100k_base (its pattern and special
    tokens), read from the reference ranks file rather than downloaded."""
    import tiktoken_ext.openai_public as public
    from tiktoken.load import load_tiktoken_bpe
    original = public.load_tiktoken_bpe
    public.load_tiktoken_bpe = lambda *args, **kwargs: load_tiktoken_bpe(str(REFVOCAB / f"{name}.tiktoken"))
    try:
        return tiktoken.Encoding(**getattr(public, name)())
    finally:
        public.load_tiktoken_bpe = original


def first_difference(ours, theirs):
    k = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    return f"first difference at id {k}: tok {ours[k:k + 5]} vs {theirs[k:k + 5]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["o200k", "cl100k", "built"])
def test_ids_equal_tiktoken_and_tokenizers(name, vocabularies, texts, tmp_path):
    enc, reference, hf = references(vocabularies[name], tmp_path)
    for domain, (text, documents) in texts.items():
        ours = enc.encode_ordinary(text)
        assert ours == reference.encode_ordinary(text), f"{name} {domain} vs tiktoken: " + first_difference(ours, reference.encode_ordinary(text))
        theirs = hf.encode(text, add_special_tokens=False).ids
        assert ours == theirs, f"{name} {domain} vs tokenizers: " + first_difference(ours, theirs)
        assert enc.encode(text) == ours and enc.encode(text.encode()) == ours
        assert enc.decode(ours) == text and enc.decode_bytes(ours) == text.encode()
        # Batches equal singles, on any number of threads.
        singles = reference.encode_ordinary_batch(documents)
        for threads in [None, 1, 2, 3]:
            assert enc.encode_batch(documents, threads=threads) == singles, f"{name} {domain} threads={threads}"
        ids, offsets = enc.encode_to_numpy(documents, threads=2)
        assert ids.dtype == numpy.uint32 and offsets.dtype == numpy.int64 and len(offsets) == len(documents) + 1
        assert ids.tolist() == [i for s in singles for i in s]
        assert numpy.diff(offsets).tolist() == [len(s) for s in singles]
        assert enc.encode_to_numpy(text).tolist() == ours
        assert enc.count(documents) == [len(s) for s in singles] and enc.count(text) == len(ours)
        assert enc.decode_batch(singles[:50]) == documents[:50]


def test_three_ways_to_load_give_the_same_ids(vocabularies, texts, tmp_path):
    text = texts["zh"][0][:100_000] + texts["code"][0][:100_000]
    folder = tok.load(vocabularies["o200k"])
    ranks = tok.load(REFVOCAB / "o200k_base.tiktoken")  # the pattern from the name
    (tmp_path / "tokenizer.json").write_bytes(folder.export("hf"))
    from_json = tok.load(tmp_path / "tokenizer.json")
    assert folder.encode(text) == ranks.encode(text) == from_json.encode(text) == published("o200k_base").encode(text)
    assert folder.n_vocab == ranks.n_vocab == 200019 == published("o200k_base").n_vocab
    assert folder.special_tokens == {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
    assert folder.eot_token == 199999 and folder.name == "o200k"


def test_copies_are_the_same_encoding_and_pickles_load_again(vocabularies):
    import copy
    import pickle
    enc = tok.load(vocabularies["cl100k"])
    assert copy.copy(enc) is enc and copy.deepcopy({"e": enc})["e"] is enc
    again = pickle.loads(pickle.dumps(enc))
    assert again is not enc and again.encode("pickled text 中文") == enc.encode("pickled text 中文")


def test_special_tokens_as_tiktoken(vocabularies):
    enc = tok.load(vocabularies["cl100k"])
    reference = published("cl100k_base")
    text = "hello <|endoftext|> world <|fim_prefix|>x"
    for kwargs in [dict(allowed_special="all"), dict(allowed_special={"<|endoftext|>"}, disallowed_special=()),
                   dict(disallowed_special=()), dict(allowed_special={"<|fim_prefix|>"}, disallowed_special=())]:
        assert enc.encode(text, **kwargs) == reference.encode(text, **kwargs), kwargs
    assert enc.encode_batch([text, "a"], allowed_special="all") == reference.encode_batch([text, "a"], allowed_special="all")
    for kwargs in [{}, dict(allowed_special={"<|fim_prefix|>"})]:
        with pytest.raises(ValueError):
            reference.encode(text, **kwargs)
        with pytest.raises(tok.InputError) as raised:
            enc.encode(text, **kwargs)
        assert "'<|endoftext|>'" in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(tok.InputError, match="document 1: "):
        enc.encode_batch(["fine", text])
    assert enc.encode_ordinary(text) == reference.encode_ordinary(text)
    assert enc.decode([100257]) == "<|endoftext|>" and enc.encode_single_token("<|endoftext|>") == 100257
    assert enc.encode_single_token(b"hello") == reference.encode_single_token(b"hello")
    assert enc.token_to_id("Ġworld") == reference.encode_single_token(" world") == enc.token_to_id(b" world")
    assert enc.id_to_token(enc.token_to_id("Ġworld")) == "Ġworld" and enc.id_to_token(100257) == "<|endoftext|>"
    assert enc.token_to_id("no such token at all") is None and enc.id_to_token(100261) is None
    assert enc.decode_single_token_bytes(1000) == reference.decode_single_token_bytes(1000)


def test_any_bytes_and_surrogates(vocabularies):
    enc = tok.load(vocabularies["o200k"])
    reference = published("o200k_base")
    raw = b"caf\xc3\xa9 \xff\xfe broken \xe4\xb8 utf-8 \x80"
    ids = enc.encode(raw)
    assert enc.decode_bytes(ids) == raw
    expected = [int(x) for x in tok_cli("encode", "--vocab", vocabularies["o200k"], input=raw).stdout.split()]
    assert ids == expected
    assert enc.encode("a\ud800b") == reference.encode("a\ud800b")
    # A batch's texts of every kind: the library reads the strs, Python the rest.
    mixed = ["plain", "caf\u00e9", "a\ud800b", b"\xff bytes", "\u4e2d\u6587 \U0001F600", bytearray(b"more"), "after"]
    assert enc.encode_batch(mixed) == [enc.encode(bytes(x) if isinstance(x, bytearray) else x) for x in mixed]
    assert enc.encode_batch([b"first", "then a str"]) == [enc.encode(b"first"), enc.encode("then a str")]
    assert enc.encode("") == [] and enc.encode_batch([]) == [] and enc.count([]) == []
    ids, offsets = enc.encode_to_numpy([])
    assert ids.size == 0 and offsets.tolist() == [0]


def test_str_of_each_width_read_in_place(vocabularies, texts):
    """A non-ASCII str is encoded from its own code points (1, 2 or 4 bytes
    each), converted a block at a time: the ids equal those of its UTF-8,
    across many blocks, with special tokens, and with a surrogate (its UTF-8
    path then)."""
    from tok._native import code_points
    reference = published("o200k_base")
    enc = tok.load(vocabularies["o200k"])
    mixed = "".join(texts[d][0][:600_000] for d in DOMAINS)
    cases = {1: mixed.encode("latin-1", "ignore").decode("latin-1") + "\xe9",
             2: "".join(c for c in mixed if c <= "\uffff") + "\u0100",
             4: mixed + "\U0001F600"}
    for width, text in cases.items():
        assert code_points(text)[1] == width
        assert enc.encode(text) == enc.encode(text.encode()) == reference.encode(text), f"width {width}"
    special = "caf\xe9 <|endoftext|> \u4e2d\U0001F600"
    assert enc.encode(special, allowed_special="all") == reference.encode(special, allowed_special="all")
    # Bytes are encoded a part of about a MiB at a time: the parts' cuts split no special token.
    many = (mixed[:400_000] + "<|endoftext|>") * 8
    assert enc.encode(many.encode(), allowed_special="all") == reference.encode(many, allowed_special="all")
    with pytest.raises(tok.InputError, match="endoftext"):
        enc.encode(special)
    for text in ["\xe9" + "a\ud800b" * 70_000, "\U0001F600 \udfff"]:
        assert enc.encode(text) == reference.encode(text)


def test_add_special_as_tokenizers():
    path = REFVOCAB / "llama3" / "tokenizer.json"
    enc = tok.load(path)
    hf = Tokenizer.from_file(str(path))
    text = "The quick brown fox. 中文 123"
    assert enc.encode(text, add_special=True) == hf.encode(text).ids
    assert enc.encode_batch([text, ""], add_special=True) == [e.ids for e in hf.encode_batch([text, ""])]
    assert enc.count(text, add_special=True) == len(hf.encode(text).ids)


def test_errors_carry_one_line(vocabularies, tmp_path):
    missing = tmp_path / "nothing-here"
    with pytest.raises(tok.FileError) as raised:
        tok.load(missing)
    assert isinstance(raised.value, OSError) and isinstance(raised.value, tok.Error)
    assert str(raised.value).startswith(str(missing)) and "\n" not in str(raised.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(tok.InputError, match="not a vocabulary folder"):
        tok.load(tmp_path / "empty")
    with pytest.raises(tok.InputError, match="unknown pattern 'o300k'") as raised:
        tok.load(REFVOCAB / "o200k_base.tiktoken", pattern="o300k")
    assert isinstance(raised.value, ValueError)
    ranks = tmp_path / "ranks.tiktoken"
    ranks.write_bytes((REFVOCAB / "cl100k_base.tiktoken").read_bytes()[:100_000].rsplit(b"\n", 1)[0] + b"\n")
    with pytest.raises(tok.InputError, match="needs a pattern"):
        tok.load(ranks)
    (tmp_path / "bad.json").write_text('{"model": {"type": "WordPiece"}}')
    with pytest.raises(tok.InputError, match="bad.json"):
        tok.load(tmp_path / "bad.json")
    enc = tok.load(vocabularies["o200k"])
    for ids, bad in [([1, 2, 10**6], 10**6), ([-1], -1), ([2**40], 2**40), ([200001], 200001)]:
        with pytest.raises(tok.InputError, match=f"token id {bad} at position") as raised:
            enc.decode(ids)
        assert "\n" not in str(raised.value)
    with pytest.raises(tok.InputError, match="sequence 1: token id 300000"):
        enc.decode_batch([[1], [300000]])
    with pytest.raises(TypeError):
        enc.encode(12)


def test_many_python_threads_at_once(vocabularies, texts):
    enc = tok.load(vocabularies["o200k"])
    documents = [d for _, (_, docs) in texts.items() for d in docs[:200]]
    expected = [enc.encode_ordinary(d) for d in documents]
    failures = []

    def work(k):
        try:
            for round_ in range(3):
                mine = documents[k::8]
                if enc.encode_batch(mine, threads=2) != expected[k::8]:
                    failures.append((k, "batch"))
                for d, e in zip(mine[:20], expected[k::8][:20]):
                    if enc.encode(d) != e:
                        failures.append((k, "single"))
        except Exception as e:  # noqa: BLE001 (reported below)
            failures.append((k, repr(e)))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and not failures, failures


def _forked_work(args):
    """In a forked worker: the inherited Encoding, used alone and in a batch."""
    documents = args
    enc = _FORKED["enc"]
    return [enc.encode(d) for d in documents], enc.encode_batch(documents, threads=2)


_FORKED = {}


def test_forked_workers_encode_without_deadlock(vocabularies, texts):
    enc = tok.load(vocabularies["o200k"])
    documents = texts["en"][1][:400] + texts["zh"][1][:400]
    expected = enc.encode_batch(documents)  # the parent's threads and pools exist before the fork
    _FORKED["enc"] = enc
    # Another thread of the parent keeps encoding while the workers are forked.
    stop = threading.Event()
    busy = threading.Thread(target=lambda: [enc.encode_batch(documents[:50]) for _ in iter(stop.is_set, True)])
    busy.start()
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            chunks = [documents[k::4] for k in range(4)]
            results = pool.map_async(_forked_work, chunks).get(timeout=120)
    finally:
        stop.set()
        busy.join()
    for k, (singles, batch) in enumerate(results):
        assert singles == batch == expected[k::4]


def test_torch_dataloader_workers(vocabularies, texts):
    torch = pytest.importorskip("torch")
    enc = tok.load(vocabularies["cl100k"])
    documents = texts["code"][1][:64]
    enc.encode_batch(documents)

    class Documents(torch.utils.data.Dataset):
        def __len__(self):
            return len(documents)

        def __getitem__(self, k):
            return torch.tensor(enc.encode(documents[k]) + enc.encode_batch([documents[k]])[0])

    loader = torch.utils.data.DataLoader(Documents(), batch_size=None, num_workers=2,
                                         multiprocessing_context="fork", timeout=120)
    got = [t.tolist() for t in loader]
    assert got == [enc.encode(d) * 2 for d in documents]


@pytest.fixture(scope="module")
def transformers_pair(tmp_path_factory):
    """tok's transformers tokenizer and transformers' own on the same
    exported tokenizer.json (llama3: a template with <|begin_of_text|>)."""
    transformers = pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("hf")
    tok_cli("import", REFVOCAB / "llama3" / "tokenizer.json", "-o", root / "llama3")
    tok_cli("export", "--vocab", root / "llama3", "--format", "hf", "-o", root / "tokenizer.json")
    kwargs = dict(pad_token="<|end_of_text|>", bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")
    ours = tok.load(root / "llama3").as_transformers(**kwargs)
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_file=str(root / "tokenizer.json"), **kwargs)
    return ours, theirs


def test_transformers_equal_for_texts_and_batches(transformers_pair, texts):
    ours, theirs = transformers_pair
    assert isinstance(ours, type(theirs))
    batch = [d[:3000] for d in texts["en"][1][:8]] + [d[:2000] for d in texts["zh"][1][:8]] + ["", "<|end_of_text|> x"]
    single = texts["math"][0][:5000]
    cases = [dict(), dict(add_special_tokens=False), dict(padding=True), dict(padding="longest", pad_to_multiple_of=64),
             dict(padding="max_length", max_length=700, truncation=True), dict(truncation=True, max_length=100),
             dict(padding=True, truncation=True, max_length=300, padding_side="left"),
             dict(padding=True, return_tensors="np"), dict(padding=True, truncation=True, max_length=50, return_tensors="pt"),
             dict(padding=True, add_special_tokens=False, return_attention_mask=False)]
    for kwargs in cases:
        for inputs in [batch, single]:
            a, b = ours(inputs, **kwargs), theirs(inputs, **kwargs)
            assert sorted(a.keys()) == sorted(b.keys()), kwargs
            for key in b.keys():
                x, y = a[key], b[key]
                if hasattr(y, "tolist"):
                    assert type(x) is type(y) and x.shape == y.shape and x.dtype == y.dtype, (kwargs, key)
                    x, y = x.tolist(), y.tolist()
                assert x == y, (kwargs, key)
    theirs.truncation_side = ours.truncation_side = "left"
    try:
        assert ours(batch, truncation=True, max_length=40)["input_ids"] == theirs(batch, truncation=True, max_length=40)["input_ids"]
    finally:
        theirs.truncation_side = ours.truncation_side = "right"


def test_transformers_surface(transformers_pair, tmp_path):
    ours, theirs = transformers_pair
    text = "Hello world, 你好 <|end_of_text|>"
    ids = ours.encode(text)
    assert ids == theirs.encode(text) and ours.encode(text, add_special_tokens=False) == theirs.encode(text, add_special_tokens=False)
    assert ours.decode(ids) == theirs.decode(ids) and ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)
    assert ours.batch_decode([ids, ids[:3]]) == theirs.batch_decode([ids, ids[:3]])
    assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)
    assert ours.tokenize(text) == theirs.tokenize(text)
    for attribute in ["bos_token", "eos_token", "pad_token", "bos_token_id", "eos_token_id", "pad_token_id",
                      "all_special_tokens", "all_special_ids", "vocab_size"]:
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert len(ours) == len(theirs)
    padded = ours.pad({"input_ids": [ids, ids[:2]]}, return_tensors="np")
    assert padded["attention_mask"].tolist() == theirs.pad({"input_ids": [ids, ids[:2]]}, return_tensors="np")["attention_mask"].tolist()
    ours.save_pretrained(tmp_path / "saved")
    import transformers
    again = transformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert again(text)["input_ids"] == ours(text)["input_ids"]


def test_tokens_added_later_go_through_transformers(transformers_pair):
    ours, _ = transformers_pair
    import copy
    extended = copy.deepcopy(ours)
    extended.add_tokens(["zzyzx-token"])
    assert extended.convert_ids_to_tokens(extended("a zzyzx-token b")["input_ids"])[2] == "zzyzx-token"


@pytest.mark.slow
def test_fresh_venv_installs_a_library_without_swift(tmp_path, vocabularies):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", ROOT / "python"],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    script = ("import json, sys, tok; e = tok.load(sys.argv[1]); print(json.dumps([e.encode(sys.argv[2]), tok.__file__]))")
    text = "hello world, 你好世界 123"
    out = subprocess.run([python, "-c", script, vocabularies["o200k"], text], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    ids, where = json.loads(out.stdout)
    assert ids == published("o200k_base").encode(text)
    installed = pathlib.Path(where).parent / "libTokC.so"
    assert str(installed).startswith(str(venv))
    needed = subprocess.run(["ldd", installed], capture_output=True, text=True, check=True).stdout
    names = [line.split()[0] for line in needed.splitlines() if line.strip()]
    allowed = ("linux-vdso", "libc.so", "libm.so", "libstdc++", "libgcc_s", "libicuuc", "libicudata", "libzstd",
               "ld-linux", "libpthread", "libdl.so", "librt.so")
    assert names and all(n.startswith(allowed) or "/ld-linux" in n for n in names), needed
    assert "not found" not in needed and "swift" not in needed.lower() and "Foundation" not in needed


@pytest.mark.slow
def test_build_train_and_datasets_equal_the_commands(vocabularies, tmp_path):
    domains = ",".join(f"{d}={CORPORA / d}" for d in DOMAINS)
    tok_cli("build", "--domains", domains, "--vocab-size", 8000, "--special-tokens", "<|endoftext|>,<|pad|>",
            "--quiet", "-o", tmp_path / "cli-built")
    assert (tmp_path / "cli-built" / "tokenizer.json").read_bytes() == (vocabularies["built"] / "tokenizer.json").read_bytes()
    manifests = [json.loads((folder / "manifest.json").read_text()) for folder in [tmp_path / "cli-built", vocabularies["built"]]]
    assert [{k: v for k, v in m.items() if k != "name"} for m in manifests] == [{k: v for k, v in manifests[1].items() if k != "name"}] * 2
    summary = tok.train(CORPORA / "en", tmp_path / "trained", vocab_size=1500, special_tokens=["<|endoftext|>"], threads=2)
    assert summary["vocabularySize"] == 1500 and summary["pattern"] == "tok"
    tok_cli("train", CORPORA / "en", "--vocab-size", 1500, "--special-tokens", "<|endoftext|>", "--threads", 1,
            "--quiet", "-o", tmp_path / "cli-trained")
    assert (tmp_path / "trained" / "tokenizer.json").read_bytes() == (tmp_path / "cli-trained" / "tokenizer.json").read_bytes()
    manifest = tok.encode_dataset(CORPORA / "math", vocabularies["cl100k"], tmp_path / "py" / "math", append_eod=True)
    tok_cli("encode", "--vocab", vocabularies["cl100k"], "--format", "megatron", "--append-eod", "--quiet",
            CORPORA / "math", "-o", tmp_path / "cli" / "math")
    assert manifest["complete"] and manifest["documents"] > 0
    for suffix in [".bin", ".idx"]:
        assert (tmp_path / "py" / f"math{suffix}").read_bytes() == (tmp_path / "cli" / f"math{suffix}").read_bytes()


def test_library_calls_refuse_with_one_line(vocabularies, tmp_path):
    with pytest.raises(tok.FileError, match="not replaced"):
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("keep me")
        tok.train(CORPORA / "en", tmp_path / "mine", vocab_size=400)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(tok.InputError, match="unknown pattern 'nope'"):
        tok.train(CORPORA / "en", tmp_path / "t", vocab_size=400, pattern="nope")
    with pytest.raises(tok.Error) as raised:
        tok.build({"en": [tmp_path / "missing"]}, tmp_path / "b", vocab_size=400)
    assert "missing" in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "b").exists() and not (tmp_path / "t").exists()
    with pytest.raises(tok.InputError, match="nope"):
        tok.encode_dataset(CORPORA / "math", vocabularies["o200k"], tmp_path / "d" / "x", eod="nope")


def test_sentencepiece_models_load_with_sentencepiece_ids(texts, tmp_path):
    """tok.load opens a SentencePiece tokenizer.model, one sentencepiece trains here and the
    published Mistral model when scripts/fixtures has fetched it: sentencepiece's ids, for
    single texts and batches, and its decoding."""
    import sentencepiece as spm

    (tmp_path / "train.txt").write_text("".join(texts[d][0][:150_000] for d in DOMAINS))
    spm.SentencePieceTrainer.train(input=str(tmp_path / "train.txt"), model_prefix=str(tmp_path / "sp"), vocab_size=4000,
                                   model_type="bpe", byte_fallback=True, split_digits=True, num_threads=1, minloglevel=2,
                                   max_sentence_length=200_000)
    models = [tmp_path / "sp.model"] + [p for p in [REFVOCAB / "mistral-v1" / "tokenizer.model"] if p.exists()]
    for path in models:
        sp = spm.SentencePieceProcessor(model_file=str(path))
        enc = tok.load(path)
        assert enc.n_vocab == sp.get_piece_size()
        for d in DOMAINS:
            text, documents = texts[d][0][:300_000], texts[d][1][:300]
            ids = sp.encode(text)
            assert enc.encode_ordinary(text) == ids, f"{path.name} {d}"
            assert enc.encode_batch(documents) == [sp.encode(x) for x in documents], f"{path.name} {d} batch"
            assert enc.decode(ids) == sp.decode(ids)


def test_sentencepiece_build_and_train_equal_the_commands(tmp_path):
    """tok.build and tok.train with model="sentencepiece" write the model the commands write."""
    domains = {d: CORPORA / d for d in ["zh", "en"]}
    report = tok.build(domains, tmp_path / "py-built", vocab_size=6000, model="sentencepiece", user_defined_symbols=["<sep>"])
    assert report["vocabularySize"] == 6000 and report["pattern"] == "sentencepiece"
    tok_cli("build", "--model", "sentencepiece", "--domains", ",".join(f"{d}={p}" for d, p in domains.items()),
            "--vocab-size", 6000, "--user-defined-symbols", "<sep>", "--quiet", "-o", tmp_path / "cli-built")
    assert (tmp_path / "py-built" / "tokenizer.model").read_bytes() == (tmp_path / "cli-built" / "tokenizer.model").read_bytes()
    summary = tok.train(CORPORA / "en", tmp_path / "py-trained", vocab_size=2000, model="sentencepiece")
    assert summary["vocabularySize"] == 2000 and summary["pattern"] == "sentencepiece"
    tok_cli("train", "--model", "sentencepiece", CORPORA / "en", "--vocab-size", 2000, "--quiet", "-o", tmp_path / "cli-trained")
    assert (tmp_path / "py-trained" / "tokenizer.model").read_bytes() == (tmp_path / "cli-trained" / "tokenizer.model").read_bytes()
    with pytest.raises(tok.Error, match="model takes"):
        tok.train(CORPORA / "en", tmp_path / "no", vocab_size=2000, model="unigram")
    assert not (tmp_path / "no").exists()
