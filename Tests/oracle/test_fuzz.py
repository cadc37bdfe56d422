"""Damaged inputs of every kind tok reads: seeded random mutations (bit flips,
inserted and deleted bytes, truncation, duplicated, swapped and deleted lines,
changed numbers, duplicated JSON keys, deep nesting) of a tokenizer.json, a
tiktoken ranks file, a count file, a megatron .idx and a JSON-lines corpus,
each made small in the test so that a case takes a few tens of milliseconds.

Whatever the damage, tok must
- never crash: exit 0, or exit 1 with exactly one `tok: ` line on stderr;
- never exit 0 with a result that differs from the reference reading the same
  file: tokenizers (tokenizer.json) and tiktoken (ranks files) for ids when they
  load the file, megatron-core for datasets, Python's json (as megatron's
  preprocess_data.py reads JSON lines) for documents; a count file tok accepts
  must give what the undamaged one gives;
- never leave files behind: nothing in the output folder after a failure,
  nothing in $TMPDIR, and its inputs unchanged.

The environment sizes a run (Benchmarks/fuzz.py drives long ones):
TOK_FUZZ_SEED, TOK_FUZZ_CASES (per kind of input), TOK_FUZZ_SECONDS (per kind;
0 for no bound), TOK_FUZZ_JOBS (cases at once; default the cores),
TOK_FUZZ_ONLY=KIND:CASE (replays one case),
TOK_FUZZ_REPORT (appends each failure as a JSON line) and TOK_FUZZ_KEEP (a
folder where the inputs of each distinct failure are kept).
"""
import base64
import json
import os
import pathlib
import pickle
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter

import pytest
import tiktoken
from tokenizers import Tokenizer

from conftest import TOK, domain_text, random_text, tok

warnings.filterwarnings("ignore", message=".*Transformer Engine.*")
from megatron.core.datasets.indexed_dataset import IndexedDataset  # noqa: E402

SEED = int(os.environ.get("TOK_FUZZ_SEED", "29"))
CASES = int(os.environ.get("TOK_FUZZ_CASES", "600"))
SECONDS = float(os.environ.get("TOK_FUZZ_SECONDS", "20"))
ONLY = os.environ.get("TOK_FUZZ_ONLY")
REPORT = os.environ.get("TOK_FUZZ_REPORT")
KEEP = os.environ.get("TOK_FUZZ_KEEP")
JOBS = int(os.environ.get("TOK_FUZZ_JOBS", str(os.cpu_count() or 1)))
KINDS = ["tokenizer.json", "tiktoken", "counts", "idx", "jsonl"]

# A case's run is cut off after this long, and it may not take more memory than
# this: a small input that needs more is a failure, and the machine is shared.
TIMEOUT = 30
ADDRESS_SPACE = 4 << 30
SPECIAL = "<|endoftext|>"


# ---------------------------------------------------------------------------
# Mutations

NUMBERS = [b"0", b"-1", b"1", b"2", b"255", b"256", b"399", b"400", b"65535", b"65536", b"2147483647", b"2147483648",
           b"4294967295", b"4294967296", b"9223372036854775807", b"9223372036854775808", b"18446744073709551616",
           b"-9223372036854775809", b"10000000", b"1e308", b"1e400", b"-0", b"0.5", b"1E2", b"00", b"99999999999999999999"]
WORDS = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
         1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]
BYTES = [b"\x00", b"\xff", b"\xc3", b"\x80", b"\n", b"\r", b"\"", b"\\", b"{", b"}", b"[", b"]", b",", b":", b" ",
         b"\\u0000", b"\\ud800", b"\xed\xa0\x80", b"=", b"A"]
