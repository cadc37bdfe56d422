#!/usr/bin/env python3
"""Encoding benchmark: tok against tiktoken on the same vocabulary and text.

Prints single-thread MB/s for each, their ratio, tok's parallel MB/s, the
vocabulary load time, and the time per MB of one 1 MB piece against ordinary
text. Usage (after `swift build -c release`):

    python3 Benchmarks/encode.py --vocab DIR --tiktoken RANKS --pattern-from DIR FILE...
"""
import argparse
import base64
import json
import pathlib
import subprocess

import tiktoken

from benchlib import TOK, TOK_BENCH, best_of


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", required=True, help="tok vocabulary folder")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    vocab = pathlib.Path(args.vocab)
    manifest = json.loads((vocab / "manifest.json").read_text())
    ranks_file = vocab / "bench-export.tiktoken"
    subprocess.run([TOK, "export", "--vocab", vocab, "--format", "tiktoken", "-o", ranks_file], check=True)
    ranks = {base64.b64decode(b): int(r) for b, r in (l.split() for l in ranks_file.read_bytes().splitlines())}
    ranks_file.unlink()
    enc = tiktoken.Encoding(manifest["name"], pat_str=manifest["regexes"][0], mergeable_ranks=ranks, special_tokens={})
    ours = json.loads(subprocess.run([TOK_BENCH, vocab, *args.files], check=True,
                                     capture_output=True).stdout)
    print(f"vocabulary {manifest['name']} ({manifest['size']} ids): tok loads it in {ours['load_ms']:.1f} ms")
    print(f"{'file':40} {'MB':>6} {'tiktoken MB/s':>14} {'tok MB/s':>9} {'ratio':>6} {'tok all cores':>14}")
    total_bytes = total_tt = total_tok = 0.0
    for f in ours["files"]:
        text = pathlib.Path(f["file"]).read_text(encoding="utf-8")
        ids = enc.encode_ordinary(text)
        assert len(ids) == f["tokens"], f"token counts differ on {f['file']}: {len(ids)} vs {f['tokens']}"
        t = best_of(3, lambda: enc.encode_ordinary(text))
        mb = f["bytes"] / 1e6
        total_bytes += f["bytes"]
        total_tt += t
        total_tok += f["seconds"]
        print(f"{pathlib.Path(f['file']).name:40} {mb:6.1f} {mb / t:14.1f} {f['mb_per_s']:9.1f} {t / f['seconds']:6.2f} "
              f"{f['parallel_mb_per_s']:10.1f} ({f['threads']})")
    print(f"{'all':40} {total_bytes / 1e6:6.1f} {total_bytes / 1e6 / total_tt:14.1f} {total_bytes / 1e6 / total_tok:9.1f} "
          f"{total_tt / total_tok:6.2f}")
    normal = total_tok / (total_bytes / 1e6) * 1000
    print(f"ordinary text: {normal:.1f} ms/MB; one 1 MB piece: " +
          ", ".join(f"{k.replace('_ms_per_mb', '')} {v:.1f} ms/MB" for k, v in sorted(ours["long_pieces"].items())))


if __name__ == "__main__":
    main()
