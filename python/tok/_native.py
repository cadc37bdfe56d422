"""The shared library (libTokC.so, tok's C ABI) and its calls, through ctypes.

ctypes releases the GIL for the whole of each call into the library, so
encoding runs beside other Python threads; the few calls that read Python
objects (`PyUnicode_AsUTF8AndSize`) go through `ctypes.pythonapi`, which
keeps it.
"""
import ctypes
import os
import pathlib

from .errors import FileError, InputError

_NAME = "libTokC.so"


def _library_path():
    """TOK_LIBRARY, else the copy installed beside this file, else the one a
    `swift build -c release` of the source tree this file is in made."""
    if os.environ.get("TOK_LIBRARY"):
        return os.environ["TOK_LIBRARY"]
    here = pathlib.Path(__file__).resolve().parent
    for candidate in (here / _NAME, here.parents[1] / ".build" / "release" / _NAME):
        if candidate.exists():
            return str(candidate)
    raise ImportError(f"tok: {_NAME} is not installed beside {here} (pip install ./python builds it)")


# The Swift runtime in the library would otherwise answer a crash anywhere in
# the interpreter with its own backtrace; Python's faulthandler is the one to ask.
os.environ.setdefault("SWIFT_BACKTRACE", "enable=no")
lib = ctypes.CDLL(_library_path())

_p = ctypes.c_void_p
_n = ctypes.c_ssize_t
_out = ctypes.POINTER(ctypes.c_void_p)
_err = ctypes.POINTER(ctypes.c_char_p)
_status = ctypes.c_int32

for name, restype, argtypes in [
    ("tok_free_string", None, [_p]),
    ("tok_load", _status, [ctypes.c_char_p, ctypes.c_char_p, _out, _out]),
    ("tok_release", None, [_p]),
    ("tok_describe", _p, [_p]),
    ("tok_policy", _p, [_p, ctypes.c_int32, ctypes.c_char_p, _n, ctypes.c_char_p, _n]),
    ("tok_policy_release", None, [_p]),
    ("tok_encode", _status, [_p, _p, _n, _p, ctypes.c_int32, _out, _out]),
    ("tok_encode_code_points", _status, [_p, _p, ctypes.c_int32, _n, _p, ctypes.c_int32, _out, _out]),
    ("tok_encode_batch", _status, [_p, _p, _p, _n, _p, ctypes.c_int32, _n, ctypes.c_int32, _out, _out]),
    ("tok_decode", _status, [_p, _p, _n, _out, _out]),
    ("tok_decode_batch", _status, [_p, _p, _p, _n, _out, _out]),
    ("tok_token_id", ctypes.c_int64, [_p, _p, _n]),
    ("tok_export", _status, [_p, ctypes.c_int32, _out, _out]),
    ("tok_build", _status, [ctypes.c_char_p, _out, _out]),
    ("tok_train", _status, [ctypes.c_char_p, _out, _out]),
    ("tok_encode_dataset", _status, [ctypes.c_char_p, _out, _out]),
    ("tok_result_ids", _p, [_p, ctypes.POINTER(_n)]),
    ("tok_result_offsets", _p, [_p, ctypes.POINTER(_n)]),
    ("tok_result_bytes", _p, [_p, ctypes.POINTER(_n)]),
    ("tok_result_counts", _p, [_p, ctypes.POINTER(_n)]),
    ("tok_result_release", None, [_p]),
]:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = argtypes

# The same library again, for the calls that make Python objects: a PyDLL
# keeps the GIL while they run.
pylib = ctypes.PyDLL(lib._name)
for name in ("tok_result_list", "tok_result_lists"):
    function = getattr(pylib, name)
    function.restype = ctypes.py_object
    function.argtypes = [_p, ctypes.py_object]
pylib.tok_text_pointers.restype = _n
pylib.tok_text_pointers.argtypes = [ctypes.py_object, _n, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_n)]

_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8AndSize
_utf8.restype = ctypes.c_void_p
_utf8.argtypes = [ctypes.py_object, ctypes.POINTER(ctypes.c_ssize_t)]


