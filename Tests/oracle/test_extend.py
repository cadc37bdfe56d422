"""tok extend: every base id keeps its bytes, new ids follow the base's largest, the exported tokenizer.json
and ranks file give tok's ids in tokenizers and tiktoken, every new token is reached by merges alone, one
and two threads write the same folder, --add 0 gives the base back, the report's figures are what the
libraries count, count files are taken or refused as tok build takes them, --add auto meets its target,
and a stopped run leaves nothing behind."""
import base64
import json
import signal
import unicodedata

import pytest
from tokenizers import Tokenizer

from conftest import CORPORA, DOMAINS, REFVOCAB, refused, tok
from test_encode import assert_same, hf_from_export, tiktoken_from_export, tok_encode
from test_reliability import start, wait_for

ADDED = 3000
EVAL = ",".join(f"{d}={CORPORA / 'eval' / d}" for d in DOMAINS)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """cl100k and o200k imported, Llama 3's and Qwen2.5's tokenizer.json (merges lists; Qwen normalizes
    text to NFC), and a vocabulary built without Chinese (its special token on its last id)."""
    root = tmp_path_factory.mktemp("bases")
    tok("import", REFVOCAB / "cl100k_base.tiktoken", "--pattern", "cl100k", "-o", root / "cl100k")
    tok("import", REFVOCAB / "o200k_base.tiktoken", "--pattern", "o200k", "-o", root / "o200k")
    tok("import", REFVOCAB / "llama3" / "tokenizer.json", "-o", root / "llama3")
    tok("import", REFVOCAB / "qwen2.5" / "tokenizer.json", "-o", root / "qwen2.5")
    domains = ",".join(f"{d}={CORPORA / d}" for d in ["en", "code", "math"])
    tok("build", "--domains", domains, "--vocab-size", 12000, "--threads", 2, "--quiet", "-o", root / "built")
    return {name: root / name for name in ["cl100k", "o200k", "llama3", "qwen2.5", "built"]}


@pytest.fixture(scope="module")
def extended(bases, tmp_path_factory):
    """Each base plus ADDED tokens learned on Chinese (and, for the built one, Chinese and mathematics), on two threads."""
    root = tmp_path_factory.mktemp("extended")
    out = {}
    for name, base in bases.items():
        domains = f"zh={CORPORA / 'zh'}" + (f",math={CORPORA / 'math'}" if name == "built" else "")
        report = json.loads(tok("extend", "--vocab", base, "--domains", domains, "--add", ADDED, "--eval", EVAL,
                                "--threads", 2, "--json", "-o", root / name).stdout)
        out[name] = (root / name, report)
    return out


def ranks_of(vocab, tmp_path):
    """The ranks file tok exports, as {bytes: rank}."""
    path = tmp_path / f"{vocab.name}.tiktoken"
    tok("export", "--vocab", vocab, "--format", "tiktoken", "-o", path)
    return {base64.b64decode(b64): int(rank) for b64, rank in (line.split() for line in path.read_bytes().splitlines())}


