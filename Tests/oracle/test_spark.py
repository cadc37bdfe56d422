"""The Spark encode job (scripts/spark/tok_spark.py) with spark-submit and
local[2]: each executor's shard equals a single-machine `tok encode` of that
input, megatron-core reads every shard, the combined manifest adds up, and a
shard that cannot be read fails the job naming it."""
import json
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
