"""Counting and encoding a corpus in shards, as one machine would do it whole.
The hold-out plan (`tok count --scan-held-out` per shard, `tok count
--plan-held-out` over the scans): shards counted with it hold out what one
count of the corpus holds out. The Spark jobs (scripts/spark/tok_spark.py,
spark-submit with local[2]; marked `spark`): encode: each executor's shard
equals a single-machine `tok encode` of that input, the shards together hold
the whole corpus's tokens, the combined manifest adds up; count: the merged
count files and held-out texts are byte-identical to one `tok count --hold-out`
of the same shards (with --superwords, the superword counts too), and a build
from them equals a build from the shards (a superword build too). In
both, a shard that cannot be read fails the job naming it and leaves no output
behind. The Slurm recipe (scripts/slurm/tok-count.sh) run here: the same."""
import json
import os
import pathlib
import subprocess
import warnings

import pytest

from conftest import CORPORA, DOMAINS, REFVOCAB, ROOT, TOK, tok

warnings.filterwarnings("ignore")

DRIVER = ROOT / "scripts" / "spark" / "tok_spark.py"


def documents(domain, limit):
    """A domain's documents from its first `limit` bytes: the text between blank lines."""
    text = b"".join(p.read_bytes() for p in sorted((CORPORA / domain).iterdir()) if not p.name.startswith("."))[:limit]
    return [d.decode("utf-8") for d in text.split(b"\n\n")[:-1] if d.strip()]


