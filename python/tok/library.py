"""`tok build`, `tok train` and `tok encode --format megatron` as calls: the
same library code as the command, progress off unless asked. Each returns
what the command writes as JSON (the build report, the training summary,
the dataset manifest) as a dict."""
import json
import os

from ._native import Result, checked, lib


def _run(function, options):
    result = Result(checked(function, json.dumps(options).encode()))
    return json.loads(result.bytes())


def _paths(inputs):
    return [os.fspath(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]


def build(domains, output, *, vocab_size=153_376, special_tokens=("<|endoftext|>",), pattern="tok", weights=None,
          threads=None, memory=None, held_out_per_mille=20, hold_out_by="document", evaluation=None,
          compare_pooled=False, model="byte-level", user_defined_symbols=(), progress=False):
    """A balanced multi-domain vocabulary (`tok build`): `domains` maps each
    domain's name to its inputs (files, folders, globs of text, or count
    files); `weights` tilts them; `evaluation` maps domains to text from
    other sources to measure on; `model="sentencepiece"` makes a SentencePiece
    BPE model (`user_defined_symbols` matched whole). Writes the folder
    `output` (staged: nothing is replaced unless tok made it) and returns the
    build report."""
    weights = weights or {}
    options = {
        "domains": [{"name": name, "inputs": _paths(inputs), "weight": float(weights.get(name, 1))}
                    for name, inputs in domains.items()],
        "output": os.fspath(output), "vocab_size": vocab_size, "special_tokens": list(special_tokens),
        "pattern": pattern, "threads": threads, "memory": memory, "held_out_per_mille": held_out_per_mille,
        "hold_out_by": hold_out_by, "compare_pooled": compare_pooled, "progress": progress,
        "model": model, "user_defined_symbols": list(user_defined_symbols),
        "evaluation": {name: _paths(inputs) for name, inputs in (evaluation or {}).items()},
    }
    unknown = set(weights) - set(domains)
    if unknown:
        from .errors import InputError
        raise InputError(f"weights name the domain '{sorted(unknown)[0]}', which is not among the domains")
    return _run(lib.tok_build, options)


def train(inputs, output, *, vocab_size, special_tokens=(), pattern="tok", min_frequency=0, max_token_length=None,
          threads=None, memory=None, field="text", strict=False, model="byte-level", user_defined_symbols=(),
          progress=False):
    """One BPE (`tok train`) from corpora or count files, byte-level or
    (`model="sentencepiece"`) a SentencePiece model; writes the folder
    `output` and returns the training summary."""
    return _run(lib.tok_train, {
        "inputs": _paths(inputs), "output": os.fspath(output), "vocab_size": vocab_size,
        "special_tokens": list(special_tokens), "pattern": pattern, "min_frequency": min_frequency,
        "max_token_length": max_token_length, "threads": threads, "memory": memory, "field": field,
        "strict": strict, "model": model, "user_defined_symbols": list(user_defined_symbols), "progress": progress})


def encode_dataset(inputs, vocabulary, prefix, *, threads=None, append_eod=False, eod=None, field="text",
                   strict=False, shard_size=None, allowed_special=(), domain=None, progress=False):
    """Megatron indexed datasets (`tok encode --format megatron`): `inputs`
    encoded with the vocabulary folder `vocabulary` into `prefix.bin`/`.idx`
    (or shards of about `shard_size` bytes), resumable; returns the manifest,
    with the documents and tokens of all its shards added up."""
    manifest = _run(lib.tok_encode_dataset, {
        "inputs": _paths(inputs), "vocabulary": os.fspath(vocabulary), "prefix": os.fspath(prefix),
        "threads": threads, "append_eod": append_eod, "eod": eod, "field": field, "strict": strict,
        "shard_size": shard_size, "allow_all_special": allowed_special == "all",
        "allowed_special": [] if allowed_special == "all" else sorted(allowed_special), "domain": domain,
        "progress": progress})
    manifest["documents"] = sum(shard["documents"] for shard in manifest["shards"])
    manifest["tokens"] = sum(shard["tokens"] for shard in manifest["shards"])
    return manifest
