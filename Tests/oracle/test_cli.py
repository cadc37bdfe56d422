"""The command line as a user meets it: every bad option is refused when the
command line is parsed, with one `tok:` line and nothing written; every write
to standard output is checked (a full disk, a closed pipe); `tok encode` reads
`.zst` and JSON lines as the corpus commands do; progress ends at 100%;
`tok --version`; an example in every command's help."""
import base64
import json
import re
import signal
import subprocess

import pytest
import tiktoken

from conftest import REFVOCAB, TOK, domain_text, tok

COMMANDS = ["encode", "decode", "import", "export", "pretokenize", "count", "train", "build", "extend", "stats"]


def run(*args, cwd=None, stdout=subprocess.PIPE, input=None, timeout=120):
    return subprocess.run([TOK, *map(str, args)], cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, input=input,
                          timeout=timeout)


def listing(folder):
    """Every path under `folder` with its size: what a run may have written."""
    return sorted((str(p.relative_to(folder)), p.stat().st_size if p.is_file() else -1) for p in folder.rglob("*"))


def assert_one_error_line(r, *fragments):
    lines = r.stderr.decode(errors="replace").splitlines()
    assert r.returncode not in (0, None) and r.returncode > 0, (r.returncode, lines)
    assert len(lines) == 1 and lines[0].startswith("tok: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="session")
def cl100k(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-vocab")
    tok("import", REFVOCAB / "cl100k_base.tiktoken", "--pattern", "cl100k", "-o", root / "cl100k")
    return root / "cl100k"


@pytest.fixture(scope="session")
def english():
    return domain_text("en", 400_000)


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stderr == b""
    assert re.fullmatch(rb"\d+\.\d+\.\d+\n", r.stdout), r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_shows_an_example(command):
    r = run(command, "--help")
    assert r.returncode == 0
    text = r.stdout.decode()
    example = text.split("Example:", 1)[1].strip().splitlines()[0]
    assert f"tok {command} " in example, example


# Each is wrong in one option only: the corpus, vocabulary and output paths are real.
INVALID = {
    "weight infinite": ["build", "--domains", "en=corpus", "--weights", "en=inf", "-o", "out"],
    "weight NaN": ["build", "--domains", "en=corpus", "--weights", "en=nan", "-o", "out"],
    "weight negative": ["build", "--domains", "en=corpus", "--weights", "en=-1", "-o", "out"],
    "weight of no domain": ["build", "--domains", "en=corpus", "--weights", "zh=2", "-o", "out"],
    "domain twice": ["build", "--domains", "en=corpus,en=corpus", "-o", "out"],
    "memory overflows": ["build", "--domains", "en=corpus", "--memory", "99999999999G", "-o", "out"],
    "memory not a size": ["count", "corpus", "--memory", "lots", "-o", "out.counts"],
    "vocabulary beyond 32-bit ids": ["build", "--domains", "en=corpus", "--vocab-size", "5000000000", "-o", "out"],
    "vocabulary smaller than the bytes": ["train", "corpus", "--vocab-size", "200", "-o", "out"],
    "train beyond 32-bit ids": ["train", "corpus", "--vocab-size", "5000000000", "-o", "out"],
    "train into the current folder": ["train", "corpus", "--vocab-size", "300", "-o", "."],
    "count threads": ["count", "corpus", "--threads", "100000", "-o", "out.counts"],
    "encode threads": ["encode", "--vocab", "VOCAB", "--threads", "100000", "corpus/a.txt"],
    "zero threads": ["stats", "--vocab", "VOCAB", "--domains", "en=corpus", "--threads", "0"],
    "special token twice": ["build", "--domains", "en=corpus", "--special-tokens", "<a>,<a>", "-o", "out"],
    "hold out by nothing": ["build", "--domains", "en=corpus", "--hold-out-by", "paragraph", "-o", "out"],
    "held out per mille": ["build", "--domains", "en=corpus", "--held-out-per-mille", "2000", "-o", "out"],
    "removed --balance": ["build", "--domains", "en=corpus", "--balance", "geometric", "-o", "out"],
    "removed --mix": ["build", "--domains", "en=corpus", "--mix", "en=1", "-o", "out"],
    "encode format": ["encode", "--vocab", "VOCAB", "--format", "u8", "corpus/a.txt"],
    "decode format": ["decode", "--vocab", "VOCAB", "--format", "u8", "corpus/a.txt"],
    "shard size": ["encode", "--vocab", "VOCAB", "--format", "megatron", "--shard-size", "inf", "corpus", "-o", "ds"],
    "piece cache": ["encode", "--vocab", "VOCAB", "--piece-cache", "1000000000000", "corpus/a.txt"],
    "held-out capacity": ["count", "corpus", "--hold-out", "20", "--held-out-capacity", "0", "-o", "out.counts"],
    "import special id": ["import", "ranks.tiktoken", "--pattern", "cl100k", "--special", "<a>=-1", "-o", "out"],
    "regex": ["pretokenize", "--regex", "(", "corpus/a.txt"],
    "document of no dataset": ["decode", "--vocab", "VOCAB", "--document", "3", "corpus/a.txt"],
    "stats with nothing to measure": ["stats", "--vocab", "VOCAB"],
    "u32 of documents": ["encode", "--vocab", "VOCAB", "--format", "u32", "corpus/b.jsonl"],
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_option_is_one_line_and_writes_nothing(name, tmp_path, cl100k, english):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text(english[:50_000])
    (tmp_path / "corpus" / "b.jsonl").write_text(json.dumps({"text": english[:1000]}) + "\n")
    (tmp_path / "ranks.tiktoken").write_bytes((REFVOCAB / "cl100k_base.tiktoken").read_bytes())
    before = listing(tmp_path)
    args = [str(cl100k) if a == "VOCAB" else a for a in INVALID[name]]
    r = run(*args, cwd=tmp_path, timeout=60)
    assert_one_error_line(r)
    assert r.returncode == 64  # a bad command line, as ArgumentParser's own errors
    assert r.stdout == b""
    assert listing(tmp_path) == before


def test_reasons_name_the_value(tmp_path):
    r = run("build", "--domains", "en=corpus", "--weights", "en=inf", "-o", "out", cwd=tmp_path)
    assert_one_error_line(r, "--weights", "inf", "1000")
    r = run("count", "x", "--threads", "100000", "-o", "x.counts", cwd=tmp_path)
    assert_one_error_line(r, "--threads", "1024", "100000")
    r = run("build", "--domains", "en=x", "--memory", "99999999999G", "-o", "out", cwd=tmp_path)
    assert_one_error_line(r, "--memory", "99999999999G")


def stdout_commands(vocab, folder):
    """Commands that write to standard output, each with enough to write."""
    text = folder / "a.txt"
    ids = folder / "a.ids"
    return {
        "encode": ["encode", "--vocab", vocab, text],
        "encode u32": ["encode", "--vocab", vocab, "--format", "u32", text],
        "encode lines": ["encode", "--vocab", vocab, "--lines", text],
        "encode count": ["encode", "--vocab", vocab, "--count", text],
        "decode": ["decode", "--vocab", vocab, ids],
        "pretokenize": ["pretokenize", text],
        "stats": ["stats", "--vocab", vocab, "--domains", f"en={text}"],
        "count json": ["count", text, "--json", "-o", folder / "a.counts"],
    }


@pytest.fixture
def output_folder(tmp_path, cl100k, english):
    (tmp_path / "a.txt").write_text(english * 4)  # 1.6 MB: past a 1 MiB disk, as text, ids or raw ids
    (tmp_path / "a.ids").write_bytes(tok("encode", "--vocab", cl100k, tmp_path / "a.txt").stdout)
    return tmp_path


@pytest.mark.parametrize("name", ["encode", "encode u32", "encode lines", "encode count", "decode", "pretokenize", "stats",
                                  "count json"])
def test_full_standard_output_fails_the_run(name, output_folder, cl100k):
    with open("/dev/full", "wb") as full:
        r = run(*stdout_commands(cl100k, output_folder)[name], stdout=full)
    assert r.returncode == 1
    assert_one_error_line(r, "standard output", "No space left on device")


def test_closed_pipe_never_exits_0(output_folder, cl100k):
    """The reader stops after 10 bytes: tok ends quietly with status 141, as a
    process SIGPIPE ends, whether or not its parent ignores SIGPIPE."""
    big = output_folder / "a.txt"
    for ignore in (False, True):
        p = subprocess.Popen([TOK, "encode", "--vocab", str(cl100k), str(big)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             preexec_fn=(lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN)) if ignore else None)
        assert len(p.stdout.read(10)) == 10
        p.stdout.close()
        err = p.stderr.read()
        assert p.wait(timeout=120) == 141 and err == b"", (ignore, p.returncode, err)


def test_full_disk_through_redirection(output_folder, cl100k):
    """A 1 MiB tmpfs behind `>`: encode, --format u32 and decode fail with one
    line instead of exit 0 with the file cut short."""
    full = output_folder / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(full)], capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        commands = stdout_commands(cl100k, output_folder)
        for name in ["encode", "encode u32", "decode"]:
            with open(full / "out", "wb") as out:
                r = run(*commands[name], stdout=out)
            assert r.returncode == 1, name
            assert_one_error_line(r, "standard output", "No space left on device")
            (full / "out").unlink()
    finally:
        subprocess.run(["umount", str(full)], check=True)


def zstd(path, out):
    subprocess.run(["zstd", "-q", "-f", str(path), "-o", str(out)], check=True)


def test_encode_reads_zstd_like_plain_text(output_folder, cl100k):
    plain = output_folder / "a.txt"
    zstd(plain, output_folder / "a.txt.zst")
    expected = tok("encode", "--vocab", cl100k, plain).stdout
    assert tok("encode", "--vocab", cl100k, output_folder / "a.txt.zst").stdout == expected
    assert tok("encode", "--vocab", cl100k, "--format", "u32", output_folder / "a.txt.zst").stdout == \
        tok("encode", "--vocab", cl100k, "--format", "u32", plain).stdout
    counted = tok("encode", "--vocab", cl100k, "--count", plain, output_folder / "a.txt.zst").stdout.decode().splitlines()
    assert counted[1].split("\t")[1:] == counted[2].split("\t")[1:]
    assert counted[1].split("\t")[1] == str(len(plain.read_bytes()))


def cl100k_reference(vocab):
    """tiktoken's cl100k from the ranks file and the regex tok records (no download)."""
    ranks = {}
    for line in (REFVOCAB / "cl100k_base.tiktoken").read_bytes().splitlines():
        b64, rank = line.split()
        ranks[base64.b64decode(b64)] = int(rank)
    (pattern,) = json.loads((vocab / "manifest.json").read_text())["regexes"]
    return tiktoken.Encoding("cl100k", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})


def test_encode_reads_json_lines_as_documents(output_folder, cl100k, english):
    """A JSON line is a document, its text in --field, encoded alone: one line of
    ids each, the ids tiktoken gives the text; an empty text gives an empty line;
    a text's own newlines do not split it."""
    texts = [p for p in english[:60_000].split("\n\n") if p] + ["", "two\nlines", "ünïcödé 中文 🙂"]
    docs = output_folder / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": k, "content": t}) + "\n" for k, t in enumerate(texts)))
    zstd(docs, output_folder / "docs.jsonl.zst")
    reference = cl100k_reference(cl100k)
    expected = "".join(" ".join(map(str, reference.encode_ordinary(t))) + "\n" for t in texts).encode()
    for source in (docs, output_folder / "docs.jsonl.zst"):
        r = run("encode", "--vocab", cl100k, "--field", "content", source)
        assert r.returncode == 0 and r.stderr == b"", r.stderr
        assert r.stdout == expected
    counted = tok("encode", "--vocab", cl100k, "--count", "--field", "content", docs).stdout.decode().splitlines()
    assert counted[1].split("\t")[1] == str(sum(len(t.encode()) for t in texts))
    assert counted[1].split("\t")[3] == str(sum(len(reference.encode_ordinary(t)) for t in texts))


def test_encode_of_a_truncated_zstd_file_is_refused(output_folder, cl100k):
    zstd(output_folder / "a.txt", output_folder / "whole.zst")
    packed = (output_folder / "whole.zst").read_bytes()
    (output_folder / "cut.txt.zst").write_bytes(packed[: len(packed) // 2])
    before = listing(output_folder)
    r = run("encode", "--vocab", cl100k, output_folder / "cut.txt.zst", "-o", output_folder / "cut.ids")
    assert r.returncode == 1 and r.stdout == b""
    assert_one_error_line(r, "cut.txt.zst", "not valid zstd data")
    assert listing(output_folder) == before


def test_json_lines_with_strict_name_the_line(output_folder, cl100k):
    docs = output_folder / "bad.jsonl"
    docs.write_text('{"text": "fine"}\n{"text": broken\n')
    r = run("encode", "--vocab", cl100k, "--strict", docs)
    assert r.stdout == b""
    assert_one_error_line(r, "bad.jsonl:2", "malformed JSON line")


def progress_lines(stderr):
    return [l for l in stderr.decode().splitlines() if not l.startswith("tok: ")]


def test_progress_ends_at_100_percent(tmp_path, english):
    """Progress lines are throttled (every 30 s in a log), yet the last one says 100%:
    the corpus is several of counting's 2 MiB blocks, so the first line comes well before the end."""
    corpus = tmp_path / "big.txt"
    corpus.write_text(english * 20)
    r = run("count", corpus, "-o", tmp_path / "big.counts")
    assert r.returncode == 0
    assert "(100%)" in progress_lines(r.stderr)[-1], r.stderr
    r = run("train", tmp_path / "big.counts", "--vocab-size", 2000, "-o", tmp_path / "v")
    assert r.returncode == 0
    assert re.search(r"training: (\d+) of \1 merges", progress_lines(r.stderr)[-1]), r.stderr
