"""tok build and tok stats: exact size, every token reachable, no duplicates,
deterministic, exports that tokenizers reproduces, a report that tok stats
reproduces, and a starved domain that gains on the pooled baseline."""
import base64
import json

import pytest
from tokenizers import Tokenizer

from conftest import CORPORA, DOMAINS, domain_text, tok


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    domains = ",".join(f"{d}={CORPORA / d}" for d in DOMAINS)
    out = root / "v"
    report = json.loads(tok("build", "--domains", domains, "--vocab-size", 20000, "--special-tokens", "<|endoftext|>,<|pad|>",
                            "--compare-pooled", "--threads", 2, "--json", "-o", out).stdout)
    return root, domains, out, report


def test_exact_size_reachable_and_unique(built, tmp_path):
    _, _, out, report = built
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["size"] == 20000 and manifest["bpeTokens"] == 20000 - 2
    assert manifest["unreachableTokens"] == 0
    assert [s["id"] for s in manifest["specialTokens"]] == [19998, 19999]
    tok("export", "--vocab", out, "--format", "tiktoken", "-o", tmp_path / "r.tiktoken")
    tokens = [base64.b64decode(l.split()[0]) for l in (tmp_path / "r.tiktoken").read_bytes().splitlines()]
    assert len(tokens) == 19998 == len(set(tokens))
    assert sum(d["contributed"] for d in report["domains"]) + report["jointOnlyTokens"] == 20000 - 256 - 2
    assert sum(report["composition"].values()) == 20000


@pytest.mark.slow
def test_build_is_deterministic(built, tmp_path):
    _, domains, out, _ = built
    tok("build", "--domains", domains, "--vocab-size", 20000, "--special-tokens", "<|endoftext|>,<|pad|>", "--threads", 1,
        "--quiet", "-o", tmp_path / "again")
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    for d in DOMAINS:
        assert (tmp_path / "again" / "heldout" / f"{d}.txt").read_bytes() == (out / "heldout" / f"{d}.txt").read_bytes()


def test_stats_reproduces_the_report_and_tokenizers_the_ids(built, tmp_path):
    _, _, out, report = built
    held = ",".join(f"{d}={out / 'heldout' / f'{d}.txt'}" for d in DOMAINS)
    stats = json.loads(tok("stats", "--vocab", out, "--domains", held, "--json", "--html", tmp_path / "s.html").stdout)
    for d in report["domains"]:
        assert d["heldOutDocuments"] > 0
        ours = stats["results"][d["name"]][str(out)]
        assert ours["tokens"] == d["merged"]["tokens"] and ours["bytes"] == d["merged"]["bytes"]
    html = (tmp_path / "s.html").read_text()
    assert "<svg" in html and "http" not in html.replace("http-equiv", "")
    tok("export", "--vocab", out, "--format", "hf", "-o", tmp_path / "t.json")
    hf = Tokenizer.from_file(str(tmp_path / "t.json"))
    for d in DOMAINS:
        text = (out / "heldout" / f"{d}.txt").read_text()
        ids = [int(x) for x in tok("encode", "--vocab", out, input=text.encode()).stdout.split()]
        assert ids == hf.encode(text).ids


def test_starved_domain_gains_on_pooled(tmp_path):
    """zh with a fifth of the others' text: the merged vocabulary serves it better than one pooled BPE."""
    small = tmp_path / "zh-small.txt"
    files = sorted(p for p in (CORPORA / "zh").rglob("*") if p.is_file() and not p.name.startswith("."))
    small.write_bytes(b"".join(p.read_bytes() for p in files)[:1_000_000].rsplit(b"\n", 1)[0] + b"\n")
    domains = f"zh={small},en={CORPORA / 'en'},code={CORPORA / 'code'}"
    report = json.loads(tok("build", "--domains", domains, "--vocab-size", 12000, "--compare-pooled", "--json",
                            "-o", tmp_path / "v").stdout)
    zh = next(d for d in report["domains"] if d["name"] == "zh")
    assert zh["merged"]["bytesPerToken"] > zh["pooled"]["bytesPerToken"] * 1.01