SCALAR = rb'-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\\n]|\\.)*"|true|false|null'
VALUE_AFTER = re.compile(rb"([:\[,]\s*)(" + SCALAR + rb")")
KEY_VALUE = re.compile(rb'("(?:[^"\\\n]|\\.)*"\s*:\s*)(' + SCALAR + rb")")
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def flip_bits(data, rng):
    data = bytearray(data)
    flips = rng.choice([1, 1, 1, 2, 3, 8])
    for _ in range(flips):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data), f"flip {flips} bit(s)"


def insert_bytes(data, rng):
    i = rng.randrange(len(data) + 1)
    piece = rng.choice(BYTES) if rng.random() < 0.6 else bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return data[:i] + piece + data[i:], f"insert {piece!r} at {i}"


def delete_bytes(data, rng):
    i = rng.randrange(len(data))
    n = rng.choice([1, 1, 2, 4, 8, 64])
    return data[:i] + data[i + n:], f"delete {n} byte(s) at {i}"


def truncate(data, rng):
    i = rng.choice([0, 1, rng.randrange(len(data)), len(data) - 1, len(data) - rng.randint(1, 16)])
    i = max(0, min(i, len(data) - 1))
    return data[:i], f"truncate to {i} bytes"


def lines_of(data):
    return data.split(b"\n")


def duplicate_line(data, rng):
    lines = lines_of(data)
    k, to = rng.randrange(len(lines)), rng.randrange(len(lines) + 1)
    lines.insert(to, lines[k])
    return b"\n".join(lines), f"duplicate line {k + 1} at line {to + 1}"


def swap_lines(data, rng):
    lines = lines_of(data)
    if len(lines) < 2:
        return flip_bits(data, rng)
    j, k = rng.sample(range(len(lines)), 2)
    lines[j], lines[k] = lines[k], lines[j]
    return b"\n".join(lines), f"swap lines {j + 1} and {k + 1}"


def delete_line(data, rng):
    lines = lines_of(data)
    k = rng.randrange(len(lines))
    del lines[k]
    return b"\n".join(lines), f"delete line {k + 1}"


def change_number(data, rng):
    numbers = list(NUMBER.finditer(data))
    if not numbers:
        return flip_bits(data, rng)
    m = rng.choice(numbers)
    new = rng.choice(NUMBERS) if rng.random() < 0.7 else str(int(m.group()) + rng.choice([-1, 1]) if m.group().lstrip(b"-").isdigit() else rng.randint(-5, 500)).encode()
    return data[:m.start()] + new + data[m.end():], f"number {m.group()[:20]!r} at {m.start()} -> {new.decode()}"


def change_word(data, rng):
    """A binary field: an aligned 1, 2, 4 or 8-byte little-endian word, most often in the first 64 bytes (headers)."""
    width = rng.choice([1, 2, 4, 8, 8])
    limit = min(len(data), 64) if rng.random() < 0.5 else len(data)
    if limit < width:
        return flip_bits(data, rng)
    i = rng.randrange(limit - width + 1) // width * width
    value = rng.choice(WORDS) if rng.random() < 0.8 else rng.getrandbits(8 * width)
    value &= (1 << (8 * width)) - 1
    return data[:i] + value.to_bytes(width, "little") + data[i + width:], f"word of {width} byte(s) at {i} -> {value:#x}"


def nest_deeply(data, rng):
    values = list(VALUE_AFTER.finditer(data))
    if not values:
        return flip_bits(data, rng)
    m = rng.choice(values)
    depth = rng.choice([3, 64, 1000, 100_000])
    opening, closing = (b"[", b"]") if rng.random() < 0.5 else (b'{"a":', b"}")
    nested = opening * depth + m.group(2) + closing * depth
    return data[:m.start(2)] + nested + data[m.end(2):], f"nest the value at {m.start(2)} {depth} deep in {opening.decode()}"


def duplicate_key(data, rng):
    pairs = list(KEY_VALUE.finditer(data))
    values = list(VALUE_AFTER.finditer(data))
    if not pairs:
        return flip_bits(data, rng)
    m = rng.choice(pairs)
    other = rng.choice(values).group(2) if values else b"null"
    return data[:m.end()] + b", " + m.group(1) + other + data[m.end():], f"key {m.group(1)[:30]!r} at {m.start()} again with {other[:30]!r}"


