#!/usr/bin/env python3
"""The de-duplication experiment of the quality benchmark: copies a corpus
folder (zh/ en/ code/ math/), dropping every line of at least MIN bytes
(stripped) that appeared before in its domain: licence headers, navigation,
repeated boilerplate. Build from the copy and compare with
`tok stats` against the pooled BPE that Benchmarks/quality.py trained on the
original corpora.

    python3 Benchmarks/dedup_lines.py CORPORA OUT [--min 40]
"""
import argparse
import pathlib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora")
    ap.add_argument("out")
    ap.add_argument("--min", type=int, default=40)
    args = ap.parse_args()
    src, dst = pathlib.Path(args.corpora), pathlib.Path(args.out)
    for d in ["zh", "en", "code", "math"]:
        seen, kept, dropped = set(), 0, 0
        for f in sorted(p for p in (src / d).rglob("*") if p.is_file() and not p.name.startswith(".")):
            out = dst / f.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            lines = []
            for line in f.read_bytes().split(b"\n"):
                s = line.strip()
                if len(s) >= args.min:
                    if s in seen:
                        dropped += len(line) + 1
                        continue
                    seen.add(s)
                lines.append(line)
                kept += len(line) + 1
            out.write_bytes(b"\n".join(lines))
        print(f"{d}: kept {kept / 1e6:.1f} MB, dropped {dropped / 1e6:.1f} MB ({dropped / (kept + dropped) * 100:.1f}%)")


if __name__ == "__main__":
    main()