def test_bad_domains_are_named(tmp_path):
    r = tok("build", "--domains", f"zh={tmp_path / 'nothing'}", "-o", tmp_path / "v", check=False)
    assert r.returncode != 0 and b"nothing" in r.stderr and not (tmp_path / "v" / "tokenizer.json").exists()
    r = tok("build", "--domains", "zh", "-o", tmp_path / "v", check=False)
    assert r.returncode != 0 and b"NAME=" in r.stderr


@pytest.mark.slow
def test_a_budget_that_fits_changes_nothing_and_one_that_does_not_is_kept_and_reported(built, tmp_path):
    """--memory bounds the build: with room for everything the vocabulary is the unbudgeted one; with
    too little, the rarest pieces go (the same ones every time), the report says so, and the peak RSS
    stays within the budget."""
    _, domains, out, report = built
    assert report["reductions"] == {}
    common = ["--vocab-size", 20000, "--special-tokens", "<|endoftext|>,<|pad|>", "--compare-pooled", "--quiet"]
    tok("build", "--domains", domains, *common, "--memory", "20G", "-o", tmp_path / "roomy")
    assert (tmp_path / "roomy" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    runs = []
    for k in range(2):
        tok("build", "--domains", domains, *common, "--memory", "300M", "--threads", 2 - k, "-o", tmp_path / f"tight{k}")
        runs.append(json.loads((tmp_path / f"tight{k}" / "build-report.json").read_text()))
    assert (tmp_path / "tight0" / "tokenizer.json").read_bytes() == (tmp_path / "tight1" / "tokenizer.json").read_bytes()
    tight = runs[0]
    assert "joint" in tight["reductions"] and tight["reductions"] == runs[1]["reductions"]
    for r in tight["reductions"].values():
        assert 0 < r["droppedPieces"] < r["distinctPieces"] and 0 < r["droppedMass"] < r["pieceMass"]
        assert r["keptEstimatedBytes"] <= r["budgetBytes"] < r["estimatedBytes"]
    assert tight["memoryBudgetMB"] == 300 and tight["peakMemoryMB"] <= 300 * 1.1
    assert tight["vocabularySize"] == 20000
    # What dropping cost on held-out text: small, and never a gain on every domain at once.
    losses = [a["merged"]["bytesPerToken"] / b["merged"]["bytesPerToken"] for a, b in zip(tight["domains"], report["domains"])]
    assert all(x > 0.9 for x in losses) and min(losses) < 1


@pytest.mark.slow
def test_train_with_a_budget_that_fits_equals_train_without(tmp_path):
    tok("count", CORPORA / "zh", "-o", tmp_path / "zh.counts", "--quiet")
    tok("train", tmp_path / "zh.counts", "--vocab-size", 8000, "-o", tmp_path / "free", "--quiet")
    tok("train", tmp_path / "zh.counts", "--vocab-size", 8000, "--memory", "8G", "-o", tmp_path / "roomy", "--quiet")
    assert (tmp_path / "roomy" / "tokenizer.json").read_bytes() == (tmp_path / "free" / "tokenizer.json").read_bytes()
    summary = json.loads(tok("train", tmp_path / "zh.counts", "--vocab-size", 8000, "--memory", "200M", "--json",
                             "-o", tmp_path / "tight").stdout)
    assert summary["reduction"]["droppedPieces"] > 0 and summary["merges"] == 8000 - 256


def test_a_corpus_too_small_for_the_size_says_how_many_merges_it_yields(tmp_path):
    """One `tok:` line with the numbers, no folder; the largest size it names builds."""
    corpus = tmp_path / "tiny"
    corpus.mkdir()
    (corpus / "a.txt").write_text("the cat sat on the mat\n\nthe dog sat on the log\n")
    trained = json.loads(tok("train", corpus, "--vocab-size", 20000, "--json", "-o", tmp_path / "trained").stdout)
    merges = trained["merges"]  # what one BPE on all of it makes
    r = tok("build", "--domains", f"en={corpus}", "--vocab-size", 20000, "--held-out-per-mille", 0, "-o", tmp_path / "v",
            "--quiet", check=False)
    assert r.returncode == 1 and r.stdout == b""
    assert r.stderr.decode().splitlines() == [
        f"tok: the corpora yield only {merges} merges, not the {20000 - 257} that a vocabulary of 20000 ids needs besides "
        f"its 257 byte and special tokens: ask for at most {merges + 257} ids, or give more text"]
    assert not (tmp_path / "v").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["tiny", "trained"]
    tok("build", "--domains", f"en={corpus}", "--vocab-size", merges + 257, "--held-out-per-mille", 0, "-o", tmp_path / "v",
        "--quiet")
    assert json.loads((tmp_path / "v" / "manifest.json").read_text())["size"] == merges + 257


def test_binary_files_in_a_corpus_are_reported_as_tok_count_reports_them(tmp_path):
    corpus = tmp_path / "en"
    corpus.mkdir()
    (corpus / "a.txt").write_text(domain_text("en", 200_000))
    (corpus / "tool").write_bytes(bytes(range(256)) * 4)  # 128 bytes a copy are not UTF-8
    count = tok("count", corpus, "-o", tmp_path / "en.counts", "--quiet").stderr.decode().splitlines()
    assert count == ["tok: 512 bytes of invalid UTF-8 counted as byte pieces"]
    for quiet in [[], ["--quiet"]]:
        r = tok("build", "--domains", f"en={corpus}", "--vocab-size", 1000, *quiet, "-o", tmp_path / f"v{len(quiet)}")
        assert "tok: en: 512 bytes of invalid UTF-8 counted as byte pieces" in r.stderr.decode().splitlines()
    # Given as a count file, the domain's counts say the same, naming the file.
    r = tok("build", "--domains", f"en={tmp_path / 'en.counts'}", "--vocab-size", 1000, "--quiet", "-o", tmp_path / "from-counts")
    assert f"tok: en: {tmp_path / 'en.counts'}: 512 bytes of invalid UTF-8 counted as byte pieces" in r.stderr.decode().splitlines()


def test_jsonl_text_comes_from_field_and_strict_names_the_line(tmp_path):
    """--field picks the text of .jsonl training and evaluation files; the field tok does not read is never
    counted; --strict fails on a line without the field, naming the file and line, and writes nothing."""
    folders = {}
    for d in ("en", "code"):
        docs = domain_text(d, 300_000).split("\n\n")
        (tmp_path / d).mkdir()
        lines = [json.dumps({"text": "zqxjv " * 20, "content": doc}) for doc in docs if doc.strip()]
        (tmp_path / d / "train.jsonl").write_text("\n".join(lines[20:]) + "\n")
        (tmp_path / f"{d}-eval.jsonl").write_text("\n".join(lines[:20]) + "\n")
        folders[d] = sum(len(json.loads(l)["content"].encode()) for l in lines[:20])
    domains = ",".join(f"{d}={tmp_path / d}" for d in folders)
    evaluation = ",".join(f"{d}={tmp_path / f'{d}-eval.jsonl'}" for d in folders)
    report = json.loads(tok("build", "--domains", domains, "--eval", evaluation, "--field", "content", "--vocab-size", 2000,
                            "--json", "-o", tmp_path / "v").stdout)
    assert {d["name"]: d["merged"]["bytes"] for d in report["domains"]} == folders
    vocab = json.loads((tmp_path / "v" / "tokenizer.json").read_text())["model"]["vocab"]
    assert "Ġzqxjv" not in vocab and "zqxjv" not in vocab

    (tmp_path / "en" / "train.jsonl").open("a").write(json.dumps({"text": "no content here"}) + "\n")
    line = len((tmp_path / "en" / "train.jsonl").read_text().splitlines())
    r = tok("build", "--domains", domains, "--field", "content", "--strict", "--vocab-size", 2000, "-o", tmp_path / "w",
            check=False)
    err = r.stderr.decode().strip()
    assert r.returncode != 0 and len(err.splitlines()) == 1, err
    assert f"train.jsonl:{line}:" in err and '"content"' in err
    assert not (tmp_path / "w").exists()