# Changed numbers and moved lines keep a file well formed more often than
# random bytes do, and so reach past the parser: they come twice as often.
TEXT_MUTATIONS = [flip_bits, insert_bytes, delete_bytes, truncate, duplicate_line, swap_lines, swap_lines, delete_line,
                  change_number, change_number]
JSON_MUTATIONS = TEXT_MUTATIONS + [nest_deeply, duplicate_key]
BINARY_MUTATIONS = [flip_bits, flip_bits, insert_bytes, delete_bytes, truncate, change_word, change_word, change_number,
                    duplicate_line, swap_lines]


def mutate(data, rng, mutations):
    """One to three mutations; the result differs from `data`."""
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        data, what = (rng.choice(mutations) if data else insert_bytes)(data, rng)
        done.append(what)
    return data, done


# ---------------------------------------------------------------------------
# Running tok on a case


# prlimit (util-linux) execs tok under the limits: a preexec_fn would make Python
# fork its whole image (torch included) for every run, four times slower.
LIMITS = ["prlimit", f"--as={ADDRESS_SPACE}", "--core=0", "--"]


class Case:
    """A folder of its own: in/ (the inputs), out/ (outputs), tmp/ ($TMPDIR)."""

    def __init__(self, root, kind, index, tokenizers):
        self.root, self.kind, self.index = root, kind, index
        self.tokenizers = tokenizers  # the lane's TokenizersInChild
        self.mutations = []  # what was done to the input, set by the case
        shutil.rmtree(root, ignore_errors=True)
        for d in ("in", "out", "tmp"):
            (root / d).mkdir(parents=True)
        self.failures = []
        self.lenient = []
        self.outcome = None  # of the last run: "accepted" or "refused"

    @property
    def inputs(self):
        return self.root / "in"

    @property
    def out(self):
        return self.root / "out"

    def snapshot(self):
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.inputs.rglob("*")) if p.is_file()}

    def fail(self, what, command, detail="", stderr=b""):
        self.failures.append({
            "kind": self.kind, "case": self.index, "seed": SEED, "mutations": self.mutations, "failure": what,
            "command": " ".join(command[:2]), "arguments": [str(a) for a in command], "detail": detail[:500],
            "stderr": stderr.decode(errors="replace")[:500]})

    def run(self, *args, input=None, outputs=(), made_in_inputs=()):
        """Runs tok in the case folder and checks what must hold whatever the input:
        no crash, one `tok:` line on failure, no file left behind, the inputs
        untouched. `outputs` are the paths (under out/) a success may create;
        `made_in_inputs`, files tok may add beside its inputs (a vocabulary
        folder's tokenizer.bin). Returns the completed process, or None after a
        timeout."""
        command = ["tok", *map(str, args)]
        before = self.snapshot()
        env = dict(os.environ, TMPDIR=str(self.root / "tmp"))
        try:
            r = subprocess.run([*LIMITS, TOK, *map(str, args)], input=input, capture_output=True, cwd=self.root, env=env,
                               timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"no answer in {TIMEOUT} s", command)
            return None
        self.outcome = "accepted" if r.returncode == 0 else "refused"
        if r.returncode < 0:
            self.fail(f"killed by {signal.Signals(-r.returncode).name}", command, stderr=r.stderr)
        elif r.returncode not in (0, 1):
            self.fail(f"exit {r.returncode}", command, stderr=r.stderr)
        elif r.returncode == 1:
            lines = r.stderr.decode(errors="replace").splitlines()
            if len(lines) != 1 or not lines[0].startswith("tok: "):
                self.fail("failed without exactly one tok: line", command, f"{len(lines)} lines", stderr=r.stderr)
        left = sorted(str(p.relative_to(self.root)) for p in (self.root / "tmp").rglob("*"))
        if left:
            self.fail("left files in $TMPDIR", command, ", ".join(left[:5]))
        made = sorted(str(p.relative_to(self.root)) for p in self.out.rglob("*") if p.is_file())
        allowed = [str(pathlib.Path("out") / o) for o in outputs] if r.returncode == 0 else []
        stray = [m for m in made if not any(m == a or m.startswith(a + "/") for a in allowed)]
        if stray:
            self.fail("left files in the output folder" if r.returncode else "wrote files it was not asked for", command,
                      ", ".join(stray[:5]), stderr=r.stderr)
        after = self.snapshot()
        allowed_new = {str(pathlib.Path("in") / m) for m in made_in_inputs}
        if {k: v for k, v in after.items() if k not in allowed_new or k in before} != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            self.fail("changed its inputs", command, ", ".join(changed[:5]), stderr=r.stderr)
        return r

    def differ(self, what, command, ours, theirs):
        self.fail(what, command, first_difference(ours, theirs))