def _str_layout():
    """Where CPython keeps a compact `str`'s flags and code points, as offsets
    from the object's address: found on strings of each width and checked
    against their known contents; None on an interpreter laid out otherwise
    (then every `str` goes through its UTF-8)."""
    import sys
    if sys.implementation.name != "cpython":
        return None
    probes = {1: "\xe9" * 9 + "x", 2: "\u0100" * 9 + "x", 4: "\U00010000" * 9 + "x"}
    codecs = {1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}
    data = {sys.getsizeof(t) - (len(t) + 1) * width for width, t in probes.items()}
    if len(data) != 1:
        return None
    (data,) = data
    if data <= 0 or any(ctypes.string_at(id(t) + data, len(t) * width) != t.encode(codecs[width])
                        for width, t in probes.items()):
        return None

    def flags_at(offset):
        # CPython's state bits: interned (2), kind = width (3), compact, ascii.
        def state(t):
            return ctypes.c_uint8.from_address(id(t) + offset).value
        return all((state(t) >> 2) & 7 == width and state(t) & 0x60 == 0x20 for width, t in probes.items()) \
            and state("ascii probe") & 0x7C == 0x64

    found = [offset for offset in range(object.__basicsize__, data) if flags_at(offset)]
    return (found[0], data) if len(found) == 1 else None


_layout = _str_layout()


def code_points(text):
    """(address, width) of a non-ASCII `str`'s own code points (width 1, 2
    or 4 bytes), valid while `text` lives; None when they cannot be read in
    place (another interpreter, a subclass, a legacy string)."""
    if _layout is None or type(text) is not str:
        return None
    state = ctypes.c_uint8.from_address(id(text) + _layout[0]).value
    width = (state >> 2) & 7
    if state & 0x60 != 0x20 or width not in (1, 2, 4):
        return None
    return id(text) + _layout[1], width


# The status of `tok_encode_code_points` when the text holds a surrogate code point.
SURROGATES = 3


def checked(function, *args, passing=()):
    """Calls `function(*args, &out, &error)`; returns `out`, or None for a
    status in `passing`, or raises the library's error (InputError or
    FileError) with its one-line message."""
    out, error = ctypes.c_void_p(), ctypes.c_void_p()
    status = function(*args, ctypes.byref(out), ctypes.byref(error))
    if status == 0:
        return out.value
    if status in passing:
        return None
    message = ctypes.string_at(error.value).decode("utf-8", "replace")
    lib.tok_free_string(error)
    raise (FileError if status == 2 else InputError)(message)


class Result:
    """A result of the library, released when the last array or view of it goes."""

    __slots__ = ("pointer",)

    def __init__(self, pointer):
        self.pointer = pointer

    def __del__(self, release=lib.tok_result_release):
        release(self.pointer)

    def _part(self, accessor, ctype):
        n = ctypes.c_ssize_t()
        address = accessor(self.pointer, ctypes.byref(n))
        return address or 0, n.value

    def ids(self):
        return self._part(lib.tok_result_ids, ctypes.c_uint32)

    def offsets(self):
        return self._part(lib.tok_result_offsets, ctypes.c_ssize_t)

    def bytes(self):
        address, n = self._part(lib.tok_result_bytes, ctypes.c_uint8)
        return ctypes.string_at(address, n) if n else b""

    def counts(self):
        return self._part(lib.tok_result_counts, ctypes.c_ssize_t)


def as_list(result, ints, batch=False):
    """The result's ids as a list (a list of lists for a batch), each item
    an int of `ints` (`list(range(n_vocab))`), made by the library."""
    return (pylib.tok_result_lists if batch else pylib.tok_result_list)(result.pointer, ints)


def view(address, n, code):
    """A memoryview of `n` items of `code` ('I': uint32, 'q': int64) at `address`."""
    if n == 0:
        return memoryview(b"").cast(code)
    size = ctypes.sizeof(ctypes.c_uint32 if code == "I" else ctypes.c_int64)
    return memoryview((ctypes.c_char * (n * size)).from_address(address)).cast("B").cast(code)


def text_pointer(text):
    """(address, length) of `text`'s UTF-8 bytes, valid while `text` lives,
    and what keeps them alive. A str's UTF-8 form is read in place (CPython
    keeps it with the string; ASCII text is its own UTF-8); lone surrogates
    become U+FFFD, as tiktoken makes them."""
    if isinstance(text, str):
        size = ctypes.c_ssize_t()
        try:
            return _utf8(text, ctypes.byref(size)), size.value, text
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return _utf8(text, ctypes.byref(size)), size.value, text
    if isinstance(text, bytes):
        return ctypes.cast(ctypes.c_char_p(text), ctypes.c_void_p).value, len(text), text
    if isinstance(text, (bytearray, memoryview)):
        return text_pointer(bytes(text))
    raise TypeError(f"tok encodes str or bytes, not {type(text).__name__}")
