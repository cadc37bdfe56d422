"""Corpus inputs read as they should be: folders with each real file once
(links to siblings, loops), names that are not UTF-8, JSON lines as Python's
`json` reads them (a repeated key, blank lines, deep nesting), an empty `.zst`."""
import json
import os
import subprocess

import pytest

from conftest import REFVOCAB, TOK, domain_text
from test_counts_integrity import entries, refused, run


@pytest.fixture(scope="module")
def cl100k(tmp_path_factory):
    """cl100k as a vocabulary folder, for `encode --format megatron`."""
    folder = tmp_path_factory.mktemp("vocab") / "cl100k"
    r = run("import", REFVOCAB / "cl100k_base.tiktoken", "--pattern", "cl100k", "-o", folder)
    assert r.returncode == 0, r.stderr
    return folder


def count(*inputs, out, extra=()):
    """Counts `inputs` into `out`; returns the JSON summary."""
    r = run("count", *inputs, *extra, "--json", "-o", out)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_link_to_a_sibling_folder_counts_its_files_once(tmp_path):
    """The corpus counts as it does without the link: no file twice."""
    for root in ("plain", "linked"):
        (tmp_path / root / "sub").mkdir(parents=True)
        (tmp_path / root / "sub" / "a.txt").write_text("alpha beta gamma\n")
        (tmp_path / root / "b.txt").write_text("delta epsilon\n")
    os.symlink("sub", tmp_path / "linked" / "twin")
    os.link(tmp_path / "linked" / "b.txt", tmp_path / "linked" / "sub" / "hard.txt")
    plain = count(tmp_path / "plain", out=tmp_path / "plain.counts")
    linked = count(tmp_path / "linked", out=tmp_path / "linked.counts")
    assert linked["statistics"] == plain["statistics"] and linked["statistics"]["files"] == 2
    assert entries(tmp_path / "linked.counts") == entries(tmp_path / "plain.counts")


def test_link_loops_are_refused_not_followed_forever(tmp_path):
    """Two links to `.`: one line names the loop, at once."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("alpha\n")
    os.symlink(".", corpus / "here")
    os.symlink(".", corpus / "there")
    r = subprocess.run([TOK, "count", corpus, "--quiet", "-o", tmp_path / "c.counts"], capture_output=True, timeout=60)
    refused(r, f"tok: {corpus / 'here'}: a symbolic link loop (leads back to {corpus}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_a_name_that_is_not_utf8_is_read(tmp_path):
    """A file named in Latin-1 inside a folder is opened by its bytes and counted."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    name = os.path.join(os.fsencode(corpus), b"caf\xe9.txt")
    with open(name, "wb") as f:
        f.write(b"latin one name\n")
    summary = count(corpus, out=tmp_path / "c.counts")
    assert summary["statistics"]["files"] == 1 and summary["statistics"]["bytes"] == 15
    assert entries(tmp_path / "c.counts") == {b"latin": 1, b" one": 1, b" name": 1, b"\n": 1}


def test_a_repeated_key_takes_its_last_value_as_python_json(tmp_path):
    lines = ['{"text": "first words", "id": 1, "text": "second words"}', '{"text": "kept", "te\\u0078t": "escaped last"}',
             '{"text": "dropped", "text": null}']
    (tmp_path / "dup.jsonl").write_text("\n".join(lines) + "\n")
    python = [json.loads(line)["text"] for line in lines]
    assert python == ["second words", "escaped last", None]
    (tmp_path / "python.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in python if isinstance(t, str)))
    dup = count(tmp_path / "dup.jsonl", out=tmp_path / "dup.counts")
    count(tmp_path / "python.jsonl", out=tmp_path / "python.counts")
    assert entries(tmp_path / "dup.counts") == entries(tmp_path / "python.counts")
    assert dup["statistics"]["documents"] == 2 and dup["statistics"]["linesWithoutField"] == 1


def test_blank_json_lines_are_refused_with_strict(tmp_path, cl100k):
    """Python's json.loads refuses a blank line; so does --strict, naming file and line."""
    data = tmp_path / "blank.jsonl"
    data.write_text('{"text": "one"}\n   \n{"text": "two"}\n')
    refused(run("count", data, "--strict", "--quiet", "-o", tmp_path / "s.counts"), f"tok: {data}:2: blank line, not a JSON object")
    refused(run("encode", "--vocab", cl100k, "--format", "megatron", "--strict", data,
                "--quiet", "-o", tmp_path / "ds"), f"tok: {data}:2: blank line, not a JSON object")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.jsonl"]
    assert count(data, out=tmp_path / "c.counts")["statistics"]["documents"] == 2


def test_an_empty_zst_is_refused(tmp_path):
    """0 bytes hold no zstd frame: refused, not counted as an empty file."""
    empty = tmp_path / "empty.jsonl.zst"
    empty.write_bytes(b"")
    refused(run("count", empty, "--quiet", "-o", tmp_path / "e.counts"), f"tok: {empty}: not valid zstd data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl.zst"]


def test_json_nested_100000_deep_does_not_crash(tmp_path, cl100k):
    """`count`, `encode --format megatron` and `build` step over the nesting (no recursion, no
    SIGSEGV) and read the text as on the line without it."""
    depth = 100_000
    text = domain_text("en", 200_000).splitlines()
    deep = json.dumps({"text": text[0]})[:-1] + ', "meta": ' + "[" * depth + "]" * depth + \
        ', "more": ' + '{"k": ' * depth + "1" + "}" * depth + "}"
    rest = [json.dumps({"text": t}) for t in text[1:]]
    (tmp_path / "deep.jsonl").write_text("\n".join([deep] + rest) + "\n")
    (tmp_path / "flat.jsonl").write_text("\n".join([json.dumps({"text": text[0]})] + rest) + "\n")
    count(tmp_path / "deep.jsonl", out=tmp_path / "deep.counts")
    count(tmp_path / "flat.jsonl", out=tmp_path / "flat.counts")
    assert entries(tmp_path / "deep.counts") == entries(tmp_path / "flat.counts")
    for name in ("deep", "flat"):
        r = run("encode", "--vocab", cl100k, "--format", "megatron", "--append-eod", "--quiet",
                tmp_path / f"{name}.jsonl", "-o", tmp_path / f"{name}-ds")
        assert r.returncode == 0, r.stderr
    for ext in ("bin", "idx"):
        assert (tmp_path / f"deep-ds.{ext}").read_bytes() == (tmp_path / f"flat-ds.{ext}").read_bytes()
    r = run("build", "--domains", f"en={tmp_path / 'deep.jsonl'}", "--vocab-size", 600, "--quiet", "-o", tmp_path / "v")
    assert r.returncode == 0, r.stderr