def first_difference(ours, theirs):
    """Where two lists (of ids, or of documents) first differ, in a few words."""
    if not (isinstance(ours, list) and isinstance(theirs, list)):
        return f"tok {str(ours)[:200]} vs {str(theirs)[:200]}"
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b and b not in (None, OPTIONAL)),
             min(len(ours), len(theirs)))
    if i < len(ours) and i < len(theirs) and isinstance(ours[i], list):
        return f"{len(ours)} vs {len(theirs)} documents; document {i}: " + first_difference(ours[i], theirs[i])
    return f"{len(ours)} vs {len(theirs)} items; from {i}: tok {ours[i:i + 4]} vs {theirs[i:i + 4]}"


def ids_of(stdout):
    return [int(x) for x in stdout.split()]


def reference(load):
    """What a reference library gives, or None when it refuses (or panics: pyo3's
    PanicException is a BaseException)."""
    try:
        return load()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: B036
        return None


# ---------------------------------------------------------------------------
# The inputs, made once per module


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-base")
    text = "".join(domain_text(d, 3000) for d in ("zh", "en", "code", "math"))
    (root / "corpus.txt").write_text(text)
    tok("train", root / "corpus.txt", "--vocab-size", 400, "--special-tokens", SPECIAL, "--quiet", "-o", root / "v")
    tok("export", "--vocab", root / "v", "--format", "tiktoken", "-o", root / "small.tiktoken")
    tok("import", root / "small.tiktoken", "--pattern", "o200k", "--special", f"{SPECIAL}=399", "-o", root / "t")
    (pattern,) = json.loads((root / "t" / "manifest.json").read_text())["regexes"]
    token_bytes = {int(rank): base64.b64decode(b64) for b64, rank in
                   (line.split() for line in (root / "small.tiktoken").read_bytes().splitlines())}
    token_bytes[399] = SPECIAL.encode()

    # Count files: the intact one's merge and training, made in the layout of a case.
    counts_case = root / "counts-case"
    (counts_case / "in").mkdir(parents=True)
    (counts_case / "out").mkdir()
    shutil.copy(root / "corpus.txt", counts_case / "in" / "corpus.txt")
    tok("count", "in/corpus.txt", "-o", "in/small.counts", "--quiet", cwd=counts_case)
    counts = (counts_case / "in" / "small.counts").read_bytes()
    tok("count", "--merge", "in/small.counts", "-o", "out/m.counts", "--quiet", cwd=counts_case)
    tok(*TRAIN_COUNTS, cwd=counts_case)

    # JSON lines: real paragraphs of each domain, with other fields and escapes.
    paragraphs = [p for p in text.split("\n") if p.strip()]
    rng = random.Random(SEED)
    lines = []
    for i, p in enumerate(paragraphs[:24]):
        doc = {"id": i, "text": p[:200], "meta": {"source": "fuzz", "scores": [1, 2.5]}}
        lines.append(json.dumps(doc, ensure_ascii=i % 2 == 0))
    lines.append(json.dumps({"text": random_text(rng, 60), "id": 99}))
    lines.append(json.dumps({"text": ""}))
    jsonl = ("\n".join(lines) + "\n").encode()
    (root / "docs.jsonl").write_bytes(jsonl)
    tok("encode", "--format", "megatron", "--vocab", root / "v", root / "docs.jsonl", "-o", root / "ds", "--quiet")
    sample = "".join(domain_text(d, 600) for d in ("zh", "en", "code", "math")) + f" {SPECIAL} x" + \
        random_text(random.Random(SEED), 300)
    return {
        "root": root, "vocab": root / "v", "sample": sample, "pattern": pattern, "token_bytes": token_bytes,
        "tokenizer.json": pathlib.Path(root / "v" / "tokenizer.json").read_bytes(),
        "hf": Tokenizer.from_file(str(root / "v" / "tokenizer.json")),
        "tiktoken": (root / "small.tiktoken").read_bytes(),
        "counts": counts, "merged": (counts_case / "out" / "m.counts").read_bytes(),
        "trained": (counts_case / "out" / "v" / "tokenizer.json").read_bytes(),
        "jsonl": jsonl, "idx": (root / "ds.idx").read_bytes(), "bin": (root / "ds.bin").read_bytes(),
        "manifest": (root / "ds.manifest.json").read_bytes(),
    }


