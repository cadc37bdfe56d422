"""`tok.Encoding`: tiktoken's methods and semantics over tok's encoder."""
import array
import ctypes
import functools
import json
import os

from . import _native
from ._native import SURROGATES, Result, as_list, checked, code_points, lib, text_pointer, view
from .errors import InputError


def cores():
    """The cores this process may run on (taskset and cgroups respected)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load(path, pattern=None):
    """A vocabulary as an :class:`Encoding`: a vocabulary folder (`tok build`,
    `tok import`), a HuggingFace `tokenizer.json`, a SentencePiece BPE
    `tokenizer.model` (sentencepiece's ids), or a tiktoken ranks file,
    whose pattern (`o200k`, `cl100k`, ...) is `pattern` or told by its name
    (`o200k_base.tiktoken`)."""
    handle = checked(lib.tok_load, os.fsencode(path), pattern.encode() if pattern is not None else None)
    return Encoding(handle, (os.fspath(path), pattern))


@functools.lru_cache(maxsize=1)
def _byte_level():
    """HuggingFace's ByteLevel alphabet: a printable character for each byte,
    as `tokenizer.json` spells tokens."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars, {c: b for b, c in chars.items()}


class Encoding:
    """A loaded vocabulary: tiktoken's `Encoding` methods (encode,
    encode_ordinary, encode_batch, decode, decode_bytes, n_vocab, ...) with
    its semantics, and tok's own (encode_to_numpy, count, token_to_id,
    id_to_token, as_transformers). Safe to share between threads; the GIL is
    released while it encodes."""

    def __init__(self, handle, source):
        self._handle = handle
        self._source = source
        described = lib.tok_describe(handle)
        facts = json.loads(ctypes.string_at(described).decode())
        lib.tok_free_string(described)
        self.name = facts["name"]
        self.pattern = facts["pattern"]
        self.regexes = facts["regexes"]
        self.n_vocab = facts["size"]
        self.max_token_value = facts["size"] - 1
        self._added = {t["content"]: t["id"] for t in facts["special_tokens"]}
        self._added_by_id = {t["id"]: t["content"] for t in facts["special_tokens"]}
        #: Special tokens by text (added tokens marked special; the others are always matched).
        self.special_tokens = {t["content"]: t["id"] for t in facts["special_tokens"] if t["special"]}
        self.special_tokens_set = frozenset(self.special_tokens)
        self._around = (facts["before"], facts["after"])
        self._policies = {}
        self._int_objects = None

    def __del__(self, release=lib.tok_release, policy_release=lib.tok_policy_release):
        for policy in getattr(self, "_policies", {}).values():
            if policy:
                policy_release(policy)
        if getattr(self, "_handle", None):
            release(self._handle)

    # An Encoding never changes: a copy is the same object, and a pickle (a
    # spawned worker's) loads the same vocabulary again.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return load, self._source

    def __repr__(self):
        return f"<tok.Encoding {self.name!r}: {self.n_vocab} ids, pattern {self.pattern}>"

    @property
    def _ints(self):
        """The ints 0 ..< n_vocab, which every list of ids this encoding returns shares."""
        if self._int_objects is None:
            self._int_objects = list(range(self.n_vocab))
        return self._int_objects

    @property
    def eot_token(self):
        return self.special_tokens.get("<|endoftext|>")

    # Special tokens, as tiktoken decides them.

    def _policy(self, allowed_special, disallowed_special):
        allowed = self.special_tokens_set if allowed_special == "all" else frozenset(allowed_special)
        disallowed = self.special_tokens_set - allowed if disallowed_special == "all" else frozenset(disallowed_special)
        key = (allowed, disallowed)
        policy = self._policies.get(key)
        if policy is None:
            known_allowed = allowed & self.special_tokens_set
            refused = sorted(disallowed & self.special_tokens_set)
            if not known_allowed and not refused:
                policy = 0
            else:
                kind = 1 if known_allowed == self.special_tokens_set else 2 if known_allowed else 0
                names = sorted(known_allowed)
                policy = lib.tok_policy(self._handle, kind, b"".join(n.encode() + b"\0" for n in names), len(names),
                                        b"".join(n.encode() + b"\0" for n in refused), len(refused))
            self._policies[key] = policy
        return policy or None

    # Encoding

    def _encode(self, text, policy, add_special):
        if isinstance(text, str) and not text.isascii() and (stored := code_points(text)) is not None:
            # Read in place and converted a block at a time, where its UTF-8 would be a
            # copy of the whole text made first (kept with the str, and fresh memory).
            pointer = checked(lib.tok_encode_code_points, self._handle, stored[0], stored[1], len(text), policy,
                              int(add_special), passing=(SURROGATES,))
            if pointer is not None:
                return Result(pointer)
        address, length, keep = text_pointer(text)
        result = Result(checked(lib.tok_encode, self._handle, address, length, policy, int(add_special)))
        del keep
        return result

    def encode(self, text, *, allowed_special=frozenset(), disallowed_special="all", add_special=False):
        """The ids of `text` (str, or bytes: invalid UTF-8 becomes byte tokens).

        Special tokens are matched where `allowed_special` ("all" or a set of
        their texts) allows; text of one in `disallowed_special` (by default
        every one not allowed) raises :class:`tok.InputError`, as tiktoken
        raises; pass `disallowed_special=()` to encode it as text.
        `add_special` puts the post-processor's tokens around the ids
        (HuggingFace's `add_special_tokens=True`)."""
        result = self._encode(text, self._policy(allowed_special, disallowed_special), add_special)
        return as_list(result, self._ints)

    def encode_ordinary(self, text):
        """The ids of `text`, matching no special token."""
        result = self._encode(text, None, False)
        return as_list(result, self._ints)

    def _batch(self, texts, policy, add_special, threads, count_only=False):
        texts = [t if isinstance(t, (str, bytes)) else bytes(t) for t in texts]
        n = len(texts)
        addresses, lengths, kept = (ctypes.c_void_p * n)(), (ctypes.c_ssize_t * n)(), []
        # The library reads each str's UTF-8; the texts it cannot (bytes, a lone surrogate) are left NULL.
        if _native.pylib.tok_text_pointers(texts, n, addresses, lengths):
            for k in range(n):
                if addresses[k] is None:
                    addresses[k], lengths[k], keep = text_pointer(texts[k])
                    if keep is not texts[k]:
                        kept.append(keep)
        threads = cores() if threads is None else max(1, int(threads))
        result = Result(checked(lib.tok_encode_batch, self._handle, addresses, lengths, n, policy, int(add_special), threads,
                                int(count_only)))
        del texts, kept
        return result

    def encode_batch(self, texts, *, threads=None, num_threads=None, allowed_special=frozenset(),
                     disallowed_special="all", add_special=False):
        """The ids of each of `texts`, as `encode` gives them, encoded on
        `threads` threads (all cores this process may use by default;
        `num_threads` is tiktoken's name). The ids never depend on it."""
        result = self._batch(texts, self._policy(allowed_special, disallowed_special),
                             add_special, threads if threads is not None else num_threads)
        return as_list(result, self._ints, batch=True)

    def encode_ordinary_batch(self, texts, *, threads=None, num_threads=None):
        return self.encode_batch(texts, threads=threads, num_threads=num_threads, disallowed_special=())

    def encode_to_numpy(self, text, *, threads=None, allowed_special=frozenset(), disallowed_special="all",
                        add_special=False):
        """The ids as a numpy uint32 array, made by the library and not
        copied. A str or bytes gives one array; a list of them gives
        `(ids, offsets)`, all documents' ids one after another and an int64
        array of len(texts) + 1 offsets (document k is ids[offsets[k]:offsets[k + 1]])."""
        import numpy

        policy = self._policy(allowed_special, disallowed_special)
        if isinstance(text, (str, bytes, bytearray, memoryview)):
            result = self._encode(text, policy, add_special)
            return _array(numpy, result, *result.ids(), numpy.uint32)
        result = self._batch(text, policy, add_special, threads)
        return _array(numpy, result, *result.ids(), numpy.uint32), _array(numpy, result, *result.offsets(), numpy.int64)

    def count(self, text, *, threads=None, allowed_special=frozenset(), add_special=False):
        """The number of ids of `text`, or a list of the numbers of each of a
        list of texts (encoded on `threads` threads), without keeping the ids.
        Text of special tokens not allowed is counted as text."""
        policy = self._policy(allowed_special, ())
        single = isinstance(text, (str, bytes, bytearray, memoryview))
        result = self._batch([text] if single else text, policy, add_special, threads, count_only=True)
        counts = view(*result.counts(), "q").tolist()
        return counts[0] if single else counts

    # Decoding

    def _ids(self, tokens):
        """`tokens` as a uint32 buffer the library reads in place."""
        try:
            import numpy
        except ImportError:
            numpy = None
        if numpy is not None and isinstance(tokens, numpy.ndarray):
            if tokens.size and (tokens.min() < 0 or tokens.max() > 0xFFFFFFFF):
                self._out_of_range(tokens.tolist())
            buffer = numpy.ascontiguousarray(tokens, dtype=numpy.uint32)
            return buffer.ctypes.data, buffer.size, buffer
        try:
            buffer = array.array("I", tokens)
        except (OverflowError, TypeError):
            self._out_of_range(list(tokens))
        address, n = buffer.buffer_info()
        return address, n, buffer

    @staticmethod
    def _out_of_range(tokens):
        for position, t in enumerate(tokens):
            if not isinstance(t, int) or not 0 <= t <= 0xFFFFFFFF:
                raise InputError(f"token id {t} at position {position} is not in the vocabulary")
        raise InputError("token ids must be integers")

    def decode_bytes(self, tokens):
        """The bytes of `tokens` (a list, array or numpy array of ids)."""
        address, n, keep = self._ids(tokens)
        result = Result(checked(lib.tok_decode, self._handle, address, n))
        del keep
        return result.bytes()

    def decode(self, tokens, errors="replace"):
        """The text of `tokens`; bytes that are not UTF-8 as `errors` says (bytes.decode's)."""
        return self.decode_bytes(tokens).decode("utf-8", errors)

    def decode_bytes_batch(self, batch, *, num_threads=None):
        flat, offsets = array.array("I"), array.array("q", [0])
        try:
            for tokens in batch:
                flat.extend(tokens)
                offsets.append(len(flat))
        except (OverflowError, TypeError):
            for k, tokens in enumerate(batch):
                try:
                    array.array("I", tokens)
                except (OverflowError, TypeError):
                    try:
                        self._out_of_range(list(tokens))
                    except InputError as e:
                        raise InputError(f"sequence {k}: {e}") from None
        result = Result(checked(lib.tok_decode_batch, self._handle, flat.buffer_info()[0], offsets.buffer_info()[0],
                                len(offsets) - 1))
        data = result.bytes()
        bounds = view(*result.offsets(), "q")
        return [data[bounds[k]:bounds[k + 1]] for k in range(len(bounds) - 1)]

    def decode_batch(self, batch, *, errors="replace", num_threads=None):
        return [b.decode("utf-8", errors) for b in self.decode_bytes_batch(batch)]

    def decode_single_token_bytes(self, token):
        return self.decode_bytes([token])

    def decode_tokens_bytes(self, tokens):
        return [self.decode_bytes([t]) for t in tokens]

    # Tokens

    def encode_single_token(self, text_or_bytes):
        """The id of the token whose text or bytes these are; KeyError if none, as tiktoken."""
        raw = text_or_bytes.encode() if isinstance(text_or_bytes, str) else bytes(text_or_bytes)
        id = lib.tok_token_id(self._handle, raw, len(raw))
        if id < 0:
            raise KeyError(text_or_bytes)
        return id

    def token_to_id(self, token):
        """The id of `token`: bytes, an added token's text, or a token as
        `tokenizer.json` spells it (ByteLevel's characters: "Ġhello"); None
        when the vocabulary has none, as `tokenizers` answers."""
        if isinstance(token, str):
            if token in self._added:
                return self._added[token]
            _, inverse = _byte_level()
            if not all(c in inverse for c in token):
                return None
            token = bytes(inverse[c] for c in token)
        id = lib.tok_token_id(self._handle, bytes(token), len(token))
        return None if id < 0 else id

    def id_to_token(self, id):
        """Token `id` as `tokenizer.json` spells it (an added token's text, or
        its bytes in ByteLevel's characters); None for an id with no token."""
        if id in self._added_by_id:
            return self._added_by_id[id]
        try:
            raw = self.decode_bytes([id])
        except InputError:
            return None
        chars, _ = _byte_level()
        return "".join(chars[b] for b in raw)

    def token_byte_values(self):
        """The bytes of every BPE token, in id order (tiktoken's)."""
        values = []
        for id in range(self.n_vocab):
            if id in self._added_by_id:
                continue
            try:
                values.append(self.decode_bytes([id]))
            except InputError:
                pass
        return values

    def export(self, format="hf"):
        """The vocabulary as a `tokenizer.json` ("hf") or a tiktoken ranks file ("tiktoken"), as bytes."""
        kinds = {"hf": 0, "tiktoken": 1}
        if format not in kinds:
            raise InputError(f"unknown export format {format!r} (hf, tiktoken)")
        return Result(checked(lib.tok_export, self._handle, kinds[format])).bytes()

    def as_transformers(self, **kwargs):
        """A transformers tokenizer (a `PreTrainedTokenizerFast`) whose
        encoding runs in tok; keyword arguments go to its constructor
        (`pad_token`, `eos_token`, `model_max_length`, `padding_side`, ...)."""
        from .hf import TokTokenizerFast

        return TokTokenizerFast.from_encoding(self, **kwargs)


class _Held:
    """Memory of a library result as numpy sees it: the array keeps this, and
    this keeps the result, so the memory lives as long as the array."""

    def __init__(self, result, address, n, typestr):
        self.result = result
        self.__array_interface__ = {"data": (address, False), "shape": (n,), "typestr": typestr, "version": 3}


def _array(numpy, result, address, n, dtype):
    if n == 0:
        return numpy.zeros(0, dtype=dtype)
    array = numpy.asarray(_Held(result, address, n, numpy.dtype(dtype).str))
    return array
