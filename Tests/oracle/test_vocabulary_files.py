"""A vocabulary folder never gives ids other than its own tokenizer.json's:
a tokenizer.bin from another folder, or one restored beside another JSON
(`cp -p`, `tar`), is not used, and datasets record the JSON's fingerprint;
special tokens that would give other ids than HuggingFace tokenizers (or
decode two ways) are refused in one line, as are ids no token has."""
import json
import os
import shutil
import tarfile

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from conftest import CORPORA, REFVOCAB, refused, tok


def ids(vocab, text, *extra):
    return [int(x) for x in tok("encode", "--vocab", vocab, *extra, input=text.encode()).stdout.split()]


@pytest.fixture(scope="module")
def sample():
    return "".join(p.read_text() for p in sorted((CORPORA / "en").iterdir()) if not p.name.startswith("."))[:60_000]


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """Two vocabularies of one pattern and their own tokenizers: qwen2.5 and a small trained one."""
    root = tmp_path_factory.mktemp("two")
    tok("import", REFVOCAB / "qwen2.5" / "tokenizer.json", "-o", root / "qwen")
    text = root / "t.txt"
    text.write_text("".join(p.read_text() for p in sorted((CORPORA / "code").iterdir()) if not p.name.startswith("."))[:300_000])
    tok("train", text, "--vocab-size", 2000, "--quiet", "-o", root / "small")
    hf = {}
    for name in ["qwen", "small"]:
        tok("export", "--vocab", root / name, "--format", "hf", "-o", root / f"{name}.json")
        hf[name] = Tokenizer.from_file(str(root / f"{name}.json"))
    return root, hf


def copy_vocabulary(source, destination):
    shutil.copytree(source, destination, copy_function=shutil.copy2)  # as `cp -p`: times kept


def test_another_folders_tokenizer_bin_is_not_used(two, sample, tmp_path):
    """Another vocabulary's tokenizer.bin copied into a folder is not used: ids stay those of its tokenizer.json."""
    root, hf = two
    copy_vocabulary(root / "small", tmp_path / "small")
    shutil.copyfile(root / "qwen" / "tokenizer.bin", tmp_path / "small" / "tokenizer.bin")  # newer than the JSON
    expected = hf["small"].encode(sample, add_special_tokens=False).ids
    assert ids(tmp_path / "small", sample) == expected
    assert ids(tmp_path / "small", sample) == expected  # and after the fast form was rewritten


def test_restored_folders_give_their_jsons_ids(two, sample, tmp_path):
    """A tokenizer.json restored with its old time beside a newer tokenizer.bin of another JSON:
    `cp -p` of the JSON alone, and a tar archive of a folder mixing the two."""
    root, hf = two
    copy_vocabulary(root / "qwen", tmp_path / "v")
    os.utime(tmp_path / "v" / "tokenizer.bin")  # the fast form newest, as a fresh build leaves it
    shutil.copy2(root / "small" / "tokenizer.json", tmp_path / "v" / "tokenizer.json")
    shutil.copy2(root / "small" / "manifest.json", tmp_path / "v" / "manifest.json")
    assert os.path.getmtime(tmp_path / "v" / "tokenizer.json") < os.path.getmtime(tmp_path / "v" / "tokenizer.bin")
    with tarfile.open(tmp_path / "v.tar", "w") as archive:
        archive.add(tmp_path / "v", arcname="v")
    assert ids(tmp_path / "v", sample) == hf["small"].encode(sample, add_special_tokens=False).ids
    # The archive still holds qwen's tokenizer.bin beside small's JSON.
    (tmp_path / "restored").mkdir()
    with tarfile.open(tmp_path / "v.tar") as archive:
        archive.extractall(tmp_path / "restored", filter="tar")
    restored = tmp_path / "restored" / "v"
    assert (restored / "tokenizer.bin").read_bytes() == (root / "qwen" / "tokenizer.bin").read_bytes()
    assert ids(restored, sample) == hf["small"].encode(sample, add_special_tokens=False).ids