TRAIN_COUNTS = ("train", "in/small.counts", "--vocab-size", "300", "--quiet", "-o", "out/v")


# ---------------------------------------------------------------------------
# One case of each kind


# tokenizers aborts the whole process on some damaged files (a panic while
# unwinding from a duplicated field, in 0.23.3): it reads them in a process
# of its own, started again after such an abort.
TOKENIZERS_CHILD = r"""
import pickle, struct, sys
from tokenizers import Tokenizer
read, write = sys.stdin.buffer.read, sys.stdout.buffer.write
while len(head := read(4)) == 4:
    text, sample = pickle.loads(read(struct.unpack("<I", head)[0]))
    try:
        ids = Tokenizer.from_str(text).encode(sample, add_special_tokens=False).ids
    except BaseException:  # pyo3's PanicException is one
        ids = None
    reply = pickle.dumps(ids)
    write(struct.pack("<I", len(reply)) + reply)
    sys.stdout.buffer.flush()
"""


class TokenizersInChild:
    """tokenizers' ids for a tokenizer.json and a text, or None when it refuses the file or aborts."""

    def __init__(self):
        self.process = None

    def ids(self, text, sample):
        if self.process is None:
            self.process = subprocess.Popen([sys.executable, "-c", TOKENIZERS_CHILD], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        request = pickle.dumps((text, sample))
        try:
            self.process.stdin.write(struct.pack("<I", len(request)) + request)
            self.process.stdin.flush()
            head = self.process.stdout.read(4)
            if len(head) == 4:
                return pickle.loads(self.process.stdout.read(struct.unpack("<I", head)[0]))
        except BrokenPipeError:
            pass
        self.close()  # it aborted: the next file gets a new process
        return None

    def close(self):
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait()
            self.process = None


def tokenizer_json_case(case, base, rng):
    data, case.mutations = mutate(base["tokenizer.json"], rng, JSON_MUTATIONS)
    theirs = case.tokenizers.ids(data.decode("utf-8"), base["sample"]) if valid_utf8(data) else None
    sample = base["sample"].encode()
    if case.index % 2 == 0:
        (case.inputs / "tokenizer.json").write_bytes(data)
        r = case.run("import", "in/tokenizer.json", "-o", "out/v", outputs=["v"])
        if r is None or r.returncode != 0:
            return
        r = case.run("encode", "--vocab", "out/v", "--allow-special", "all", input=sample, outputs=["v"])
        if r is not None and r.returncode != 0:
            case.fail("refused a vocabulary it imported", ["tok", "encode"], stderr=r.stderr)
    else:
        # A folder with only a tokenizer.json, as a user may make by hand.
        (case.inputs / "v").mkdir()
        (case.inputs / "v" / "tokenizer.json").write_bytes(data)
        r = case.run("encode", "--vocab", "in/v", "--allow-special", "all", input=sample, made_in_inputs=["v/tokenizer.bin"])
    if r is None or r.returncode != 0:
        return
    if theirs is None:
        case.lenient.append("tokenizer.json that tokenizers refuses")
    elif ids_of(r.stdout) != theirs:
        case.differ("ids differ from tokenizers'", ["tok", "encode"], ids_of(r.stdout), theirs)


def tiktoken_reference(data, base):
    """tiktoken on a ranks file, read as tiktoken.load.load_tiktoken_bpe reads one."""
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    encoding = tiktoken.Encoding("fuzz", pat_str=base["pattern"], mergeable_ranks=ranks, special_tokens={SPECIAL: 399})
    return encoding.encode(base["sample"], allowed_special="all")


def tiktoken_case(case, base, rng):
    data, case.mutations = mutate(base["tiktoken"], rng, TEXT_MUTATIONS)
    (case.inputs / "small.tiktoken").write_bytes(data)
    r = case.run("import", "in/small.tiktoken", "--pattern", "o200k", "--special", f"{SPECIAL}=399", "-o", "out/t",
                 outputs=["t"])
    if r is None or r.returncode != 0:
        return
    r = case.run("encode", "--vocab", "out/t", "--allow-special", "all", input=base["sample"].encode(), outputs=["t"])
    if r is None:
        return
    if r.returncode != 0:
        case.fail("refused a vocabulary it imported", ["tok", "encode"], stderr=r.stderr)
        return
    theirs = reference(lambda: tiktoken_reference(data, base))
    if theirs is None:
        case.lenient.append("ranks file that tiktoken refuses")
    elif ids_of(r.stdout) != theirs:
        case.differ("ids differ from tiktoken's", ["tok", "encode"], ids_of(r.stdout), theirs)


def counts_case(case, base, rng):
    data, case.mutations = mutate(base["counts"], rng, BINARY_MUTATIONS)
    (case.inputs / "small.counts").write_bytes(data)
    if case.index % 2 == 0:
        r = case.run("count", "--merge", "in/small.counts", "-o", "out/m.counts", "--quiet", outputs=["m.counts"])
        if r is not None and r.returncode == 0 and (case.out / "m.counts").read_bytes() != base["merged"]:
            case.fail("accepted a damaged count file: the merge differs from the intact file's", ["tok", "count"])
    else:
        r = case.run(*TRAIN_COUNTS, outputs=["v"])
        if r is not None and r.returncode == 0 and (case.out / "v" / "tokenizer.json").read_bytes() != base["trained"]:
            case.fail("accepted a damaged count file: the vocabulary differs from the intact file's", ["tok", "train"])


def megatron_documents(prefix):
    """The documents megatron-core reads: each a list of ids, from the document index over the sequences."""
    dataset = IndexedDataset(str(prefix))
    sequences = [[int(x) for x in dataset[k]] for k in range(len(dataset))]
    bounds = [int(x) for x in dataset.document_indices]
    return [sum(sequences[bounds[k]:bounds[k + 1]], []) for k in range(len(bounds) - 1)]


def idx_case(case, base, rng):
    data, case.mutations = mutate(base["idx"], rng, BINARY_MUTATIONS)
    for name, content in [("ds.idx", data), ("ds.bin", base["bin"]), ("ds.manifest.json", base["manifest"])]:
        (case.inputs / name).write_bytes(content)
    documents = reference(lambda: megatron_documents(case.inputs / "ds"))
    if case.index % 2 == 0:
        r = case.run("decode", "--format", "megatron", "--vocab", base["vocab"], "in/ds")
        if r is None or r.returncode != 0:
            return
        if documents is None:
            case.lenient.append(".idx that megatron-core refuses")
            return
        theirs = reference(lambda: b"".join(b"".join(base["token_bytes"][i] for i in d) + b"\n" for d in documents))
        if theirs is None:
            case.fail("decoded ids that are not in the vocabulary", ["tok", "decode"])
        elif r.stdout != theirs:
            case.differ("decoded other documents than megatron-core reads", ["tok", "decode"], r.stdout, theirs)
    else:
        r = case.run("stats", "--dataset", "in/ds", "--json")
        if r is None or r.returncode != 0:
            return
        if documents is None:
            case.lenient.append(".idx that megatron-core refuses")
            return
        (stats,) = json.loads(r.stdout)["datasets"]
        ours = [stats["documents"], stats["tokens"]]
        theirs = [len(documents), sum(map(len, documents))]
        if ours != theirs:
            case.differ("counted other documents or tokens than megatron-core reads", ["tok", "stats"], ours, theirs)


LONE_SURROGATE = re.compile("[\ud800-\udfff]")
OPTIONAL = "optional"
ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # an invalid byte under Python's surrogateescape


def valid_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def jsonl_reference(data, hf, eod):
    """The documents of a JSON-lines file as megatron's preprocess_data.py reads
    it (Python's json; a line that is not an object with a string "text" is
    skipped, and so is a blank one), each encoded by tokenizers; and whether a
    line other than a blank one was skipped. A lone surrogate escape, which no
    UTF-8 text holds, becomes U+FFFD. Invalid UTF-8 in a text is data to tok
    (encoded as byte tokens) that tokenizers cannot take: such a document is
    None, any ids. A line nested deeper than Python's json goes may be
    refused or read: it is OPTIONAL."""
    documents, skipped = [], False
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line.decode("utf-8", "surrogateescape"))
        except RecursionError:
            documents.append(OPTIONAL)
            continue
        except ValueError:
            value = None
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            skipped = True
            continue
        text = value["text"]
        if ESCAPED_BYTE.search(text) and not valid_utf8(line):
            documents.append(None)
            continue
        ids = hf.encode(LONE_SURROGATE.sub("\ufffd", text), add_special_tokens=False).ids
        documents.append(ids + [eod] if ids and eod is not None else ids)
    return documents, skipped


