"""tok encode --format megatron: megatron-core's own IndexedDataset reads what
tok writes, every document equals tokenizers' ids (plus EOD), and the files
are byte-identical to megatron-core's IndexedDatasetBuilder given those ids;
empty and invalid documents, the uint16/int32 choice, threads, shards, a
killed and restarted run, decoding and statistics."""
import json
import os
import signal
import subprocess
import time
import warnings

import numpy
import pytest
from tokenizers import Tokenizer

from conftest import CORPORA, DOMAINS, REFVOCAB, TOK, refused, tok

warnings.filterwarnings("ignore")
from megatron.core.datasets.indexed_dataset import DType, IndexedDataset, IndexedDatasetBuilder  # noqa: E402


def documents_of(domain, limit):
    """Real documents of a domain: its text split at blank lines."""
    text = b"".join(p.read_bytes() for p in sorted((CORPORA / domain).iterdir()) if not p.name.startswith("."))
    docs = [d.decode("utf-8") for d in text[:limit].split(b"\n\n")[:-1] if d.strip()]
    return docs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One .jsonl per domain (with an empty document and two bad lines in zh), and two .txt documents."""
    root = tmp_path_factory.mktemp("megatron-corpus")
    texts = {}
    for d in DOMAINS:
        docs = documents_of(d, 400_000)
        lines = [json.dumps({"text": t, "id": k}) for k, t in enumerate(docs)]
        if d == "zh":
            lines[3:3] = [json.dumps({"text": ""}), "{not json", json.dumps({"title": "no text"})]
            docs[3:3] = [""]
        (root / f"{d}.jsonl").write_text("\n".join(lines) + "\n")
        texts[d] = docs
    (root / "z1.txt").write_bytes(b"A plain text file is one document.\nInvalid bytes \xff\xfe follow.\n")
    (root / "z2.txt").write_bytes(b"")
    return root, texts


@pytest.fixture(scope="module")
def vocabularies(tmp_path_factory):
    root = tmp_path_factory.mktemp("megatron-vocab")
    tok("import", REFVOCAB / "o200k_base.tiktoken", "--pattern", "o200k", "-o", root / "o200k")
    domains = ",".join(f"{d}={CORPORA / d}" for d in DOMAINS)  # a balanced build under 65,500 ids: uint16
    tok("build", "--domains", domains, "--vocab-size", 8000, "--quiet", "-o", root / "small")
    out = {}
    for name in ["o200k", "small"]:
        tok("export", "--vocab", root / name, "--format", "hf", "-o", root / f"{name}.json")
        out[name] = (root / name, Tokenizer.from_file(str(root / f"{name}.json")))
    return out


def expected_documents(corpus, hf, eod):
    """In the inputs' sorted path order, as tok reads them: code, en, math, z1.txt, z2.txt, zh."""
    root, texts = corpus
    docs = []
    for name in sorted([f"{d}.jsonl" for d in DOMAINS] + ["z1.txt", "z2.txt"]):
        if name == "z1.txt":
            docs.append(None)  # invalid UTF-8, which tokenizers cannot take: checked by decoding
        elif name == "z2.txt":
            docs.append([])
        else:
            for t in texts[name.split(".")[0]]:
                ids = hf.encode(t, add_special_tokens=False).ids
                docs.append(ids + [eod] if ids else [])
    return docs


def read_all(prefix):
    ds = IndexedDataset(str(prefix))
    docs = []
    for n in range(len(ds.document_indices) - 1):
        first, end = ds.document_indices[n], ds.document_indices[n + 1]
        docs.append([int(x) for k in range(first, end) for x in ds[k]])
    return ds, docs


