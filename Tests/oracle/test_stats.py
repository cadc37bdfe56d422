"""tok stats' metrics against tiktoken's ids on the evaluation set, and its HTML
page rendered by a real browser (headless Chromium)."""
import json
import math
import re
import shutil
import struct
import subprocess
import zlib

import pytest
import tiktoken

from conftest import CORPORA, DOMAINS, REFVOCAB, tok


def reference_encoding(name):
    """tiktoken's own encoding `name`, its ranks read from the fixture (no network)."""
    import tiktoken_ext.openai_public as public
    from tiktoken.load import load_tiktoken_bpe
    original = public.load_tiktoken_bpe
    public.load_tiktoken_bpe = lambda url, expected_hash=None: load_tiktoken_bpe(
        str(REFVOCAB / url.rsplit("/", 1)[1]), expected_hash)
    try:
        return tiktoken.Encoding(**getattr(public, name)())
    finally:
        public.load_tiktoken_bpe = original


def evaluation_text(domain):
    files = sorted(p for p in (CORPORA / "eval" / domain).glob("*.txt"))
    assert files, f"no evaluation set under {CORPORA / 'eval' / domain}: corpora/gather.py makes it"
    return files, "".join(f.read_text() for f in files)


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    out = tmp_path_factory.mktemp("stats")
    for name in ["o200k", "cl100k"]:
        tok("import", REFVOCAB / f"{name}_base.tiktoken", "--pattern", name, "-o", out / name)
    domains = ",".join(f"{d}={CORPORA / 'eval' / d}" for d in DOMAINS)
    r = tok("stats", "--vocab", out / "o200k", "--vocab", out / "cl100k", "--domains", domains,
            "--json", "--html", out / "page.html")
    return json.loads(r.stdout), out / "page.html"


@pytest.mark.parametrize("domain", DOMAINS)
def test_metrics_equal_those_of_tiktoken_ids(domain, stats):
    report, _ = stats
    _, text = evaluation_text(domain)
    encodings = {"o200k": reference_encoding("o200k_base"), "cl100k": reference_encoding("cl100k_base")}
    files, _ = evaluation_text(domain)
    texts = [f.read_text() for f in files]
    fewest = {}
    for name, enc in encodings.items():
        # tok reads each file as one text: the ids of each file, one after another.
        ids = [i for t in texts for i in enc.encode_ordinary(t)]
        metrics = next(m for m in report["metrics"] if m["name"].endswith(name))
        m = metrics["domains"][domain]
        n = len(ids)
        assert m["tokens"] == n
        fewest[name] = n
        assert m["bytes"] == len(text.encode())
        assert m["characters"] == len(text)
        assert m["words"] == sum(len(t.split()) for t in texts)
        han = sum(1 for c in text if re.match(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af]", c))
        assert m["hanCharacters"] == han
        assert m["bytesPerToken"] == pytest.approx(len(text.encode()) / n, abs=1e-4)
        assert m["tokensPerWord"] == pytest.approx(n / m["words"], abs=1e-4)
        if han:
            assert m["tokensPerHanCharacter"] == pytest.approx(n / han, abs=1e-4)
        # Rényi efficiency (alpha 2.5) and dead tokens from the ids themselves.
        counts = {}
        for i in ids:
            counts[i] = counts.get(i, 0) + 1
        size = len(enc._mergeable_ranks)
        h = math.log(sum((c / n) ** 2.5 for c in counts.values())) / (1 - 2.5)
        assert m["renyiEfficiency"] == pytest.approx(h / math.log(size), abs=2e-4)
        assert m["deadTokens"] == size - len(counts)
    best = min(fewest.values())
    for name, n in fewest.items():
        m = next(x for x in report["metrics"] if x["name"].endswith(name))["domains"][domain]
        assert m["parity"] == pytest.approx(n / best, abs=1e-4)


def test_vocabulary_figures(stats):
    report, _ = stats
    for m in report["metrics"]:
        assert sum(m["composition"].values()) == m["size"]
        assert sum(sum(v) for v in m["lengths"].values()) == m["size"] - m["composition"].get("byte and special tokens", 0) + 256
        assert 0 < m["deadTokens"] < m["size"] and 0 <= m["intermediateOnlyTokens"] < m["deadTokens"]
        assert m["paritySpread"] == pytest.approx(
            max(d["parity"] for d in m["domains"].values()) - min(d["parity"] for d in m["domains"].values()), abs=1e-4)


def png_pixels(path):
    """Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) into rows of pixels."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos: pos + 8])
        body = data[pos + 8: pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, color = header[:4]
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1: (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    pytest.fail("no Chromium: scripts/setup installs it")


@pytest.mark.chromium
def test_the_page_renders_in_chromium(stats, tmp_path):
    _, page = stats
    browser = chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    for chart in ["bytes-per-token", "tokens-per-word", "tokens-per-han", "renyi", "parity", "dead", "composition", "lengths"]:
        assert f'id="{chart}"' in dom, f"the browser's DOM has no {chart} chart"
    # One bar per domain and vocabulary in each per-domain chart, at least.
    assert dom.count("<rect") >= 6 * len(DOMAINS) * 2
    shot = tmp_path / "page.png"
    subprocess.run([browser, *flags, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    width, height, channels, rows = png_pixels(shot)
    assert (width, height) == (1200, 2400)
    # Both vocabularies' bar colors are painted (#4e79a7, #f28e2b).
    painted = {(0x4E, 0x79, 0xA7): 0, (0xF2, 0x8E, 0x2B): 0}
    for row in rows:
        for x in range(0, width * channels, channels):
            px = tuple(row[x: x + 3])
            if px in painted:
                painted[px] += 1
    assert all(n > 2000 for n in painted.values()), painted


@pytest.mark.chromium
def test_a_build_reports_the_metrics_and_its_page_renders(tmp_path):
    """build-report.json and build-report.html carry composition, parity and dead tokens,
    measured on the evaluation set; the page renders in Chromium."""
    domains = ",".join(f"{d}={CORPORA / d}" for d in DOMAINS)
    evaluation = ",".join(f"{d}={CORPORA / 'eval' / d}" for d in DOMAINS)
    out = tmp_path / "v"
    tok("build", "--domains", domains, "--eval", evaluation, "--vocab-size", 4000, "--compare-pooled", "--quiet", "-o", out)
    report = json.loads((out / "build-report.json").read_text())
    assert {d["evaluatedOn"] for d in report["domains"]} == {"evaluation set"}
    metrics = report["metrics"]
    assert sum(metrics["composition"].values()) == 4000
    for d in report["domains"]:
        m = metrics["domains"][d["name"]]
        assert m["tokens"] == d["merged"]["tokens"] and m["bytes"] == d["merged"]["bytes"]
        assert m["parity"] == pytest.approx(d["merged"]["tokens"] / d["own"]["tokens"], abs=1e-4)
        assert 0 < m["deadTokens"] < 4000
    assert report["pooledMetrics"]["domains"].keys() == metrics["domains"].keys()
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
                          "--dump-dom", (out / "build-report.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    for chart in ["parity", "dead", "composition", "bytes-per-token"]:
        assert f'id="{chart}"' in dom