def test_a_dataset_records_the_fingerprint_of_the_json_it_was_encoded_with(two, sample, tmp_path):
    root, hf = two
    copy_vocabulary(root / "small", tmp_path / "small")
    shutil.copyfile(root / "qwen" / "tokenizer.bin", tmp_path / "small" / "tokenizer.bin")
    (tmp_path / "doc.txt").write_text(sample)
    tok("encode", "--vocab", tmp_path / "small", "--format", "megatron", tmp_path / "doc.txt", "-o", tmp_path / "ds")
    fresh = json.loads((tmp_path / "ds.manifest.json").read_text())
    tok("encode", "--vocab", root / "small", "--format", "megatron", tmp_path / "doc.txt", "-o", tmp_path / "ref")
    assert fresh["vocabularyFingerprint"] == json.loads((tmp_path / "ref.manifest.json").read_text())["vocabularyFingerprint"]
    assert (tmp_path / "ds.bin").read_bytes() == (tmp_path / "ref.bin").read_bytes()
    decoded = tok("decode", "--vocab", root / "small", "--format", "megatron", tmp_path / "ds").stdout
    assert decoded == sample.encode() + b"\n"


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A byte-level BPE of 1,999 tokens with no added tokens, trained by tokenizers."""
    root = tmp_path_factory.mktemp("plain")
    text = "".join(p.read_text() for p in sorted((CORPORA / "en").iterdir()) if not p.name.startswith("."))[:1_000_000]
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator([text], trainers.BpeTrainer(vocab_size=1999, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    hf.save(str(root / "plain.json"))
    return json.loads((root / "plain.json").read_text())


def added(id, content):
    return {"id": id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def with_added(plain, tmp_path, tokens, name="t.json"):
    j = json.loads(json.dumps(plain))
    j["added_tokens"] = tokens
    path = tmp_path / name
    path.write_text(json.dumps(j))
    return path


@pytest.mark.parametrize("tokens, words", [
    # The case: `a story` decoded as `a st<|endoftext|>`; tokenizers gives the token 1999.
    ([added(500, "<|endoftext|>")], ["has id 500, but tokenizers gives it 1999"]),
    ([added(2005, "<c>")], ["has id 2005, but tokenizers gives it 1999"]),
    ([added(-1, "<c>")], ["has id -1"]),
    ([added(10_000_000, "<c>")], ["has id 10000000, but tokenizers gives it 1999"]),
    ([added(1999, "<a>"), added(2000, "<a>")], ['"<a>" appears twice']),
])
def test_added_tokens_tokenizers_would_number_otherwise_are_refused(plain, tmp_path, tokens, words):
    path = with_added(plain, tmp_path, tokens)
    refused(tok("import", path, "-o", tmp_path / "v", check=False), path, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_added_tokens_on_tokenizers_ids_give_its_ids(plain, tmp_path):
    inside = next(k for k, v in plain["model"]["vocab"].items() if v == 700)
    path = with_added(plain, tmp_path, [added(1999, "<a>"), added(700, inside), added(2000, "<b>")])
    tok("import", path, "-o", tmp_path / "v")
    hf = Tokenizer.from_file(str(path))
    text = "x<a>y <b>" + inside + " a story<a>"
    assert ids(tmp_path / "v", text, "--allow-special", "all") == hf.encode(text, add_special_tokens=False).ids


def test_special_tokens_on_a_rank_twice_or_far_are_refused(tmp_path):
    ranks = REFVOCAB / "cl100k_base.tiktoken"
    for special, words in [("<|endoftext|>=500", ["has id 500, which is the BPE token"]),
                           ("<|endoftext|>=10000000", ["has id 10000000", "below 101281"])]:
        r = tok("import", ranks, "--pattern", "cl100k", "--special", special, "-o", tmp_path / "v", check=False)
        refused(r, ranks, *words)
    r = tok("import", ranks, "--pattern", "cl100k", "--special", "<a>=100256", "--special", "<a>=100257",
            "-o", tmp_path / "v", check=False)
    refused(r, '"<a>" appears twice')
    assert not (tmp_path / "v").exists()


def test_train_refuses_a_special_token_twice_before_training(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("some text to train on\n" * 100)
    r = tok("train", text, "--vocab-size", 300, "--special-tokens", "<a>,<b>,<a>", "-o", tmp_path / "v", check=False)
    refused(r, "<a> is given twice", code=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_allow_special_with_an_unknown_name_is_refused(two):
    root, _ = two
    r = tok("encode", "--vocab", root / "qwen", "--allow-special", "<|endoftext|>,<|endoftxt|>", input=b"x", check=False)
    refused(r, 'no special token "<|endoftxt|>"')
    assert tok("encode", "--vocab", root / "qwen", "--allow-special", "<|endoftext|>", input=b"<|endoftext|>").stdout.split() \
        == [b"151643"]


def test_an_id_in_a_gap_of_the_vocab_does_not_decode(plain, tmp_path):
    """tokenizers decodes an id no token has to nothing; tok names it."""
    j = json.loads(json.dumps(plain))
    used = {part for merge in j["model"]["merges"] for part in (merge if isinstance(merge, list) else merge.split(" "))}
    gap = next(k for k, v in sorted(j["model"]["vocab"].items(), key=lambda kv: kv[1]) if v > 1000 and k not in used)
    gap_id = j["model"]["vocab"].pop(gap)
    j["model"]["merges"] = [m for m in j["model"]["merges"]
                            if "".join(m if isinstance(m, list) else m.split(" ")) != gap]
    (tmp_path / "gap.json").write_text(json.dumps(j))
    tok("import", tmp_path / "gap.json", "-o", tmp_path / "v")
    assert Tokenizer.from_file(str(tmp_path / "gap.json")).decode([gap_id, 70]) != ""
    r = tok("decode", "--vocab", tmp_path / "v", input=f"70 {gap_id} 71\n".encode(), check=False)
    refused(r, f"token id {gap_id} is not in the vocabulary")
    assert r.stdout == b""
