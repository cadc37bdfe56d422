"""The Spark jobs (scripts/spark/tok_spark.py) with spark-submit and local[2].
encode: each executor's shard equals a single-machine `tok encode` of that
input, megatron-core reads every shard, the combined manifest adds up. count:
the merged count files and held-out texts are byte-identical to one `tok count
--hold-out` of the same shards, and a build from them equals a build from the
shards. In both, a shard that cannot be read fails the job naming it and leaves
no output behind."""
import json
import os
import pathlib
import subprocess
import warnings

import pytest

from conftest import DOMAINS, REFVOCAB, ROOT, TOK, tok
from test_megatron import documents_of, read_all

warnings.filterwarnings("ignore")

DRIVER = ROOT / "scripts" / "spark" / "tok_spark.py"


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
        path.write_text("\n".join(json.dumps({"text": t}) for t in documents_of(d, 150_000)) + "\n")
        inputs.append(path)
    tok("import", REFVOCAB / "o200k_base.tiktoken", "--pattern", "o200k", "-o", root / "o200k")
    return root, sorted(inputs)


def test_spark_shards_equal_single_machine_runs(shards):
    root, inputs = shards
    r = spark_submit("encode", "--tok", TOK, "--vocab", root / "o200k", "--append-eod", "--domain", "mixed",
                     "--output", root / "spark" / "ds", root / "in")
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((root / "spark" / "ds.manifest.json").read_text())
    assert [s["inputs"] for s in manifest["shards"]] == [[str(p)] for p in inputs]
    all_docs = []
    for k, source in enumerate(inputs):
        tok("encode", "--vocab", root / "o200k", "--format", "megatron", "--append-eod", "--domain", "mixed", source,
            "-o", root / "single" / f"ds-{k:05d}")
        for ext in ["bin", "idx"]:
            assert (root / "spark" / f"ds-{k:05d}.{ext}").read_bytes() == (root / "single" / f"ds-{k:05d}.{ext}").read_bytes()
        all_docs += read_all(root / "spark" / f"ds-{k:05d}")[1]
    tok("encode", "--vocab", root / "o200k", "--format", "megatron", "--append-eod", *inputs, "-o", root / "whole")
    assert all_docs == read_all(root / "whole")[1]
    stats = json.loads(tok("stats", "--dataset", root / "spark" / "ds", "--json").stdout)
    assert stats["datasets"][0]["documents"] == len(all_docs) == manifest_documents(manifest)
    assert stats["tokensPerDomain"] == {"mixed": sum(map(len, all_docs))}


def manifest_documents(manifest):
    return sum(s["documents"] for s in manifest["shards"])


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
        docs = documents_of(d, 600_000)
        folder = root / "in" / d
        folder.mkdir(parents=True)
        parts = [docs[k::3] for k in range(3)]
        for k, part in enumerate(parts):
            (folder / f"part-{k}.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in part) + "\n")
        if d == "zh":
            subprocess.run(["zstd", "-q", "--rm", str(folder / "part-2.jsonl")], check=True)
        shards[d] = sorted(str(p) for p in folder.iterdir())
    return root, shards


@pytest.mark.parametrize("capacity", ["4M", "4000"])
def test_spark_counts_equal_one_count_of_the_shards(count_shards, capacity):
    """At the default capacity nothing fills up; at 4,000 bytes the held-out text fills in the
    first shard and the later shards must hold out only documents that still fit."""
    root, shards = count_shards
    out = root / f"spark-{capacity}"
    r = spark_submit("count", "--tok", TOK, "--output", out, "--fan-in", "2", "--held-out-capacity", capacity,
                     *[f"{d}={root / 'in' / d}" for d in DOMAINS])
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{d}.counts" for d in DOMAINS] + [f"{d}.heldout.txt" for d in DOMAINS])
    for d in DOMAINS:
        single = root / f"single-{capacity}-{d}.counts"
        tok("count", "--domain", d, "--hold-out", "20", "--held-out-capacity", capacity, *shards[d], "-o", single, "--quiet")
        assert (out / f"{d}.counts").read_bytes() == single.read_bytes(), d
        held = (out / f"{d}.heldout.txt").read_bytes()
        assert held == single.with_suffix(".heldout.txt").read_bytes(), d
        assert 0 < len(held) <= (4000 if capacity == "4000" else 4 << 20)


def test_a_build_from_spark_counts_equals_a_build_from_the_shards(count_shards):
    root, shards = count_shards
    out = root / "spark-4M"
    if not (out / "zh.counts").exists():
        pytest.skip("needs the count test's output")
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


def test_the_slurm_recipe_run_here_equals_one_count_of_the_shards(count_shards, tmp_path):
    """scripts/slurm/tok-count.sh runs its array tasks one after another with `local`: the same stages as on a cluster."""
    root, shards = count_shards
    recipe = ROOT / "scripts" / "slurm" / "tok-count.sh"
    r = subprocess.run([recipe, "local", "zh", tmp_path / "out", *shards["zh"]], capture_output=True, text=True,
                       env={**os.environ, "TOK": TOK, "FAN_IN": "2"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["zh.counts", "zh.heldout.txt"]
    tok("count", "--domain", "zh", "--hold-out", "20", *shards["zh"], "-o", tmp_path / "single.counts", "--quiet")
    assert (tmp_path / "out" / "zh.counts").read_bytes() == (tmp_path / "single.counts").read_bytes()
    assert (tmp_path / "out" / "zh.heldout.txt").read_bytes() == (tmp_path / "single.heldout.txt").read_bytes()