def unescape(field):
    """A token of added.tsv back to its bytes."""
    out, i = bytearray(), 0
    while i < len(field):
        if field[i] == "\\":
            code = field[i + 1]
            if code == "x":
                out.append(int(field[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"t": b"\t", "n": b"\n", "r": b"\r", "\\": b"\\"}[code]
            i += 2
            continue
        out += field[i].encode()
        i += 1
    return bytes(out)


@pytest.mark.parametrize("name", ["cl100k", "o200k", "llama3", "built"])
def test_base_ids_stay_and_new_ids_follow_the_largest(name, bases, extended, tmp_path):
    vocab, report = extended[name]
    before = json.loads((bases[name] / "manifest.json").read_text())
    after = json.loads((vocab / "manifest.json").read_text())
    assert report["added"] == ADDED and report["firstNewId"] == report["baseSize"] == before["size"]
    assert after["size"] == report["size"] == before["size"] + ADDED
    assert after["unreachableTokens"] == before["unreachableTokens"]  # Llama 3 has 588 its merges do not reach; no new one
    assert report["sizeRoundedTo64"] % 64 == 0 and 0 <= report["sizeRoundedTo64"] - report["size"] < 64
    assert report["sizeRoundedTo128"] % 128 == 0 and 0 <= report["sizeRoundedTo128"] - report["size"] < 128
    assert after["specialTokens"] == before["specialTokens"]
    old, new = ranks_of(bases[name], tmp_path), ranks_of(vocab, tmp_path)
    assert all(new[token] == rank for token, rank in old.items())
    added = sorted(rank for token, rank in new.items() if token not in old)
    assert added == list(range(before["size"], before["size"] + ADDED))
    rows = [line.split("\t") for line in (vocab / "added.tsv").read_text().splitlines()]
    assert rows[0] == ["id", "token", "domain", "count"] and len(rows) == ADDED + 1
    by_rank = {rank: token for token, rank in new.items()}
    for row in rows[1:]:
        assert unescape(row[1]) == by_rank[int(row[0])] and row[2] in ("zh", "math") and int(row[3]) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cl100k", "o200k", "llama3", "qwen2.5", "built"])
def test_exports_give_toks_ids_in_tiktoken_and_tokenizers(name, extended, corpus, tmp_path):
    """The base's formats: a ranks file for tiktoken's vocabularies and tok's builds, tokenizer.json for all."""
    vocab, report = extended[name]
    enc = tiktoken_from_export(vocab, tmp_path) if report["mergeRule"] == "ranks" else None
    hf = hf_from_export(vocab, tmp_path)
    for d in DOMAINS:
        text = corpus[d][:600_000]
        if name == "qwen2.5":
            text += unicodedata.normalize("NFD", text[:20_000])  # text the normalizer changes
        ours = tok_encode(vocab, text)
        assert any(i >= report["firstNewId"] for i in ours) or d != "zh"
        if enc:
            assert_same(ours, enc.encode_ordinary(text), text, f"{name} {d} vs tiktoken")
        assert_same(ours, hf.encode(text, add_special_tokens=False).ids, text, f"{name} {d} vs tokenizers")
    if enc:
        assert enc.encode("<|endoftext|>", allowed_special="all") == tok_encode(vocab, "<|endoftext|>", "--allow-special", "all")


def byte_level(data):
    """GPT-2's ByteLevel spelling of bytes, as tokenizer.json's vocab writes them."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return "".join(table[b] for b in data)


@pytest.mark.parametrize("name", ["cl100k", "llama3", "built"])
def test_every_new_token_is_reached_by_merges_alone(name, extended, tmp_path):
    """tokenizers' BPE with ignore_merges off turns each new token's bytes into that token by the exported merges."""
    vocab, report = extended[name]
    tok("export", "--vocab", vocab, "--format", "hf", "-o", tmp_path / "t.json")
    document = json.loads((tmp_path / "t.json").read_text())
    document["model"]["ignore_merges"] = False
    model = Tokenizer.from_str(json.dumps(document)).model
    rows = [line.split("\t") for line in (vocab / "added.tsv").read_text().splitlines()[1:]]
    for row in rows:
        assert [t.id for t in model.tokenize(byte_level(unescape(row[1])))] == [int(row[0])], row


def test_one_and_two_threads_write_the_same_folder(bases, extended, tmp_path):
    vocab, _ = extended["cl100k"]
    tok("extend", "--vocab", bases["cl100k"], "--domains", f"zh={CORPORA / 'zh'}", "--add", ADDED, "--eval", EVAL,
        "--threads", 1, "--quiet", "-o", tmp_path / "one")
    for name in ["tokenizer.json", "added.tsv", "heldout/zh.txt"]:
        assert (tmp_path / "one" / name).read_bytes() == (vocab / name).read_bytes(), name


@pytest.mark.parametrize("name", ["cl100k", "o200k", "llama3", "qwen2.5", "built"])
def test_adding_nothing_gives_the_base_back(name, bases, tmp_path):
    report = json.loads(tok("extend", "--vocab", bases[name], "--domains", f"zh={CORPORA / 'zh'}", "--add", 0, "--json",
                            "-o", tmp_path / "same").stdout)
    assert report["added"] == 0 and report["size"] == report["baseSize"]
    assert (tmp_path / "same" / "tokenizer.json").read_bytes() == (bases[name] / "tokenizer.json").read_bytes()
    assert (tmp_path / "same" / "added.tsv").read_text() == "id\ttoken\tdomain\tcount\n"


def test_the_report_measures_every_domain_as_the_libraries_count(bases, extended, tmp_path):
    """Chinese gains; English, code and mathematics, on which nothing was learned, are measured too and lose
    nothing to speak of; the token counts are those of tok encode (which tiktoken and tokenizers reproduce)."""
    vocab, report = extended["cl100k"]
    by_name = {d["name"]: d for d in report["domains"]}
    assert list(by_name) == ["zh", "code", "en", "math"]  # the extended domains, then those only measured, by name
    assert by_name["zh"]["added"] == ADDED and by_name["zh"]["weight"] == 1
    assert by_name["zh"]["bytesPerTokenRatio"] > 1.1
    for d in ["en", "code", "math"]:
        assert "weight" not in by_name[d] and by_name[d]["added"] == 0 and by_name[d]["bytesPerTokenRatio"] >= 0.995
    for d in DOMAINS:
        text = b"".join(p.read_bytes() for p in sorted((CORPORA / "eval" / d).iterdir()) if not p.name.startswith("."))
        assert by_name[d]["evaluatedOn"] == "evaluation set" and by_name[d]["after"]["bytes"] == len(text)
    files = [p for p in sorted((CORPORA / "eval" / "zh").iterdir()) if not p.name.startswith(".")]
    assert sum(len(tok_encode(vocab, f.read_bytes())) for f in files) == by_name["zh"]["after"]["tokens"]
    cl100k = tiktoken_from_export(bases["cl100k"], tmp_path)
    assert sum(len(cl100k.encode_ordinary(f.read_text())) for f in files) == by_name["zh"]["before"]["tokens"]
    html = (vocab / "extend-report.html").read_text()
    assert "<svg" in html and "cl100k" in html


def test_the_table_says_the_sizes_and_each_domains_figures(bases, tmp_path):
    r = tok("extend", "--vocab", bases["built"], "--domains", f"zh={CORPORA / 'zh'}", "--add", 100, "--eval", EVAL, "--quiet",
            "-o", tmp_path / "x")
    lines = r.stdout.decode().splitlines()
    assert lines[0].startswith(f"{tmp_path / 'x'}: built + 100 tokens = 12100 ids (new ids 12000-12099; 12160 rounded up to 64, ")
    rows = {line.split()[0]: line.split() for line in lines if line.split() and line.split()[0] in DOMAINS}
    assert set(rows) == set(DOMAINS) and rows["zh"][3] == "100" and rows["en"][1:4] == ["-", "-", "0"]
    assert lines[-1] == f"the new ids and their tokens: {tmp_path / 'x'}/added.tsv"


def test_count_files_made_with_the_base_pattern_are_taken_and_others_refused(bases, tmp_path):
    tok("count", "--domain", "zh", "--pattern", "cl100k", CORPORA / "zh", "--quiet", "-o", tmp_path / "zh.counts")
    common = ["--vocab", bases["cl100k"], "--add", 500, "--held-out-per-mille", 0, "--quiet"]
    tok("extend", "--domains", f"zh={tmp_path / 'zh.counts'}", *common, "-o", tmp_path / "from-counts")
    tok("extend", "--domains", f"zh={CORPORA / 'zh'}", *common, "-o", tmp_path / "from-text")
    for name in ["tokenizer.json", "added.tsv"]:
        assert (tmp_path / "from-counts" / name).read_bytes() == (tmp_path / "from-text" / name).read_bytes()
    tok("count", "--domain", "zh", "--pattern", "tok", CORPORA / "zh", "--quiet", "-o", tmp_path / "tok.counts")
    r = tok("extend", "--domains", f"zh={tmp_path / 'tok.counts'}", *common, "-o", tmp_path / "refused", check=False)
    refused(r, "tok.counts", "pattern tok", "not cl100k")
    assert not (tmp_path / "refused").exists()
    # Qwen2.5 normalizes text (NFC) before it splits it: count files hold text as it was.
    tok("count", "--domain", "zh", "--pattern", "qwen2", CORPORA / "zh", "--quiet", "-o", tmp_path / "qwen.counts")
    r = tok("extend", "--vocab", bases["qwen2.5"], "--domains", f"zh={tmp_path / 'qwen.counts'}", "--add", 5, "-o", tmp_path / "refused",
            check=False)
    refused(r, "qwen.counts", "normalizes text (nfc)", "give the corpus")
    assert not (tmp_path / "refused").exists()


@pytest.mark.slow
def test_add_auto_stops_at_the_target_or_says_how_far_it_got(bases, tmp_path):
    report = json.loads(tok("extend", "--vocab", bases["cl100k"], "--domains", f"zh={CORPORA / 'zh'}", "--add", "auto",
                            "--target", "zh=1.2", "--json", "-o", tmp_path / "auto").stdout)
    (target,) = report["targets"]
    assert target["met"] and target["reached"] >= 1.2 and 0 < report["added"] < 100_000
    zh = next(d for d in report["domains"] if d["name"] == "zh")
    assert zh["bytesPerTokenRatio"] == target["reached"]
    # One token fewer misses it: the run stopped at the first count that meets it (found by bisection).
    fewer = json.loads(tok("extend", "--vocab", bases["cl100k"], "--domains", f"zh={CORPORA / 'zh'}", "--add", report["added"] - 1,
                           "--json", "-o", tmp_path / "fewer").stdout)
    zh = next(d for d in fewer["domains"] if d["name"] == "zh")
    assert zh["before"]["tokens"] / zh["after"]["tokens"] < 1.2
    far = tok("extend", "--vocab", bases["cl100k"], "--domains", f"zh={CORPORA / 'zh'}", "--add", "auto", "--target", "zh=20",
              "--max-add", 300, "-o", tmp_path / "far")
    assert b"not reached" in far.stdout
    assert json.loads((tmp_path / "far" / "extend-report.json").read_text())["added"] == 300


def test_a_budget_too_small_for_every_piece_drops_the_rarest_and_says_so(bases, tmp_path):
    report = json.loads(tok("extend", "--vocab", bases["built"], "--domains", f"zh={CORPORA / 'zh'}", "--add", 500,
                            "--memory", "170M", "--json", "-o", tmp_path / "tight").stdout)
    reduction = report["reduction"]
    assert 0 < reduction["droppedPieces"] < reduction["distinctPieces"] and report["added"] == 500


def test_bad_command_lines_are_refused_before_any_work(bases, tmp_path):
    base = ["extend", "--vocab", bases["built"], "--domains", f"zh={CORPORA / 'zh'}", "-o", tmp_path / "x"]
    refused(tok(*base, "--add", "auto", check=False), "--target", code=64)
    refused(tok(*base, "--add", 5, "--target", "zh=1.3", check=False), "--add auto", code=64)
    refused(tok(*base, "--add", "auto", "--target", "en=1.3", check=False), "--target", "en", code=64)
    refused(tok(*base, "--add", "-1", check=False), "--add", code=64)
    refused(tok(*base, "--add", "auto", "--target", "zh=0.5", check=False), "above 1", code=64)
    refused(tok("extend", "--vocab", bases["built"], "--domains", f"zh={CORPORA / 'zh'}", "--add", 5, "-o", bases["built"],
                check=False), str(bases["built"]))
    assert not (tmp_path / "x").exists()


def test_a_stopped_extension_leaves_nothing(bases, tmp_path):
    tmpdir, out = tmp_path / "tmp", tmp_path / "out"
    tmpdir.mkdir()
    out.mkdir()
    p = start(["extend", "--vocab", bases["cl100k"], "--domains", f"zh={CORPORA / 'zh'}", "--add", 50000, "--quiet",
               "-o", out / "v"], tmpdir)
    assert wait_for(lambda: any(tmpdir.iterdir()) and any(out.iterdir())), "the extension never started writing"
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGTERM
    assert list(tmpdir.iterdir()) == [] and list(out.iterdir()) == []
