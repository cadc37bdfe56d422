"""tok from Python: the fastest exact byte-level BPE encoder, with tiktoken's
and HuggingFace's conventions.

    import tok
    enc = tok.load("vocab/o200k")                 # or a tokenizer.json, o200k_base.tiktoken, a tokenizer.model
    ids = enc.encode("hello world")               # [24912, 2375]
    many = enc.encode_batch(texts)                # all cores; the ids never depend on it
    ids, offsets = enc.encode_to_numpy(texts)     # uint32, no Python int per id
    text = enc.decode(ids)
    hf = enc.as_transformers(pad_token="<|endoftext|>")   # a PreTrainedTokenizerFast
"""
from .encoding import Encoding, load
from .errors import Error, FileError, InputError
from .library import build, encode_dataset, train

__all__ = ["Encoding", "Error", "FileError", "InputError", "build", "encode_dataset", "load", "train"]