def same_documents(ours, theirs):
    """Whether tok's documents are the reference's: None there stands for any
    ids, and an OPTIONAL document may be there (any ids) or not."""
    if ours is None:
        return False
    if not theirs:
        return not ours
    first = theirs[0]
    if first is OPTIONAL:
        return same_documents(ours, theirs[1:]) or (bool(ours) and same_documents(ours[1:], theirs[1:]))
    return bool(ours) and (first is None or ours[0] == first) and same_documents(ours[1:], theirs[1:])


def jsonl_case(case, base, rng):
    data, case.mutations = mutate(base["jsonl"], rng, JSON_MUTATIONS)
    (case.inputs / "docs.jsonl").write_bytes(data)
    if case.index % 3 == 2:
        case.run("count", "in/docs.jsonl", "-o", "out/c.counts", "--quiet", outputs=["c.counts"])
        return
    strict, eod = case.index % 3 == 1, rng.random() < 0.5
    flags = (["--strict"] if strict else []) + (["--append-eod"] if eod else [])
    r = case.run("encode", "--format", "megatron", "--vocab", base["vocab"], "in/docs.jsonl", "-o", "out/ds", "--quiet",
                 *flags, outputs=["ds.bin", "ds.idx", "ds.manifest.json"])
    if r is None or r.returncode != 0:
        return
    theirs, skipped = jsonl_reference(data, base["hf"], 399 if eod else None)
    if strict and skipped:
        case.fail("--strict accepted a line that is not a document", ["tok", "encode"])
    if (case.out / "ds.bin").stat().st_size == 0 and not any(theirs):
        return  # megatron-core cannot map an empty .bin: no token to compare
    ours = reference(lambda: megatron_documents(case.out / "ds"))
    if not same_documents(ours, theirs):
        case.differ("documents differ from Python json and tokenizers'", ["tok", "encode"], ours, theirs)


