"""What the benchmarks share: where tok is, running and measuring a command,
sizes, the corpora's files and text, and HuggingFace's BPE trainer as a script.
The benchmarks import it from their own folder (`python3 Benchmarks/X.py` puts
that folder first on the path)."""
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOK = os.environ.get("TOK_BIN", str(ROOT / ".build/release/tok"))
TOK_BENCH = ROOT / ".build/release/tok-bench"
DOMAINS = ["zh", "en", "code", "math"]

# HuggingFace's BpeTrainer on a list of files, as a script to run in a process
# of its own (to measure its time and peak memory apart):
# python3 -c HF_SCRIPT REGEX SIZE OUT.json LISTING [whole-files]
HF_SCRIPT = r"""
import json, sys
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
regex, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
files = open(sys.argv[4]).read().split("\n")
model = Tokenizer(models.BPE())
model.pre_tokenizer = pre_tokenizers.Sequence([
    pre_tokenizers.Split(Regex(regex), behavior="isolated"),
    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
model.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=size, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
if sys.argv[5:] == ["whole-files"]:
    # Each file as one text, as tok reads it: train(files) reads line by line.
    model.train_from_iterator((open(f, encoding="utf-8", errors="replace").read() for f in files), trainer=trainer)
else:
    model.train(files, trainer=trainer)
model.save(out)
"""


def ab_parser(runs):
    """The arguments of two builds taking turns: OLD NEW --vocab DIR FILE... [--runs N]."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--vocab", required=True)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--runs", type=int, default=runs)
    return ap


def files_of(folder):
    """A corpus folder's files, in path order, without hidden ones (the gatherer's marks)."""
    return sorted(str(p) for p in pathlib.Path(folder).rglob("*") if p.is_file() and not p.name.startswith("."))


def domain_text(folder, limit):
    """The first `limit` bytes of a corpus folder's files, in path order, cut at a line end."""
    out = bytearray()
    for f in files_of(folder):
        out += pathlib.Path(f).read_bytes()
        if len(out) >= limit:
            break
    cut = out.rfind(b"\n", 0, limit)
    return bytes(out[: cut + 1 if cut > 0 else limit]).decode("utf-8")


def parse_size(text):
    """'4G', '100M', '512K' or bytes, as tok reads sizes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1:].upper() in units else int(text)


def pinned(cmd, cores=None):
    """`cmd` as strings, pinned to `cores` (taskset's list, e.g. '0' or '0-1') when given."""
    return (["taskset", "-c", cores] if cores else []) + [str(c) for c in cmd]


def timed(cmd, limit=None, cores=None):
    """Runs `cmd` (stdout discarded, stderr kept); returns (seconds, the child's own
    peak RSS in MB, its exit status or 'timeout' after `limit` seconds)."""
    cmd = pinned(cmd, cores)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execvp(cmd[0], cmd)
    if limit is None:
        _, status, usage = os.wait4(pid, 0)
    else:
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.perf_counter() > start + limit:
                os.kill(pid, 9)
                _, status, usage = os.wait4(pid, 0)
                return time.perf_counter() - start, usage.ru_maxrss / 1024, "timeout"
            time.sleep(0.05)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def measured(cmd, cores=None):
    """`timed` for a command that must succeed: (seconds, peak RSS in MB); a failure ends the benchmark."""
    seconds, rss, status = timed(cmd, cores=cores)
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(map(str, cmd))[:200]}")
    return seconds, rss


def attempt(cmd, cores=None):
    """Runs `cmd`, capturing its output: (stdout, None), or (None, the last line of stderr) when it fails."""
    r = subprocess.run(pinned(cmd, cores), capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
    return r.stdout, None


def run(cmd, cores=None):
    """Runs `cmd` and returns its stdout; a failure ends the benchmark with the command and its stderr."""
    r = subprocess.run(pinned(cmd, cores), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))[:200]}\n{r.stderr[-2000:]}")
    return r.stdout


def best_of(runs, fn):
    """The shortest of `runs` timings of `fn()` in seconds (the machine is shared: the best is the least disturbed)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def hf_regex(pattern):
    """A tok pattern as one regex for HuggingFace's Split pre-tokenizer."""
    (regex,) = json.loads(run([TOK, "pretokenize", "--pattern", pattern, "--print-regexes", "--hf"]))
    return regex


def make_texts(corpora, mixed_mb, domain_mb, work):
    domains = {}
    for d in ["zh", "en", "code", "math"]:
        folder = pathlib.Path(corpora) / d
        text = b"".join(f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file() and not f.name.startswith("."))
        domains[d] = [x for x in text.decode("utf-8", "replace").split("\n\n") if x.strip()]
    texts = {}
    for d, docs in domains.items():
        out, size = [], 0
        for doc in docs:
            out.append(doc)
            size += len(doc.encode())
            if size >= domain_mb * 1e6:
                break
        texts[d] = "\n\n".join(out)
    out, size, k = [], 0, 0
    while size < mixed_mb * 1e6:
        for docs in domains.values():
            doc = docs[k % len(docs)]
            out.append(doc)
            size += len(doc.encode())
        k += 1
    texts["mixed"] = "\n\n".join(out)
    # Short documents: 1-4 KB slices of the mixed text cut at paragraph ends, 4 MB in all.
    # (Or the whole mixed text, when it is smaller.)
    short, pos, total, mixed = [], 0, 0, texts["mixed"]
    while total < 4e6 and pos < len(mixed):
        end = mixed.find("\n", pos + 1000)
        end = min(end if end > 0 else pos + 4000, pos + 4000)
        short.append(mixed[pos:end])
        total += end - pos
        pos = end
    paths = {}
    for name, text in list(texts.items()) + [("short", "\n".join(short))]:
        path = work / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    (work / "short.txt.docs.json").write_text(json.dumps(short))
    return paths


def exported(name, vocabulary, work):
    """A vocabulary folder's tiktoken ranks file and tokenizer.json, written
    into `work` for the peers to load: (ranks, tokenizer.json), or None with
    a line said when the folder is not there."""
    if not (pathlib.Path(vocabulary) / "manifest.json").exists():
        print(f"{name}: {vocabulary} not found, skipped")
        return None
    ranks, hf = pathlib.Path(work) / f"{name}.tiktoken", pathlib.Path(work) / f"{name}.json"
    subprocess.run([TOK, "export", "--vocab", vocabulary, "--format", "tiktoken", "-o", ranks], check=True)
    subprocess.run([TOK, "export", "--vocab", vocabulary, "--format", "hf", "-o", hf], check=True)
    return ranks, hf