@pytest.mark.parametrize("name,dtype", [("o200k", numpy.int32), ("small", numpy.uint16)])
def test_megatron_core_reads_tokenizers_ids(name, dtype, corpus, vocabularies, tmp_path):
    root, _ = corpus
    vocab, hf = vocabularies[name]
    eod = hf.token_to_id("<|endoftext|>")
    inputs = [root / f"{d}.jsonl" for d in DOMAINS] + [root / "z1.txt", root / "z2.txt"]
    r = tok("encode", "--vocab", vocab, "--format", "megatron", "--append-eod", *inputs, "-o", tmp_path / "ds")
    assert b"a.jsonl" not in r.stderr and b"zh.jsonl:5: malformed JSON line" in r.stderr
    assert b"zh.jsonl:6: no string field" in r.stderr and b"z1.txt:2: invalid UTF-8" in r.stderr
    ds, docs = read_all(tmp_path / "ds")
    assert ds.index.dtype == dtype
    expected = expected_documents(corpus, hf, eod)
    invalid = expected.index(None)
    assert len(docs) == len(expected)
    assert docs[:invalid] == expected[:invalid] and docs[invalid + 1:] == expected[invalid + 1:]
    assert docs[invalid + 1] == [] and [] in docs[invalid + 2:]  # the empty .txt and the empty JSON document
    decoded = tok("decode", "--vocab", vocab, "--format", "megatron", tmp_path / "ds", "--document", invalid).stdout
    assert decoded + b"" == (root / "z1.txt").read_bytes() + f"{hf.id_to_token(eod)}".encode()
    # Byte-identical to megatron-core's own builder given the same documents.
    builder = IndexedDatasetBuilder(str(tmp_path / "ref.bin"), dtype=DType.optimal_dtype(hf.get_vocab_size()))
    for ids in docs:
        builder.add_document(ids, [len(ids)] if ids else [])
    builder.finalize(str(tmp_path / "ref.idx"))
    for ext in ["bin", "idx"]:
        assert (tmp_path / f"ds.{ext}").read_bytes() == (tmp_path / f"ref.{ext}").read_bytes(), ext
    manifest = json.loads((tmp_path / "ds.manifest.json").read_text())
    assert manifest["complete"] and manifest["dtype"] == dtype.__name__
    assert manifest["statistics"]["malformedLines"] == 1 and manifest["statistics"]["linesWithoutField"] == 1
    stats = json.loads(tok("stats", "--dataset", tmp_path / "ds", "--json").stdout)
    assert stats["datasets"][0]["documents"] == len(docs) and stats["datasets"][0]["tokens"] == sum(map(len, docs))


def test_id_type_on_both_sides_of_65500(tmp_path):
    """65,499 ids: uint16; 65,500: int32 (megatron-core's DType.optimal_dtype)."""
    lines = (REFVOCAB / "o200k_base.tiktoken").read_bytes().splitlines()
    text = tmp_path / "t.txt"
    text.write_text("tokens of a vocabulary of either size\n")
    for size, dtype in [(65_499, numpy.uint16), (65_500, numpy.int32)]:
        ranks = tmp_path / f"r{size}.tiktoken"
        ranks.write_bytes(b"\n".join(lines[: size - 1]) + b"\n")
        tok("import", ranks, "--pattern", "o200k", "--special", f"<|endoftext|>={size - 1}", "-o", tmp_path / f"v{size}")
        tok("encode", "--vocab", tmp_path / f"v{size}", "--format", "megatron", "--append-eod", text, "-o", tmp_path / f"d{size}")
        ds = IndexedDataset(str(tmp_path / f"d{size}"))
        assert ds.index.dtype == dtype and int(ds[0][-1]) == size - 1
        assert DType.optimal_dtype(size) == dtype


