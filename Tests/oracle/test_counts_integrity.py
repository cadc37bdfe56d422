"""Count files are refused, never read wrong: damaged bytes, an older format,
held-out text from another run, and count files mixed with text.
Each refusal is one `tok:` line naming the file, exit status 1, and no output."""
import random
import struct
import subprocess

import pytest

from conftest import CORPORA, TOK, domain_text


def run(*args):
    return subprocess.run([TOK, *map(str, args)], capture_output=True)


def refused(r, line_start, contains=""):
    """Exit 1 and a single stderr line that starts with `line_start` and holds `contains`."""
    lines = r.stderr.decode(errors="replace").splitlines()
    assert r.returncode == 1 and len(lines) == 1, (r.returncode, lines)
    assert lines[0].startswith(line_start) and contains in lines[0], lines[0]


def read_entries(path):
    """A count file's pieces and counts, and the length of its header and entries,
    read as its format says (format 1 had the same entries, unchecked)."""
    data = path.read_bytes()
    assert data[:4] == b"TOKC" and data[-4:] == b"TOKC"
    out, i = {}, 8

    def varint():
        nonlocal i
        value = shift = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    while True:
        count = varint()
        if count == 0:
            # Format 2's trailer holds the length.
            assert data[4] != 2 or struct.unpack("<Q", data[-20:-12])[0] == i
            return out, i
        n = varint()
        out[data[i:i + n]] = count
        i += n


def entries(path):
    return read_entries(path)[0]


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """Two parts of real English text and their count files."""
    root = tmp_path_factory.mktemp("counts")
    text = domain_text("en", 400_000)
    cut = text.index("\n", len(text) // 2) + 1
    for name, part in (("a", text[:cut]), ("b", text[cut:])):
        (root / f"{name}.txt").write_text(part)
        r = run("count", root / f"{name}.txt", "--quiet", "-o", root / f"{name}.counts")
        assert r.returncode == 0, r.stderr
    return root


def test_bit_flips_in_a_count_file_are_refused(texts, tmp_path):
    """A seeded sample of single-bit flips in the entries, and some in the metadata
    and checksums: `count --merge`, `train` and `build` each refuse with one line and
    write nothing, never a merge or a vocabulary from changed counts."""
    good = (texts / "a.counts").read_bytes()
    length = read_entries(texts / "a.counts")[1]
    rng = random.Random(29)
    bits = rng.sample(range(8 * 8, 8 * length), 40) + rng.sample(range(8 * length, 8 * len(good)), 8)
    flipped = tmp_path / "flipped.counts"
    for k, bit in enumerate(bits):
        damaged = bytearray(good)
        damaged[bit // 8] ^= 1 << (bit % 8)
        flipped.write_bytes(bytes(damaged))
        before = sorted(p.name for p in tmp_path.iterdir())
        refused(run("count", "--merge", flipped, texts / "b.counts", "--quiet", "-o", tmp_path / "m.counts"),
                f"tok: {flipped}: damaged count file")
        if k % 16 == 0:
            refused(run("train", flipped, "--vocab-size", 600, "--quiet", "-o", tmp_path / "v"), f"tok: {flipped}: damaged count file")
            refused(run("build", "--domains", f"en={flipped}", "--vocab-size", 600, "--quiet", "-o", tmp_path / "w"),
                    f"tok: {flipped}: damaged count file")
        assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_older_format_is_refused_not_read_as_text(tmp_path):
    """A format-1 count file (no checksums) says to count again, in merge, train and build."""
    old = tmp_path / "old.counts"
    old.write_bytes(b"TOKC\x01\x00\x00\x00" + b"\x01\x01a" + b"\x00" + b"\x00\x00\x00\x00" + b"TOKC")
    line = f"tok: {old}: a count file of format 1, which has no checksums: count it again with this tok"
    refused(run("count", "--merge", old, "--quiet", "-o", tmp_path / "m.counts"), line)
    refused(run("train", old, "--vocab-size", 300, "--quiet", "-o", tmp_path / "v"), line)
    refused(run("build", "--domains", f"en={old}", "--vocab-size", 300, "--quiet", "-o", tmp_path / "v"), line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.counts"]


def test_a_domain_of_count_files_adds_them_up(texts, tmp_path):
    """`--domains en=a.counts+b.counts` builds what the merged count file builds
    (not their bytes read as text), and `train a.counts b.counts` agrees."""
    r = run("count", "--merge", texts / "a.counts", texts / "b.counts", "--quiet", "-o", tmp_path / "ab.counts")
    assert r.returncode == 0, r.stderr
    assert entries(tmp_path / "ab.counts") == {
        k: entries(texts / "a.counts").get(k, 0) + entries(texts / "b.counts").get(k, 0)
        for k in entries(texts / "a.counts").keys() | entries(texts / "b.counts").keys()}
    for name, domain in (("pair", f"en={texts / 'a.counts'}+{texts / 'b.counts'}"), ("merged", f"en={tmp_path / 'ab.counts'}")):
        r = run("build", "--domains", domain, "--vocab-size", 1000, "--quiet", "-o", tmp_path / name / "v")
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "pair" / "v" / "tokenizer.json").read_bytes() == (tmp_path / "merged" / "v" / "tokenizer.json").read_bytes()
    for name, inputs in (("t-pair", [texts / "a.counts", texts / "b.counts"]), ("t-merged", [tmp_path / "ab.counts"])):
        r = run("train", *inputs, "--vocab-size", 1000, "--quiet", "-o", tmp_path / name / "v")
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "t-pair" / "v" / "tokenizer.json").read_bytes() == (tmp_path / "t-merged" / "v" / "tokenizer.json").read_bytes()


def test_count_files_and_text_together_are_refused(texts, tmp_path):
    """Count files are known by their bytes, whatever their names; with text in
    the same inputs, or where text is wanted, one line says so."""
    named = tmp_path / "counts.txt"
    named.write_bytes((texts / "a.counts").read_bytes())
    mixed = f"tok: {named} is a count file and {texts / 'b.txt'} is text: give count files or text, not both"
    refused(run("build", "--domains", f"en={named}+{texts / 'b.txt'}", "--vocab-size", 600, "--quiet", "-o", tmp_path / "v"), mixed)
    refused(run("train", named, texts / "b.txt", "--vocab-size", 600, "--quiet", "-o", tmp_path / "v"), mixed)
    refused(run("count", named, "--quiet", "-o", tmp_path / "c.counts"), f"tok: {named}: a count file, not text")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.txt"]


def test_held_out_text_from_another_run_is_refused(texts, tmp_path):
    """A held-out text of the right size but other bytes is refused: its checksum is compared, not only its size."""
    r = run("count", texts / "a.txt", "--hold-out", 200, "--quiet", "-o", tmp_path / "h.counts")
    assert r.returncode == 0, r.stderr
    held = (tmp_path / "h.heldout.txt").read_bytes()
    assert len(held) > 1000
    (tmp_path / "h.heldout.txt").write_bytes(held[::-1])
    refused(run("build", "--domains", f"en={tmp_path / 'h.counts'}", "--vocab-size", 600, "--quiet", "-o", tmp_path / "v"),
            f"tok: {tmp_path / 'h.heldout.txt'}: not the held-out text of its count file")
    refused(run("count", "--merge", tmp_path / "h.counts", "--quiet", "-o", tmp_path / "m.counts"),
            f"tok: {tmp_path / 'h.heldout.txt'}: not the held-out text of its count file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.counts", "h.heldout.txt"]