RUN = {"tokenizer.json": tokenizer_json_case, "tiktoken": tiktoken_case, "counts": counts_case, "idx": idx_case,
       "jsonl": jsonl_case}


def failure_key(f):
    return (f["kind"], f["failure"], f["command"])


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_inputs_never_crash_nor_give_wrong_results(kind, base, tmp_path):
    if ONLY and ONLY.split(":")[0] != kind:
        pytest.skip(f"TOK_FUZZ_ONLY={ONLY}")
    indices = iter([int(ONLY.split(":")[1])] if ONLY else range(CASES))
    lock = threading.Lock()
    cases, seen = [], set()
    start = time.monotonic()

    def work(lane, tokenizers):
        # Each lane reuses one folder; tok's runs are most of the time, so
        # lanes overlap well on threads.
        while True:
            with lock:
                index = next(indices, None)
                if index is None or (SECONDS and time.monotonic() - start > SECONDS):
                    return
            case = Case(tmp_path / f"lane{lane}", kind, index, tokenizers)
            try:
                RUN[kind](case, base, random.Random(f"{SEED}:{kind}:{index}"))
            except Exception as error:  # the harness's own failure: reported like tok's, never lost in a thread
                case.fail(f"the fuzz test itself failed: {type(error).__name__}", ["test_fuzz.py", kind], repr(error))
            with lock:
                cases.append(case)
                for f in case.failures:
                    if KEEP and failure_key(f) not in seen:
                        shutil.copytree(case.inputs, pathlib.Path(KEEP) / f"{kind}-{SEED}-{index}", dirs_exist_ok=True)
                    seen.add(failure_key(f))
                if REPORT:
                    with open(REPORT, "a") as report:
                        for f in case.failures:
                            report.write(json.dumps(f) + "\n")
                        report.write(json.dumps({"kind": kind, "case": index, "seed": SEED, "done": True}) + "\n")

    children = [TokenizersInChild() for _ in range(JOBS)]
    lanes = [threading.Thread(target=work, args=(lane, children[lane])) for lane in range(JOBS)]
    for t in lanes:
        t.start()
    for t in lanes:
        t.join()
    for child in children:
        child.close()
    cases.sort(key=lambda c: c.index)
    outcomes = Counter(c.outcome for c in cases)
    lenient = {}
    for c in cases:
        for what in c.lenient:
            lenient.setdefault(what, []).append(c)
    print(f"{kind}: {len(cases)} cases in {time.monotonic() - start:.1f} s: {outcomes['accepted']} accepted, "
          f"{outcomes['refused']} refused")
    for what, those in lenient.items():  # allowed: the references are not always the stricter reader
        print(f"  accepted a {what}: {len(those)} cases, e.g. TOK_FUZZ_ONLY={kind}:{those[0].index} "
              f"({'; '.join(those[0].mutations)})")
    assert len(cases) >= min(CASES, 20) or ONLY, f"only {len(cases)} cases ran"
    distinct = {}
    for f in (f for c in cases for f in c.failures):
        distinct.setdefault(failure_key(f), []).append(f)
    assert not distinct, f"{sum(map(len, distinct.values()))} failures in {len(cases)} cases, {len(distinct)} distinct:\n" + "\n".join(
        f"- {key[1]} ({key[2]}, {len(fs)} cases), e.g. TOK_FUZZ_SEED={fs[0]['seed']} TOK_FUZZ_ONLY={kind}:{fs[0]['case']}: "
        f"{'; '.join(fs[0]['mutations'])}; {fs[0]['detail']} {fs[0]['stderr'].strip()}"
        for key, fs in distinct.items())