def test_threads_and_shards_give_the_same_documents(corpus, vocabularies, tmp_path):
    root, _ = corpus
    vocab, _ = vocabularies["o200k"]
    inputs = [root / f"{d}.jsonl" for d in DOMAINS]
    tok("encode", "--vocab", vocab, "--format", "megatron", "--append-eod", "--threads", 1, *inputs, "-o", tmp_path / "one")
    tok("encode", "--vocab", vocab, "--format", "megatron", "--append-eod", "--threads", 2, *inputs, "-o", tmp_path / "two")
    for ext in ["bin", "idx"]:
        assert (tmp_path / f"one.{ext}").read_bytes() == (tmp_path / f"two.{ext}").read_bytes()
    tok("encode", "--vocab", vocab, "--format", "megatron", "--append-eod", "--shard-size", "200K", *inputs,
        "-o", tmp_path / "sharded")
    manifest = json.loads((tmp_path / "sharded.manifest.json").read_text())
    assert len(manifest["shards"]) > 3
    docs = [d for s in manifest["shards"] for d in read_all(tmp_path / s["prefix"])[1]]
    assert docs == read_all(tmp_path / "one")[1]
    assert all(s["binBytes"] >= 200 * 1024 for s in manifest["shards"][:-1])


def test_a_killed_run_resumes_to_identical_files(corpus, vocabularies, tmp_path):
    root, _ = corpus
    vocab, _ = vocabularies["o200k"]
    big = tmp_path / "big"
    big.mkdir()
    for k in range(20):  # enough text (about 30 MB) that the run is still going when it is killed
        for d in DOMAINS:
            (big / f"{k}-{d}.jsonl").write_bytes((root / f"{d}.jsonl").read_bytes())
    args = [TOK, "encode", "--vocab", vocab, "--format", "megatron", "--append-eod", "--shard-size", "300K", "--threads", 1,
            "--quiet", big]
    tok(*args[1:], "-o", tmp_path / "whole" / "ds")
    p = subprocess.Popen([*map(str, args), "-o", str(tmp_path / "resumed" / "ds")], stderr=subprocess.PIPE)
    manifest = tmp_path / "resumed" / "ds.manifest.json"

    def shards_listed():
        try:
            return len(json.loads(manifest.read_text())["shards"])
        except (OSError, ValueError):
            return 0
    started = time.time()
    while shards_listed() < 2 and time.time() - started < 120:  # killed once two shards are in place
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done = json.loads(manifest.read_text())
    assert not done["complete"], "the run finished before it was killed"
    tok(*args[1:], "-o", tmp_path / "resumed" / "ds")
    whole = json.loads((tmp_path / "whole" / "ds.manifest.json").read_text())
    resumed = json.loads(manifest.read_text())
    assert resumed["shards"] == whole["shards"] and resumed["complete"]
    assert resumed["statistics"] == whole["statistics"] and whole["statistics"]["malformedLines"] == 20
    names = sorted(x.name for x in (tmp_path / "resumed").iterdir())
    assert names == sorted(x.name for x in (tmp_path / "whole").iterdir()), "leftovers beside the shards"
    for s in whole["shards"]:
        for ext in ["bin", "idx"]:
            assert (tmp_path / "resumed" / f"{s['prefix']}.{ext}").read_bytes() == \
                (tmp_path / "whole" / f"{s['prefix']}.{ext}").read_bytes()


def test_strict_fails_naming_the_line_and_leaves_nothing(corpus, vocabularies, tmp_path):
    root, _ = corpus
    vocab, _ = vocabularies["small"]
    r = tok("encode", "--vocab", vocab, "--format", "megatron", "--strict", root / "zh.jsonl", "-o", tmp_path / "x" / "ds",
            check=False)
    assert r.returncode == 1 and b"zh.jsonl:5: malformed JSON line" in r.stderr
    assert not (tmp_path / "x").exists(), "the folder the run created is removed with its files"


def write_documents(path, texts):
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))


def test_a_changed_input_is_encoded_again(corpus, vocabularies, tmp_path):
    """Same command, an input's contents changed (same size, its time set back): the dataset is the new text's."""
    vocab, hf = vocabularies["small"]
    texts = documents_of("en", 60_000)[:20]
    data = tmp_path / "docs.jsonl"
    write_documents(data, texts)
    args = ["encode", "--vocab", vocab, "--format", "megatron", data, "-o", tmp_path / "ds"]
    tok(*args)
    times = os.stat(data).st_mtime_ns
    changed = [t.replace("e", "a") for t in texts]
    write_documents(data, changed)
    os.utime(data, ns=(times, times))
    tok(*args)
    assert read_all(tmp_path / "ds")[1] == [hf.encode(t, add_special_tokens=False).ids for t in changed]