def spark_submit(*args):
    return subprocess.run(["spark-submit", "--master", "local[2]", "--conf", "spark.ui.enabled=false", DRIVER, *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark")
    inputs = []
    for d in DOMAINS:
        path = root / "in" / f"{d}.jsonl"
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(json.dumps({"text": t}) for t in documents(d, 150_000)) + "\n")
        inputs.append(path)
    tok("import", REFVOCAB / "o200k_base.tiktoken", "--pattern", "o200k", "-o", root / "o200k")
    return root, sorted(inputs)


@pytest.mark.spark
def test_spark_shards_equal_single_machine_runs(shards):
    root, inputs = shards
    r = spark_submit("encode", "--tok", TOK, "--vocab", root / "o200k", "--append-eod", "--domain", "mixed",
                     "--output", root / "spark" / "ds", root / "in")
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((root / "spark" / "ds.manifest.json").read_text())
    assert [s["inputs"] for s in manifest["shards"]] == [[str(p)] for p in inputs]
    for k, source in enumerate(inputs):
        tok("encode", "--vocab", root / "o200k", "--format", "megatron", "--append-eod", "--domain", "mixed", source,
            "-o", root / "single" / f"ds-{k:05d}")
        for ext in ["bin", "idx"]:
            assert (root / "spark" / f"ds-{k:05d}.{ext}").read_bytes() == (root / "single" / f"ds-{k:05d}.{ext}").read_bytes()
    # A .bin is the documents' ids one after another: the shards' in order are the whole corpus's.
    tok("encode", "--vocab", root / "o200k", "--format", "megatron", "--append-eod", *inputs, "-o", root / "whole")
    whole = (root / "whole.bin").read_bytes()
    assert b"".join((root / "spark" / f"ds-{k:05d}.bin").read_bytes() for k in range(len(inputs))) == whole
    stats = json.loads(tok("stats", "--dataset", root / "spark" / "ds", "--json").stdout)
    documents_in_all = sum(len(documents(d, 150_000)) for d in DOMAINS)
    assert stats["datasets"][0]["documents"] == documents_in_all == sum(s["documents"] for s in manifest["shards"])
    assert stats["tokensPerDomain"] == {"mixed": len(whole) // 4}  # o200k's ids are 4 bytes


@pytest.mark.spark
def test_an_unreadable_shard_fails_the_job_naming_it(shards, tmp_path):
    root, inputs = shards
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "a.jsonl").write_bytes(inputs[0].read_bytes())
    subprocess.run(["zstd", "-q", str(inputs[1]), "-o", str(tmp_path / "whole.zst")], check=True)
    packed = (tmp_path / "whole.zst").read_bytes()
    (bad / "b.jsonl.zst").write_bytes(packed[: len(packed) // 2])
    r = spark_submit("encode", "--tok", TOK, "--vocab", root / "o200k", "--output", tmp_path / "out" / "ds", bad)
    assert r.returncode != 0
    assert "b.jsonl.zst: not valid zstd data" in r.stderr
    assert not (tmp_path / "out" / "ds.manifest.json").exists()


@pytest.fixture(scope="module")
def count_shards(tmp_path_factory):
    """Each domain's documents in three JSON-lines shards (zh's last compressed), in sorted order."""
    root = tmp_path_factory.mktemp("spark-count")
    shards = {}
    for d in DOMAINS:
        docs = documents(d, 600_000)
        folder = root / "in" / d
        folder.mkdir(parents=True)
        parts = [docs[k::3] for k in range(3)]
        for k, part in enumerate(parts):
            (folder / f"part-{k}.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in part) + "\n")
        if d == "zh":
            subprocess.run(["zstd", "-q", "--rm", str(folder / "part-2.jsonl")], check=True)
        shards[d] = sorted(str(p) for p in folder.iterdir())
    return root, shards


SUPERWORDS_AT = "4M"  # the capacity whose Spark job also counts superwords (--superwords)


@pytest.fixture(scope="module")
def spark_counts(count_shards):
    """The Spark count job's output folder at a held-out capacity, run once a
    capacity; at ``SUPERWORDS_AT`` with --superwords."""
    root, _ = count_shards
    done = {}

    def run(capacity):
        if capacity not in done:
            out = root / f"spark-{capacity}"
            superwords = ["--superwords"] if capacity == SUPERWORDS_AT else []
            r = spark_submit("count", "--tok", TOK, "--output", out, "--fan-in", "2", "--held-out-capacity", capacity,
                             *superwords, *[f"{d}={root / 'in' / d}" for d in DOMAINS])
            assert r.returncode == 0, r.stderr[-2000:]
            done[capacity] = out
        return done[capacity]
    return run


@pytest.mark.parametrize("fills", ["in the first shard", "in a later shard"])
def test_shards_counted_with_the_plan_hold_out_what_the_whole_corpus_does(count_shards, fills, tmp_path):
    """With a capacity that fills within a shard, the shards after it must hold out only what still
    fits, as one count of the whole corpus does."""
    root, shards = count_shards
    for d in ["zh", "code"]:
        scans = []
        for k, shard in enumerate(shards[d]):
            scans.append(tmp_path / f"{d}-scan-{k}.json")
            scans[-1].write_bytes(tok("count", "--hold-out", 20, "--scan-held-out", shard).stdout)
        sizes = [json.loads(s.read_text()) for s in scans]
        assert all(sizes)
        capacity = sum(sizes[0]) // 2 if fills == "in the first shard" else sum(sizes[0]) + sum(sizes[1]) // 2
        plan = tok("count", "--plan-held-out", "--held-out-capacity", capacity, *scans).stdout.decode()
        parts = [json.loads(line) for line in plan.splitlines()]
        assert [p["scan"] for p in parts] == [str(s) for s in scans]
        assert plan.startswith('{"heldOutBefore":0,')  # what a shell reads from the start of a line
        tok("count", "--plan-held-out", "--held-out-capacity", capacity, *scans, "-o", tmp_path / f"{d}.plan")
        assert (tmp_path / f"{d}.plan").read_text() == plan
        counted = []
        for k, (shard, part) in enumerate(zip(shards[d], parts)):
            counted.append(tmp_path / f"{d}-{k}.counts")
            tok("count", "--domain", d, "--hold-out", 20, "--held-out-capacity", capacity, "--held-out-before",
                part["heldOutBefore"], shard, "-o", counted[-1], "--quiet")
        tok("count", "--merge", *counted, "-o", tmp_path / f"{d}-merged.counts", "--quiet")
        tok("count", "--domain", d, "--hold-out", 20, "--held-out-capacity", capacity, *shards[d],
            "-o", tmp_path / f"{d}-whole.counts", "--quiet")
        assert (tmp_path / f"{d}-merged.counts").read_bytes() == (tmp_path / f"{d}-whole.counts").read_bytes(), d
        whole_held = (tmp_path / f"{d}-whole.heldout.txt").read_bytes()
        assert (tmp_path / f"{d}-merged.heldout.txt").read_bytes() == whole_held, d
        # The capacity binds: some candidates were left to training.
        assert 0 < len(whole_held) <= capacity < sum(map(sum, sizes))


def test_a_plan_of_what_is_not_a_scan_is_refused_naming_it(count_shards, tmp_path):
    root, shards = count_shards
    (tmp_path / "good.json").write_bytes(tok("count", "--hold-out", 20, "--scan-held-out", shards["en"][0]).stdout)
    for bad in [b"", b"{}", b"[1, -2]", b"[1, 2.5]", b"not json"]:
        (tmp_path / "bad.json").write_bytes(bad)
        r = tok("count", "--plan-held-out", tmp_path / "good.json", tmp_path / "bad.json", "-o", tmp_path / "plan", check=False)
        lines = r.stderr.decode().splitlines()
        assert r.returncode != 0 and r.stdout == b"" and not (tmp_path / "plan").exists()
        assert lines == [f"tok: {tmp_path / 'bad.json'}: not a hold-out scan (the JSON array of sizes that tok count "
                         "--hold-out N --scan-held-out prints)"]
    r = tok("count", "--plan-held-out", "--hold-out", 20, tmp_path / "good.json", check=False)
    assert r.returncode != 0 and b"--plan-held-out" in r.stderr


@pytest.mark.spark
@pytest.mark.parametrize("capacity", ["4M", "4000"])
def test_spark_counts_equal_one_count_of_the_shards(count_shards, spark_counts, capacity):
    """At the default capacity nothing fills up; at 4,000 bytes the held-out text fills in the
    first shard and the later shards must hold out only documents that still fit."""
    root, shards = count_shards
    out = spark_counts(capacity)
    superwords = ["--superwords"] if capacity == SUPERWORDS_AT else []
    kinds = [".counts", ".heldout.txt"] + ([".superwords.counts"] if superwords else [])
    assert sorted(p.name for p in out.iterdir()) == sorted(d + kind for d in DOMAINS for kind in kinds)
    for d in DOMAINS:
        single = root / f"single-{capacity}-{d}.counts"
        tok("count", "--domain", d, "--hold-out", "20", "--held-out-capacity", capacity, *superwords, *shards[d], "-o", single,
            "--quiet")
        assert (out / f"{d}.counts").read_bytes() == single.read_bytes(), d
        if superwords:
            assert (out / f"{d}.superwords.counts").read_bytes() == single.with_suffix(".superwords.counts").read_bytes(), d
        held = (out / f"{d}.heldout.txt").read_bytes()
        assert held == single.with_suffix(".heldout.txt").read_bytes(), d
        assert 0 < len(held) <= (4000 if capacity == "4000" else 4 << 20)


@pytest.mark.spark
def test_a_build_from_spark_counts_equals_a_build_from_the_shards(count_shards, spark_counts):
    root, shards = count_shards
    out = spark_counts("4M")
    from_counts = root / "built-from-counts"
    from_shards = root / "built-from-shards"
    tok("build", "--domains", ",".join(f"{d}={out / d}.counts" for d in DOMAINS), "--vocab-size", 6000, "--quiet",
        "-o", from_counts)
    tok("build", "--domains", ",".join(f"{d}={root / 'in' / d}" for d in DOMAINS), "--vocab-size", 6000, "--quiet",
        "-o", from_shards)
    assert (from_counts / "tokenizer.json").read_bytes() == (from_shards / "tokenizer.json").read_bytes()
    a = json.loads((from_counts / "build-report.json").read_text())
    b = json.loads((from_shards / "build-report.json").read_text())
    assert a["domains"] == b["domains"]
    assert all(d["merged"]["tokens"] > 0 and d["heldOutDocuments"] > 0 for d in a["domains"])
    for d in DOMAINS:
        assert (from_counts / "heldout" / f"{d}.txt").read_bytes() == (from_shards / "heldout" / f"{d}.txt").read_bytes()
    # A superword build from the same count files (the superword counts beside them) equals the one from the shards.
    built = {}
    for name, domains in [("counts", ",".join(f"{d}={out / d}.counts" for d in DOMAINS)),
                          ("shards", ",".join(f"{d}={root / 'in' / d}" for d in DOMAINS))]:
        built[name] = root / f"superwords-from-{name}"
        tok("build", "--domains", domains, "--vocab-size", 4000, "--superwords", 3000, "--quiet", "-o", built[name])
    assert (built["counts"] / "tokenizer.json").read_bytes() == (built["shards"] / "tokenizer.json").read_bytes()
    assert json.loads((built["counts"] / "build-report.json").read_text())["superwords"]["superwordTokens"] == 999


@pytest.mark.spark
def test_a_truncated_shard_fails_the_count_job_and_leaves_nothing(count_shards, tmp_path):
    root, shards = count_shards
    bad = tmp_path / "in"
    bad.mkdir()
    for p in shards["en"]:
        (bad / pathlib.Path(p).name).write_bytes(pathlib.Path(p).read_bytes())
    packed = pathlib.Path(shards["zh"][-1]).read_bytes()
    (bad / "part-9.jsonl.zst").write_bytes(packed[: len(packed) // 2])
    r = spark_submit("count", "--tok", TOK, "--output", tmp_path / "out", f"en={bad}")
    assert r.returncode != 0
    assert "part-9.jsonl.zst: not valid zstd data" in r.stderr
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("capacity", ["4M", "4000"])
def test_the_slurm_recipe_run_here_equals_one_count_of_the_shards(count_shards, capacity, tmp_path):
    """scripts/slurm/tok-count.sh runs its array tasks one after another with `local`: the same stages as on a cluster
    (at 4000 bytes with SUPERWORDS=1, the superword counts too)."""
    root, shards = count_shards
    recipe = ROOT / "scripts" / "slurm" / "tok-count.sh"
    superwords = capacity == "4000"
    r = subprocess.run([recipe, "local", "zh", tmp_path / "out", *shards["zh"]], capture_output=True, text=True,
                       env={**os.environ, "TOK": TOK, "FAN_IN": "2", "HELD_OUT_CAPACITY": capacity,
                            "SUPERWORDS": "1" if superwords else "0"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["zh.counts", "zh.heldout.txt"] + (
        ["zh.superwords.counts"] if superwords else [])
    tok("count", "--domain", "zh", "--hold-out", "20", "--held-out-capacity", capacity, *(["--superwords"] if superwords else []),
        *shards["zh"], "-o", tmp_path / "single.counts", "--quiet")
    assert (tmp_path / "out" / "zh.counts").read_bytes() == (tmp_path / "single.counts").read_bytes()
    assert (tmp_path / "out" / "zh.heldout.txt").read_bytes() == (tmp_path / "single.heldout.txt").read_bytes()
    if superwords:
        assert (tmp_path / "out" / "zh.superwords.counts").read_bytes() == (tmp_path / "single.superwords.counts").read_bytes()