def test_a_fresh_run_removes_the_shards_of_the_old_manifest_and_nothing_else(corpus, vocabularies, tmp_path):
    root, _ = corpus
    vocab, hf = vocabularies["small"]
    inputs = [root / f"{d}.jsonl" for d in DOMAINS]
    tok("encode", "--vocab", vocab, "--format", "megatron", "--shard-size", "50K", *inputs, "-o", tmp_path / "ds")
    shards = json.loads((tmp_path / "ds.manifest.json").read_text())["shards"]
    assert len(shards) > 5
    (tmp_path / "ds-99999.bin").write_bytes(b"not a shard the manifest names")
    (tmp_path / "notes.txt").write_text("mine\n")
    tok("encode", "--vocab", vocab, "--format", "megatron", inputs[0], "-o", tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds-99999.bin", "ds.bin", "ds.idx", "ds.manifest.json", "notes.txt"]
    assert (tmp_path / "ds-99999.bin").read_bytes() == b"not a shard the manifest names"
    assert read_all(tmp_path / "ds")[1] == [hf.encode(t, add_special_tokens=False).ids for t in corpus[1]["zh"]]  # inputs[0]


def test_decode_and_stats_read_a_sharded_prefix_alike(corpus, vocabularies, tmp_path):
    root, texts = corpus
    vocab, _ = vocabularies["small"]
    inputs = [root / f"{d}.jsonl" for d in ["code", "en"]]
    tok("encode", "--vocab", vocab, "--format", "megatron", *inputs, "-o", tmp_path / "one")
    tok("encode", "--vocab", vocab, "--format", "megatron", "--shard-size", "50K", *inputs, "-o", tmp_path / "sharded")
    assert len(json.loads((tmp_path / "sharded.manifest.json").read_text())["shards"]) > 2
    whole = tok("decode", "--vocab", vocab, "--format", "megatron", tmp_path / "one").stdout
    assert tok("decode", "--vocab", vocab, "--format", "megatron", tmp_path / "sharded").stdout == whole
    assert whole == "".join(t + "\n" for t in texts["code"] + texts["en"]).encode()
    last = len(texts["code"]) + len(texts["en"]) - 1
    assert tok("decode", "--vocab", vocab, "--format", "megatron", tmp_path / "sharded", "--document", last).stdout \
        == texts["en"][-1].encode()
    stats = json.loads(tok("stats", "--dataset", tmp_path / "sharded", "--json").stdout)["datasets"][0]
    assert stats["documents"] == last + 1 and stats["shards"] > 2


@pytest.mark.parametrize("damage, reason", [
    (lambda idx: idx[:34] + (-5).to_bytes(4, "little", signed=True) + idx[38:], "sequence 0 has length -5"),
    (lambda idx: idx[:18] + (1 << 62).to_bytes(8, "little") + idx[26:], "truncated"),
    (lambda idx: idx[:34] + (1 << 30).to_bytes(4, "little") + idx[38:], "lies outside"),
])
def test_a_damaged_index_is_named_in_one_line(vocabularies, tmp_path, damage, reason):
    vocab, _ = vocabularies["small"]
    (tmp_path / "t.txt").write_text("a document of a few tokens\n")
    tok("encode", "--vocab", vocab, "--format", "megatron", tmp_path / "t.txt", "-o", tmp_path / "ds")
    (tmp_path / "ds.idx").write_bytes(damage((tmp_path / "ds.idx").read_bytes()))
    for args in [["decode", "--vocab", vocab, "--format", "megatron", tmp_path / "ds"], ["stats", "--dataset", tmp_path / "ds"]]:
        refused(tok(*args, check=False), f"{tmp_path / 'ds.idx'}: not a megatron-core index", reason)
