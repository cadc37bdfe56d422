import CTokICU

// The BPE kernel: turns one piece (a run of bytes the pre-tokenizer produced and
// the vocabulary does not hold whole) into token ids by repeatedly merging the
// adjacent pair with the lowest rank, leftmost first on ties. This is tiktoken's
// rule and, with a HuggingFace merges list as the pair table, `tokenizers`' rule.
//
// Performance notes (2-core x86_64, release build):
// - Short pieces use a linear scan over a flat array of pair ranks, as tiktoken
//   does: for the 2-30 byte pieces of ordinary text the scan beats a tree, since
//   the whole state sits in a few cache lines. 24, 32 and 48 bytes as the limit
//   measured the same within noise on Chinese and English while every byte was
//   a part; once characters entered whole (below), 64 bytes took Chinese from
//   37.2 to 40.8 MB/s (`tok encode`, o200k, one core; 128: 39.8), code and the
//   mixed text unchanged. With the pair filter before the pair cache, 128
//   bytes (43 Chinese characters) measured ahead, best of 7-9 interleaved:
//   Chinese o200k 57.8 -> 62.3 and 63.2 -> 63.9 MB/s (256: 64.0), cl100k
//   61.9 -> 63.1 and 63.9 -> 66.6, the mixed text (cl100k) 117.2 -> 118.0.
//   The scan's work stays bounded: at most 128 steps per byte.
// - Characters enter the merges whole where no neighbour can disturb their
//   own merges (`CharacterTokens.swift`, which says why the ids are the same):
//   a Chinese character is one part instead of three, and its two merges are
//   not made. `tok encode`, o200k, one core, best of 4 interleaved: Chinese
//   24.7 -> 36.3 MB/s, the mixed text 69.2 -> 74.2; ids identical (sha1 of
//   the 101 MB text's ids equal to fastokens' and tiktoken's).
// - Long pieces (a Chinese sentence under o200k, a 1 MB run of one byte) use a
//   tournament tree over byte positions: O(n log n), where the scan would be
//   O(n^2). It replaced a binary heap with lazy invalidation (stale entries
//   piled up: zh 15.2 -> 17.9 MB/s), and stopping the walk up at the first
//   unchanged node halved the cost of 1 MB of Han (127 -> 61 ms/MB; zh 18.7 ->
//   21 MB/s). Its first form (leaves in the tree, rounded up to a power of two,
//   and linked parts) took 65 bytes of memory per input byte: a 300 MB piece
//   of Han needed 19.5 GB and 146 s. Parts are now found from token lengths,
//   leaves are 32-bit ranks and inner nodes `rank << 32 | position`: 16 bytes
//   per byte, 5.5 GB and 41 s. 32-bit inner nodes holding the winning leaf (12
//   bytes per byte) measured 2x slower (a dependent load per comparison); a
//   two-level tree (blocks of 4096 positions) measured no faster. Skipping the
//   result lookup for ranks vocabularies (the result is the rank) saved 6%.
// - Pair ranks come from an integer-keyed hash table, not from hashing byte
//   slices; a piece's first pairs (two single bytes) come from a 65,536-entry
//   table. Keys and values were first separate arrays (most lookups miss, and
//   interleaving 64-bit keys and values measured slower); they are now one
//   word a merge (`PackedPairs`: left, right and rank in 64 bits, at up to
//   7/8 load): o200k's pair table 16 -> 4 MiB, `tokenizer.bin` 24.5 -> 12.0
//   MB, start-up 21.5 -> 18.0 ms, Chinese 50.7 -> 54.1 MB/s, English and code
//   unchanged (`tok encode`, one core, best of 5 interleaved).
// - Most pairs the kernel asks for do not merge (every pair left when a
//   piece is done; most pairs of two Chinese characters), and each such probe
//   of the pair table waited on memory: 25-50% of `mergeByScan` on Chinese
//   sat on one load. A blocked Bloom filter of the merges (`PairFilter`, 512
//   KiB for o200k, ~4% false passes) answers them first: Chinese 33.8 -> 39.0
//   MB/s, code 96.8 -> 104.0, English 71.0 -> 72.5. A piece's first pairs
//   that neither cache answers are requested together and read after
//   (`firstParts`, `pairIfNear`), so their misses overlap: Chinese 36.4 -> 38.0.
//   After a merge, the two new pairs' lines (pair cache, filter word, table
//   slot) are requested before either is read (`prefetchPair`): Chinese
//   50.5 -> 51.2 MB/s (best of 8), mixed 79.8 -> 82.2, code 109.6 -> 112.3.
//   (An earlier form that requested only the table slot measured nothing.)
// - Measured and not kept: the tables in 4 KiB pages (a step towards using
//   `tokenizer.bin`'s mapping without a copy): Chinese 44.0 -> 39.6, English
//   71.3 -> 66.3, code 85.3 -> 71.7 MB/s. The piece cache's lines requested as
//   used once (`prefetchnta`, to spare the core's cache): English -7%, code
//   +5%, Chinese +2%. Pieces through a ring, each line requested as the
//   pre-tokenizer makes the piece and served a group later (128/32: English
//   69.9 -> 62.5, Chinese 48.6 -> 48.4; 256/128: English 86.6 -> 84.4, code
//   104.2 -> 100.8). One buffer of ids for all blocks on one thread instead
//   of an array a block: English 73.7 vs 73.5, code 101.7 vs 102.5. Three-byte
//   characters decoded inline in `scalar(at:)` instead of the call: Chinese
//   54.5 -> 52.3 and 54.1 -> 50.3 (best of 7, twice). Pieces of one byte (12-21%
//   of pieces), and of two that merge (a third to a half), served from the
//   byte and byte-pair tables instead of the piece cache: English 93.3 ->
//   82.5, code 114.2 -> 108.1, mathematics 70.3 -> 67.4; one byte alone:
//   English 89.3 -> 86.2, mathematics 70.3 -> 65.7 (the branch that picks
//   them mispredicts; the cache line of a frequent piece is near the core).
//   Batches of 64 pieces instead of 128: English 84.5 vs 84.9, code 107.6 vs
//   105.6.
// - The tables are reached through raw pointers (`BPETables`): capturing the
//   `Vocabulary` struct per piece retained its arrays, which took 45% of the
//   time and made two threads slower than one.
//
// Around the kernel (`Tokenizer.encodePieces`, `PieceCache.swift`), measured
// with `tok-bench --cache` (one core, o200k, MB/s; cold: one pass with an
// empty cache, as a job meets a corpus; warm: a second pass):
// - Memory decides. A pointer chase on this machine reads in 11 ns within
//   1 MiB, 16.5 ns at 2 MiB, 72 ns at 4 MiB and 150-250 ns from 8 MiB up. The
//   o200k lookup table (4 MiB of slots, then offsets, then bytes) and pair table
//   (16 MiB then; 4 MiB packed, below) sit in the slow range: a piece that
//   misses every cache waits out several dependent reads of 150+ ns.
// - A piece cache (`PieceCacheStorage`: direct-mapped, one 64-byte line per
//   piece of up to 32 bytes and 7 ids) maps a piece to its ids. Its first form,
//   one piece at a time, measured no faster than none (en 44-48 MB/s both): the
//   cache object was retained per piece, and counters captured by the loop
//   went through dynamic exclusivity checks. Pieces now go in batches
//   (`PieceBatch`): every entry is prefetched, then the vocabulary slot of
//   each miss, then each piece is served in order. Batches of 32, 64, 128 and
//   256 pieces: English 86-91, 88-89, 84-91, 82-91 MB/s cold; 128 kept (the
//   prefetches need the lead). A pair cache (65,536 pairs, 1 MiB) in front of
//   the kernel's pair table took Chinese from 20-22 to 23-24 MB/s. Later, with
//   the 16 MiB piece cache of `tok encode` sweeping the core's 2 MiB L2, the
//   kernel stalled on the pair cache's own lines (39% of `mergeByScan` on two
//   loads); 16,384 pairs (256 KiB) stay near the core: best of 4 interleaved,
//   English 69.4 -> 74.2 MB/s, mixed 71.1 -> 76.2, Chinese 38.5 -> 38.1 (4,096:
//   72.5 / 73.8 / 40.6; 8,192: 73.3 / 75.6 / 36.8; 32,768: 73.4 / 76.0 / 37.8;
//   262,144: English 69.6, Chinese 35.3). Prefetching
//   the kernel's two pair lookups after a merge measured nothing. Huge pages
//   for the tables and the cache (`HugePages.swift`): Chinese +8-10%, mixed
//   +4%. Sizes, mixed 101 MB cold/warm: none 44.0/46.5; 16,384 entries
//   (1 MiB) 51.4/54.1; 65,536 (4 MiB, the default) 58.3/64.0; 262,144 (16 MiB)
//   64.5/71.6. English 48.0 -> 68.7 at the default; Chinese 17.5 -> 17.4 (its
//   Han pieces are mostly new: the kernel, not the cache, sets its speed).
// - Pieces of 33-1,024 bytes (rows of `*` or `─`, Chinese clauses) go to a
//   second cache of 4,096 slots over a 1 MiB arena. They are 5% of the mixed
//   text's bytes but 15-17% of its time in the tree; half of them are unique,
//   and the gain measured within noise (mixed 53.6 -> 56.2).
// - The pre-tokenizer alone (`tok-bench`, `pretokenize_mb_per_s`): the o200k
//   and cl100k matchers decide from ASCII bytes with plain comparisons when
//   every byte they look at is ASCII, and hand over to the general path at the
//   first that is not: o200k on English 129 -> 237 MB/s, on the mixed text
//   101 -> 210; cl100k mixed 253, the `tok` pattern 216. The Unicode class
//   table became a C global: as a Swift global, its initialization check
//   (`swift_once`) took 4-8% of every profile. Letter runs and runs of
//   spaces now end eight bytes a step (`asciiRunEnd`), not with a branch a
//   byte that mispredicts at every word's end: o200k alone, best of 4
//   interleaved, English 288 -> 343 MB/s, code 357 -> 404, mathematics 285
//   -> 320; `tok encode` English 66.4 -> 74.1, code 91.2 -> 101.6.
//   Even so each piece took a branch on what kind of piece starts there,
//   which real text does not let the CPU predict: the same sentence repeated
//   for 20 MB (as many pieces a byte) pre-tokenized at 771 MB/s (cl100k),
//   English at 441. ASCII is now decided 64 bytes at a time
//   (`SplitRule+Windows.swift`): SSE2 compares give a mask a byte class, and
//   the regex's rules become shifts, ands and a carry fill; a piece at a time
//   only past text that is not ASCII. Alone (o200k, best of 3): English
//   350 -> 1086 MB/s, code 411 -> 1138, mathematics 318 -> 969, mixed 316 -> 872.
//   `tok encode`, one core, best of 5 interleaved: o200k English 92.6 ->
//   118.1 MB/s, code 117.5 -> 149.1, mathematics 70.2 -> 83.7, Chinese 55.8
//   -> 57.2; cl100k English 88.3 -> 102.8, code 114.1 -> 135.5, mathematics
//   64.1 -> 76.0; the mixed text 85.9 -> 115.7 (o200k), 90.2 -> 117.4
//   (cl100k), 81.9 -> 119.6 (the built vocabulary).
// - A second tier of the piece cache for pieces of up to 8 bytes (89% of
//   the mixed text's pieces) in 16-byte entries, 512 KiB, to stay in the
//   core's own cache: mixed 78.2 vs 78.4 MB/s (8,192 entries: 71.7; 131,072:
//   77.7). Not kept: the 4 MiB cache's reads are not what bounds it.
// - Cache hits' ids gathered in a stack buffer (seven stores a hit, no
//   branch) and appended a run at a time instead of one `append` an id: best
//   of 8 interleaved, code 104.8 vs 106.4 MB/s, English 75.8 vs 75.1. Not kept.
// - Handing blocks from the reader to the pipeline by swapping buffers
//   instead of copying 1 MiB each: two cores, mixed, o200k 0.685 vs 0.671 s,
//   cl100k 0.719 vs 0.729. Not kept.
// - Two threads: `encodeStream` first emitted a block's ids while the next
//   block was encoded (1.34-1.72x one core in the peers runs). Each block
//   was then a barrier: both lanes waited for the slower half, and the lane
//   emitting competed with them. It is now an ordered pipeline
//   (`inOrderedPipeline`): workers take 1 MiB blocks as they free up, the
//   calling thread reads ahead and writes behind, four blocks a worker in
//   flight. `tok encode --format u32`, o200k, mixed 101 MB, two cores: best of
//   5 interleaved 0.786 -> 0.718 s (one core 1.29 s: 1.80x); the megatron
//   writer, 1.18 -> 0.85 s (1.38x -> 1.65x one core). Blocks of 256 KiB and 1
//   MiB measured the same, 4 MiB slower; a piece cache of 8 or 4 MiB per
//   thread (two must share the 32 MiB L3) measured no faster. `tok encode
//   --lines` had a loop of its own (split 8 MB into lines on one thread, then
//   `concurrentPerform` on all cores whatever `--threads` said): 1.84-1.91 s
//   on the mixed text; on the pipeline, which also formats the ids in the
//   workers, one thread 2.34 s and two 1.31 s.
// - Measured and not kept, with the windowed pre-tokenizer (`tok encode`,
//   o200k, one core, best of 5 interleaved, MB/s): the piece key's four
//   words loaded and hashed whatever the length (no branch on it): code
//   112.2 -> 104.9, English 89.1 -> 84.1. The batch in two passes (a miss
//   looked up where it is served, its slot not requested ahead): code 113.9
//   -> 118.5, English 88.2 -> 86.9, Chinese 52.8 -> 50.2. Lookup slots of two
//   words (hash, length and id; the token's first eight bytes), so that a
//   whole piece of up to eight bytes is found without reading the token's
//   offset and bytes (6.7% of English in the profile, two dependent misses):
//   English 117.5 vs 118.5, code 141.8 vs 140.1, mathematics 83.3 vs 81.6,
//   Chinese 54.7 vs 56.5, and `tokenizer.bin` 12.0 -> 16.1 MB. The piece
//   cache at 4, 8 and 16 MiB again: code 112.7 / 111.1 / 111.0, English 88.6
//   / 88.7 / 90.2, Chinese 55.7 / 55.8 / 55.9 (16 kept). The cache in sets
//   of two lines (a new piece in the first, the first moved to the second):
//   at 16 MiB English 99.1 -> 93.0, code 130.7 -> 127.8, Chinese 55.0 -> 50.0;
//   at 4 and 8 MiB slower still. One buffer of ids for every block on one
//   thread: Chinese 56.4 vs 57.4, English 110.3 vs 113.3 and then 103.3 vs
//   99.5, mathematics 81.7 vs 84.7 (noise either way). Leaving with `_exit`
//   once the output is committed: start-up 19.2 -> 18.6 ms.
// - Fresh memory is dear in this virtual machine: a Chinese run spends 4.3%
//   of its time (about 16 ms) in the kernel giving the piece cache's 16 MiB
//   their first pages (`do_huge_pmd_wp_page`, cleared 2 MiB at a time), about
//   1 ms a MiB. A 4 MiB cache saves most of it and loses as much to misses.
//   How dear depends on what ran before: writing one byte a page into a new
//   16 MiB took 39.7 ms in huge pages in one run (2.5 ms a MiB, the host
//   backing the memory again) and 1.4-3.3 ms in the runs right after; 4 KiB
//   pages 0.5-0.65 ms a MiB every time. In a 20 MB code run the piece cache's
//   first pages took 14-32% of the samples. This is most of the noise of the
//   peers benchmark; best-of figures pick the runs where memory came cheap.
// - Measured and not kept (`tok encode`, o200k, one core, best of 15-21
//   interleaved, MB/s): the piece cache as two 32-byte entries a line (pieces
//   of up to 16 bytes and 3 ids; longer ones take the whole line): at 16 MiB
//   it misses as the 32 MiB cache of one entry a line does (English 144,815
//   -> 132,346 misses on 20 MB, code 48,826 -> 46,909), but English 118.4 vs
//   121.4, code 142.5 vs 142.1; at 8 MiB 119.1 and 139.9. A hot tier again
//   (16,384 one-id pieces of up to 8 bytes in 16-byte entries, 256 KiB, in
//   front of the cache): code 139.8 vs 139.4, English 105.2 vs 101.5,
//   mathematics 79.2 vs 74.7. The cache at 16, 4 and 1 MiB with the tables
//   in one allocation: code 147.4, 145.8, 138.3. Where the code text's time
//   in `flush` goes: a quarter of it (a tenth of the run) on the piece
//   cache's lines, after the burst of prefetches and at the first read in
//   step 2; code has 48,826 misses in 20 MB, so the lines are hits from L3.
// - Blocks of 1 MiB on one thread instead of 4 MiB (`encodeStream`): a
//   block's text (read into a buffer that grew to 8 MiB around the tail of
//   the block before) and its ids (4-5 MB) were the largest buffers after
//   the tables. Minor faults on the 20 MB code text 4,778 -> 2,737. `tok
//   encode`, o200k, one core, best of 11 interleaved: code 136.8 -> 155.0
//   MB/s, English 110.2 -> 125.0; with 3 s idle before each run (best of 5):
//   code 134.6 -> 164.5, English 107.0 -> 126.3, Chinese 54.5 -> 56.5,
//   mathematics 74.1 -> 74.2. 512 and 256 KiB measured the same as 1 MiB.
// - The workers of a stream share one piece cache (``ScratchPool/sharedCache(for:)``,
//   a sequence lock per entry): with a cache each, every worker met each
//   piece once and paid its miss, and two caches were 32 MiB of fresh memory.
//   One core unchanged (code 154.2 vs 154.5 MB/s, English 119.0 vs 116.9).
//   Two cores, mixed text, best of 7 interleaved: cl100k 0.515 -> 0.478 s;
//   o200k 0.483 vs 0.486 s, then 0.526 vs 0.549 (noise). Two cores against
//   one, best of 9: o200k 1.87x, cl100k 1.74x, the built vocabulary 1.94x.
// - Where a small run's 19 ms go (o200k, 6-byte file, clock stamps): exec
//   to `main` 4.2 (2.4 of it the shell's fork and exec), argument parsing
//   2.0, the vocabulary 7.5 (opening 1.1, checksum 0.8, the pipeline's JSON
//   1.3, the copy into huge pages 3.5, the checks 1.3), the output file 1.1,
//   the process's exit 2.1. Replacing an existing 20 MB output costs the
//   file system 1-14 ms more (ext4 frees the old blocks at the rename).
//   With `tokenizer.bin` read whole into the tables' one allocation and the
//   checks as vector arithmetic (`BinaryFormat.swift`): 16.9-17.0 ms against
//   19.1-19.4 (best of 21, twice).
// - Start-up (`tok encode` of a 6-byte file, o200k, best of 15): 45 ms, then
//   29. `tokenizer.bin` (24 MB) is mapped with its pages populated instead of
//   read into an array zeroed first (45 -> 31); the large tables and the
//   piece cache come zeroed from `mmap`, so the cache is not cleared by hand
//   and a short run faults in only the pages it touches; a regular file is
//   read in blocks no larger than what is left of it (31 -> 29). On the 20 MB
//   code text, 93.6 -> 100.9 MB/s (best of 6). The scripts build with
//   `--static-swift-stdlib`: 28.5 -> 22.9 ms (no dynamic linking of the
//   runtime). What is left: the process and Foundation (a program that only
//   imports Foundation starts in 14.5 ms here, 6.6 without it), argument
//   parsing (~4 ms of Swift metadata lookups), the vocabulary (13 ms
//   in-process: mapping, checksum, the copy into huge pages, the checks).
// - A long piece's two lookups (the long-piece cache's slot and the
//   vocabulary's lookup slot, for a whole-piece token) are requested in the
//   batch's second step, with its hash kept for the third, as a short
//   piece's are: before, each Chinese clause waited on the 4 MiB lookup table
//   alone (80% of `encodePiece`'s 7.8% of a Chinese run). `tok encode`, one
//   core, best of 7 and 9 interleaved: Chinese cl100k 48.0 -> 55.3 and 50.4
//   -> 53.9 MB/s, o200k 55.6 -> 58.3 and 51.9 -> 53.2; English (o200k, best
//   of 5) 104.8 -> 109.3, the mixed text 94.2 -> 106.5; ids unchanged.
// - The pair filter is asked before the pair cache, not after: most pairs of
//   two Chinese characters do not merge and are all different, so the cache
//   missed on them and each miss wrote a line; now it holds only pairs the
//   filter lets through. `tok encode`, o200k, one core, best of 7
//   interleaved: Chinese 66.8 -> 70.6 MB/s, English 130.1 -> 132.7, code
//   151.0 -> 153.7, the mixed text 114.6 vs 113.2; cl100k Chinese 61.0 ->
//   62.4. Measured and not kept: a piece's first parts made 64 bytes at a
//   time in three passes (the character slots requested, then the parts made
//   and their pairs' lines requested, then the pairs read), so that the
//   loads of a pass overlap: Chinese cl100k 63.5 -> 58.8, o200k 65.8 ->
//   62.1 (best of 9); without the first pass 66.0 -> 61.5 and 65.7 -> 64.1.
// - A character token's slot carries a 32-bit filter of its right partners
//   (the tokens it merges with as a pair's left, ``BPETables/partnerBit(_:)``;
//   o200k's 4,730 character tokens set 2.4 of 32 bits on average), so a
//   first pair of two characters that do not merge is answered from the slot
//   just read, not from the pair filter (`tokenizer.bin` format 8). Chinese,
//   best of 9 interleaved, twice: o200k 72.4 -> 74.7 and 66.7 -> 68.3 MB/s,
//   cl100k 66.8 -> 67.8; the mixed text 118.3 vs 117.8.
// - Measured and not kept (session 11; `tok encode`, one core, MB/s):
//   the piece cache grown as it fills (an eighth of it at first, then twice
//   the pieces stored, a piece's entry its slot masked to the part in use,
//   so half keep theirs at each doubling; 8 of 16 MiB touched on 20 MB of
//   code): with 3 s idle before each run, best / median of 5, cl100k code
//   163.4 / 125.0 -> 166.3 / 150.9, but warm, best of 5, o200k English
//   131.4 -> 126.7, Chinese 72.1 -> 69.9, mixed 122.4 -> 120.0, and with the
//   peers run between (as the peers benchmark does), best of 6, cl100k code
//   172.6 -> 169.0, English 139.5 -> 135.2 (starting at a quarter: the
//   same). Three-byte characters taken a run at a time, decoded inline, in
//   the o200k and cl100k letter alternatives: Chinese o200k 74.7 vs 74.1,
//   cl100k 71.9 vs 72.7. The pair cache at 4,096 / 16,384 / 65,536 pairs
//   after the filter went first: o200k Chinese 62.6 / 64.1 / 64.0, English
//   123.2 / 127.7 / 128.5, mixed 111.6 / 110.5 / 116.0, then 121.1 vs 121.9
//   (16,384 vs 65,536) and cl100k 122.9 vs 118.6 (16,384 kept). Where a
//   20 MB code run goes when memory comes dear: a quarter of it in the
//   kernel clearing fresh pages (19% the piece cache's, 5% the tables').
// - Start-up, session 12 (`tok encode` of a 6-byte file, cl100k, clock
//   stamps: 12.7 ms, of which 4.0 before `main` with the shell's fork and
//   exec, argument parsing 1.8, reading and checking `tokenizer.bin` 2.8,
//   the pipeline's JSON and the pre-tokenizer 0.9, the structural checks
//   0.3, the piece cache's first page 0.4, the output 0.6, exit 0.7).
//   `tokenizer.bin`'s checksum in eight lanes (``TableChecksum``, format 9;
//   the fingerprint datasets record keeps ``Checksum``): best of 40
//   interleaved, twice, cl100k 12.92 -> 12.08 and 12.87 -> 12.00 ms, o200k
//   14.11 -> 12.99 and 14.13 -> 12.86. Output into `/tmp` (2,700 entries)
//   had cost 8 ms more: the listing for stale temporaries compared names
//   with the generic `firstRange(of:)`, 2 µs a name; C's `strstr` now.
// - A hit found in the batch's second step is served in the third from its
//   ids and one more read of its head (the sequence lock left open between
//   the steps, ``PieceCacheView/appendIfUnchanged(slot:head:into:)``), not
//   by comparing the piece's bytes again. `tok encode`, one core, best of 9
//   interleaved, MB/s: o200k code 155.8 -> 166.6, English 120.9 -> 129.4;
//   cl100k code 154.7 -> 160.7, mathematics 88.9 -> 91.8, Chinese 63.9 ->
//   64.7; the mixed text (o200k, best of 5) 109.8 -> 113.5. The hits
//   before a batch's first miss are served in the second step itself (no
//   miss needs its lookup requested ahead of them): best of 9 interleaved,
//   o200k code 159.6 -> 170.3, English 124.1 vs 124.0; cl100k code 165.1 ->
//   172.5, English 132.9 -> 135.7, Chinese 65.0 -> 66.9, mathematics 94.8
//   -> 96.3; the mixed text (o200k, best of 5) 124.9 -> 127.5.
//   Measured and not kept: each piece's cache line requested as the
//   pre-tokenizer adds it to the batch, not in a burst before the batch is
//   served (o200k code 156.8 -> 152.5, English 124.0 -> 116.7). Every
//   piece served in the second step, a miss waiting for its lookup alone,
//   when the batch before had at most two misses: code 169.4 vs 167.2,
//   English 123.9 vs 122.6, Chinese 65.9 vs 64.8. A piece cache sized to
//   the input (4 MiB for the 20 MB texts): with the peers run between, as
//   the peers benchmark does (best of 4), o200k code 151.8 -> 155.4 MB/s and
//   mathematics 90.9 -> 94.6, but Chinese 68.0 -> 63.4, English 115.5 ->
//   113.3, and the 101 MB mixed text at 4 MiB 101.2 against 112.0 (8 MiB
//   108.3): 16 MiB kept.
// - Measured and not kept (session 12): built for Haswell and later
//   (`-target-cpu haswell`, AVX2 and BMI), cl100k, best of 7: code 153.2 vs
//   159.4 MB/s, English 122.1 vs 123.8, Chinese 62.1 vs 60.9; not worth a
//   binary that stops on older processors. A cache of whole lines in front of
//   the piece cache (a line starting where every rule of the cl100k and
//   o200k families starts a piece whatever came before: after a newline,
//   at spaces or tabs then printable ASCII; lines of up to 128 bytes and 30
//   ids, 8,192 entries of 256 bytes, kept from their second sighting). Ids
//   identical, and 246k of the code text's 500k lines came from it (33% of
//   its bytes), but `tok encode`, cl100k, best of 5 interleaved: code 142.1
//   -> 119.1 MB/s, English 109.4 -> 92.3. The pieces of repeated lines are
//   the cheap ones (their cache lines are near the core): `flush` lost 8 ms
//   of 56 on code, while finding, hashing and looking up every line cost 18
//   ms, and the pre-tokenizer still ran over every byte.
/// A thread's working memory for encoding: the kernel's buffers, reused so
/// that encoding allocates nothing per piece, and the thread's own caches of
/// long pieces and of pair lookups. A scratch serves one thread at a time; a
/// copy is a scratch of its own (its arrays are copied when first written).
/// The short pieces' cache is the tokenizer's, shared by all threads
/// (``SharedPieceCache``).
public struct BytePairScratch: Sendable {
    @usableFromInline var ids = ContiguousArray<UInt32>()
    /// The scan's pair values (pieces up to `linearScanLimit` bytes).
    @usableFromInline var ranks = ContiguousArray<UInt64>(repeating: 0, count: BPETables.linearScanLimit)
    /// The tree's pair ranks and its inner nodes (`rank << 32 | part` of the winner).
    @usableFromInline var leafRanks = ContiguousArray<UInt32>()
    @usableFromInline var winners = ContiguousArray<UInt64>()
    /// Pieces of 33 to 1,024 bytes this thread has encoded.
    @usableFromInline var longPieces: LongPieceCache
    /// Pair lookups this thread's merges have made.
    @usableFromInline var pairs: PairCache

    /// - Parameter caching: whether this thread keeps its caches of long
    ///   pieces and of pair lookups (about 1.3 MiB, allocated at first use).
    ///   The ids do not depend on it; the speed does.
    public init(caching: Bool = true) {
        self.init(longPieceSlots: caching ? LongPieceCache.defaultSlots : 0,
                  pairEntries: caching ? PairCache.defaultEntries : 0)
    }

    /// A scratch whose thread caches have these sizes (0: off).
    init(longPieceSlots: Int, pairEntries: Int) {
        longPieces = LongPieceCache(slots: longPieceSlots)
        pairs = PairCache(entries: pairEntries)
    }

    /// The tree's buffers for pieces of this many bytes or more are the
    /// piece's own, not the scratch's (``BPETables/mergeByTree(_:scratch:into:)``).
    @usableFromInline static let keptBufferLimit = 1 << 20

    /// A buffer's length for `n` elements: a power of two below
    /// ``keptBufferLimit`` (so buffers are reused from piece to piece) and
    /// exact above it (a direct call of the scan on a longer piece).
    @inlinable
    static func bufferLength(_ n: Int) -> Int { n < keptBufferLimit ? max(n, 64).roundedUpToPowerOfTwo : n }

    /// Makes room for a piece of `n` bytes in `ids`.
    @inlinable
    mutating func reserve(_ n: Int) {
        if ids.count < n {
            ids = ContiguousArray(repeating: 0, count: BytePairScratch.bufferLength(n))
            leafRanks = []
            winners = []
        }
    }
}

extension Int {
    @usableFromInline var roundedUpToPowerOfTwo: Int {
        var p = 1
        while p < self { p <<= 1 }
        return p
    }
}

extension BPETables {
    /// Pieces up to this many bytes use the linear scan.
    @usableFromInline static let linearScanLimit = 128

    /// Appends the ids of `piece` (one or more bytes) by merges alone.
    ///
    /// - Complexity: O(n^2) worst case for n <= `linearScanLimit`, else
    ///   O(n (log n + L)) time for a longest token of L bytes; memory: at
    ///   most 12 bytes per byte, and for a piece of a MiB or more 12 bytes per
    ///   first part (a byte, or a character that enters whole: Han under
    ///   o200k has a part for every three bytes).
    @inlinable
    func mergeBytePairs(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        if piece.count == 1 {
            out.append(byteTokens[Int(piece[0])])
        } else if piece.count <= BPETables.linearScanLimit {
            mergeByScan(piece, scratch: &scratch, into: &out)
        } else {
            mergeByTree(piece, scratch: &scratch, into: &out)
        }
    }

    /// ``pair(_:_:)`` through `cache` when there is one (it must be this vocabulary's).
    @inlinable @inline(__always)
    func pair(_ left: UInt32, _ right: UInt32, _ cache: PairCacheView?) -> UInt64 {
        guard let cache else { return pair(left, right) }
        let key = UInt64(left) << 32 | UInt64(right)
        guard PairFilter.mayHold(key, words: pairFilter, shift: pairFilterShift) else { return UInt64.max }
        let e = cache.entry(for: key)
        if e[0] == key { return e[1] }
        let value = pairInTable(left, right)  // the filter has let it through
        e[0] = key
        e[1] = value
        return value
    }

    /// The pair's home slot in the pair table, where its probe starts.
    @inlinable @inline(__always)
    func pairHome(_ left: UInt32, _ right: UInt32) -> UnsafePointer<UInt64> {
        pairSlots + OpenAddressing.fibonacci(PackedPairs.key(left, right), shift: pairShift)  // < pair slots
    }

    /// Requests the lines a lookup of the pair will read: its pair-cache
    /// entry, its filter word and its home slot in the pair table.
    @inlinable @inline(__always)
    func prefetchPair(_ left: UInt32, _ right: UInt32, _ cache: PairCacheView?) {
        let key = UInt64(left) << 32 | UInt64(right)
        if let cache { tok_prefetch(cache.entry(for: key)) }
        tok_prefetch(pairFilter + Int(truncatingIfNeeded: PairFilter.hash(key) >> pairFilterShift))
        tok_prefetch(pairHome(left, right))
    }

    /// The pair's value if the pair cache holds it or the filter rules it
    /// out; else nil, and its slot in the pair table is requested from
    /// memory, for ``pair(_:_:_:)`` to read later.
    @inlinable @inline(__always)
    func pairIfNear(_ left: UInt32, _ right: UInt32, _ cache: PairCacheView?) -> UInt64? {
        let key = UInt64(left) << 32 | UInt64(right)
        guard PairFilter.mayHold(key, words: pairFilter, shift: pairFilterShift) else { return UInt64.max }
        if let cache, case let e = cache.entry(for: key), e[0] == key {
            return e[1]
        }
        tok_prefetch(pairHome(left, right))
        return nil
    }

    /// Calls `part(start, id, length, pairBefore)` for each of `piece`'s first
    /// parts in order: single bytes, or whole characters where
    /// ``characterToken(_:_:_:)`` allows (CharacterTokens.swift). `pairBefore`
    /// is the pair value of the part before and this one (`UInt64.max` for the
    /// first part); two single bytes take it from the byte-pair table. It is
    /// nil when only the pair table knows it (``pairIfNear(_:_:_:)``): its
    /// slot is on its way, so that looking several up after the walk
    /// overlaps their misses.
    @inlinable @inline(__always)
    func firstParts(
        _ piece: UnsafePointer<UInt8>, _ n: Int, pairCache: PairCacheView?,
        _ part: (_ start: Int, _ id: UInt32, _ length: Int, _ pairBefore: UInt64?) -> Void
    ) {
        var k = 0, previousId: UInt32 = 0, previousByte = -1  // the previous part's byte, when it is one byte
        // The right partners of the previous part when it is a whole character, else all ones.
        var previousPartners = UInt32.max
        while k < n {
            let b = piece[k]  // k < n
            var id = byteTokens[Int(b)], length = 1, partners = UInt32.max
            if b >= 0xC2 && characterMask >= 0, let whole = characterToken(piece, k, n) { (id, length, partners) = whole }
            let pairBefore = k == 0 ? UInt64.max
                : length == 1 && previousByte >= 0 ? bytePair(UInt8(previousByte), b)
                : previousPartners & BPETables.partnerBit(id) == 0 ? UInt64.max
                : pairIfNear(previousId, id, pairCache)
            part(k, id, length, pairBefore)
            previousId = id
            previousByte = length == 1 ? Int(b) : -1
            previousPartners = partners
            k += length
        }
    }

    @inlinable
    func mergeByScan(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let n = piece.count
        scratch.reserve(n)
        if scratch.ranks.count < n { scratch.ranks = ContiguousArray(repeating: 0, count: n) }  // a direct call on a long piece
        scratch.pairs.withView(for: self) { pairCache in
            scratch.ids.withUnsafeMutableBufferPointer { idsBuffer in
                scratch.ranks.withUnsafeMutableBufferPointer { ranksBuffer in
                    // reserve(n) made ids at least n long, and ranks is at least n long.
                    let ids = idsBuffer.baseAddress!, ranks = ranksBuffer.baseAddress!
                    var m = 0
                    var pending: UInt64 = 0  // bit j: the pair (ids[j], ids[j + 1]) is still to be read
                    firstParts(piece.baseAddress!, n, pairCache: pairCache) { _, id, _, pairBefore in
                        ids[m] = id  // m parts <= the bytes before this part < n
                        if m > 0 {
                            if let value = pairBefore {
                                ranks[m - 1] = value
                            } else if m - 1 < 64 {
                                pending |= 1 << UInt64(m - 1)
                            } else {  // a direct call on a piece longer than the scan's limit
                                ranks[m - 1] = pair(ids[m - 1], id, pairCache)
                            }
                        }
                        m += 1
                    }
                    while pending != 0 {
                        let j = pending.trailingZeroBitCount
                        pending &= pending - 1
                        ranks[j] = pair(ids[j], ids[j + 1], pairCache)
                    }
                    while m > 1 {
                        // ranks[k] = rank << 32 | result for the pair (ids[k], ids[k + 1]);
                        // comparing whole words compares ranks first, and `<` keeps the leftmost.
                        var best = 0
                        var bestValue = ranks[0]
                        var k = 1
                        while k < m - 1 {
                            if ranks[k] < bestValue {
                                bestValue = ranks[k]
                                best = k
                            }
                            k += 1
                        }
                        if bestValue == UInt64.max { break }
                        ids[best] = UInt32(truncatingIfNeeded: bestValue)
                        // Remove part best + 1 and the pair that started there.
                        k = best + 1
                        while k < m - 1 {
                            ids[k] = ids[k + 1]
                            ranks[k] = ranks[k + 1]  // k + 1 <= m - 1 < n: in the buffer, stale past m - 2
                            k += 1
                        }
                        m -= 1
                        // Both new pairs' lines are requested before either is read: a
                        // mispredicted branch in the first lookup would otherwise hold
                        // back the second's loads until the first's had arrived.
                        if best < m - 1 { prefetchPair(ids[best], ids[best + 1], pairCache) }
                        if best > 0 { prefetchPair(ids[best - 1], ids[best], pairCache) }
                        if best < m - 1 { ranks[best] = pair(ids[best], ids[best + 1], pairCache) }
                        if best > 0 { ranks[best - 1] = pair(ids[best - 1], ids[best], pairCache) }
                    }
                    out.append(contentsOf: UnsafeBufferPointer(start: ids, count: m))
                }
            }
        }
    }

    /// The long-piece path: a tournament tree over the piece's first parts
    /// (``firstParts(_:_:pairCache:_:)``) whose root is always the leftmost
    /// lowest-ranked live pair. A merge leaves its right part `dead`, so the
    /// live part after (or before) a part is the next live one in order and
    /// no links are stored. A leaf holds two parts' pairs, so per part there
    /// are 4 bytes of ids, 4 of pair ranks and 4 of inner nodes.
    ///
    /// Pieces of ``BytePairScratch/keptBufferLimit`` bytes or more get buffers
    /// of their own, given back when done: the scratch does not keep 12 bytes
    /// per byte of a piece met once, and the buffers' pages beyond the parts
    /// (two thirds of them for Han under o200k, whose characters enter whole)
    /// are never touched, so never take memory.
    @inlinable
    func mergeByTree(
        _ piece: UnsafeBufferPointer<UInt8>, scratch: inout BytePairScratch, into out: inout ContiguousArray<UInt32>
    ) {
        let n = piece.count
        let kept = n < BytePairScratch.keptBufferLimit
        if kept {
            scratch.reserve(n)
            if scratch.leafRanks.count <= n { scratch.leafRanks = ContiguousArray(repeating: 0, count: scratch.ids.count + 1) }
        }
        scratch.pairs.withView(for: self) { pairCache in
            guard kept else {
                // Written before they are read: parts and ranks by treeLeaves, nodes by mergeTree.
                let ids = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
                let rank = UnsafeMutablePointer<UInt32>.allocate(capacity: n + 1)
                defer {
                    ids.deallocate()
                    rank.deallocate()
                }
                let m = treeLeaves(piece, ids: ids, rank: rank, pairCache: pairCache)
                let node = UnsafeMutablePointer<UInt64>.allocate(capacity: BPETables.treeNodes(m))
                defer { node.deallocate() }
                return mergeTree(m, bytes: n, ids: ids, rank: rank, node: node, pairCache: pairCache, into: &out)
            }
            let m = scratch.ids.withUnsafeMutableBufferPointer { ids in
                scratch.leafRanks.withUnsafeMutableBufferPointer { rank in
                    treeLeaves(piece, ids: ids.baseAddress!, rank: rank.baseAddress!, pairCache: pairCache)  // n and n + 1 long at least
                }
            }
            if scratch.winners.count < BPETables.treeNodes(m) {
                scratch.winners = ContiguousArray(repeating: 0, count: BytePairScratch.bufferLength(BPETables.treeNodes(m)))
            }
            scratch.ids.withUnsafeMutableBufferPointer { ids in
                scratch.leafRanks.withUnsafeMutableBufferPointer { rank in
                    scratch.winners.withUnsafeMutableBufferPointer { node in
                        // Each is as long as treeLeaves and mergeTree need.
                        mergeTree(m, bytes: n, ids: ids.baseAddress!, rank: rank.baseAddress!, node: node.baseAddress!,
                                  pairCache: pairCache, into: &out)
                    }
                }
            }
        }
    }

    /// The tree's leaves for `m` parts (two parts' pairs a leaf), which is
    /// also how many inner nodes ``mergeTree(_:bytes:ids:rank:node:pairCache:into:)``
    /// needs room for (node 0 is unused).
    @inlinable
    static func treeNodes(_ m: Int) -> Int { (m + 1) / 2 }

    /// Writes `piece`'s first parts to `ids` and the rank of the pair each
    /// starts to `rank` (`UInt32.max`: none, for the last part and the one
    /// past it), with room for a part a byte (and one more rank), and
    /// returns how many parts there are.
    @inlinable
    func treeLeaves(
        _ piece: UnsafeBufferPointer<UInt8>, ids: UnsafeMutablePointer<UInt32>, rank: UnsafeMutablePointer<UInt32>,
        pairCache: PairCacheView?
    ) -> Int {
        var m = 0
        firstParts(piece.baseAddress!, piece.count, pairCache: pairCache) { _, id, _, pairBefore in
            ids[m] = id  // m parts <= the bytes before this part < n
            if m > 0 {
                let value = pairBefore ?? pair(ids[m - 1], id, pairCache)
                rank[m - 1] = UInt32(truncatingIfNeeded: value >> 32)
            }
            m += 1
        }
        rank[m - 1] = UInt32.max
        rank[m] = UInt32.max  // m <= n: the one more
        return m
    }

    /// Merges the `m` parts of a piece of `bytes` bytes in `ids` (their
    /// pairs' ranks in `rank`, `m + 1` of them) with the tree's inner nodes in
    /// `node` (room for ``treeNodes(_:)``), and appends the ids left.
    @inlinable
    func mergeTree(
        _ m: Int, bytes: Int, ids: UnsafeMutablePointer<UInt32>, rank: UnsafeMutablePointer<UInt32>,
        node: UnsafeMutablePointer<UInt64>, pairCache: PairCacheView?, into out: inout ContiguousArray<UInt32>
    ) {
        guard m > 1 else { return out.append(ids[0]) }
        let dead = UInt32.max, none = UInt32.max
        // The live part after live part k: a token's length further on when
        // every part is a byte (ASCII), else past the parts merged into k.
        let partsAreBytes = m == bytes
        @inline(__always) func next(_ k: Int) -> Int {
            if partsAreBytes { return k + tokenLength(ids[k]) }
            var j = k + 1
            while j < m && ids[j] == dead { j += 1 }
            return j
        }
        // Leaf g (node leaves + g) is the better of the pairs starting at parts
        // 2g and 2g + 1 (< m + 1: rank has one more); inner nodes are 1 ..< leaves.
        // A value is `rank << 32 | part`: comparing values compares ranks,
        // then positions, so the minimum is the leftmost lowest rank.
        let leaves = BPETables.treeNodes(m)
        @inline(__always) func value(_ i: Int) -> UInt64 {
            guard i >= leaves else { return node[i] }
            let k = 2 * (i - leaves)
            return min(UInt64(rank[k]) << 32 | UInt64(k), UInt64(rank[k + 1]) << 32 | UInt64(k + 1))
        }
        var i = leaves - 1
        while i >= 1 {
            node[i] = min(value(2 * i), value(2 * i + 1))
            i -= 1
        }
        @inline(__always) func set(_ k: Int, _ r: UInt32) {
            rank[k] = r
            var i = (leaves + k >> 1) >> 1
            while i >= 1 {
                let v = min(value(2 * i), value(2 * i + 1))
                if node[i] == v { break }  // unchanged here, so unchanged above
                node[i] = v
                i >>= 1
            }
        }
        @inline(__always) func pairRank(_ left: Int, _ right: Int) -> UInt32 {
            UInt32(truncatingIfNeeded: pair(ids[left], ids[right], pairCache) >> 32)
        }
        while true {
            let top = leaves > 1 ? node[1] : value(1)  // one leaf: it is the root
            guard top >> 32 != UInt64(none) else { break }
            let pos = Int(top & 0xFFFF_FFFF)
            // The live parts after pos and after that one (a pair's right part
            // is live, so right < m).
            let right = next(pos), after = next(right)
            // A ranks vocabulary's merge makes the token of id `rank`: no lookup.
            ids[pos] = resultIsRank ? UInt32(truncatingIfNeeded: top >> 32)
                : UInt32(truncatingIfNeeded: pair(ids[pos], ids[right], pairCache))
            ids[right] = dead
            // The part before: back over the parts merged into it.
            var before = pos - 1
            while before >= 0 && ids[before] == dead { before -= 1 }
            // Both new pairs' lines first, as in the scan.
            if after < m { prefetchPair(ids[pos], ids[after], pairCache) }
            if before >= 0 { prefetchPair(ids[before], ids[pos], pairCache) }
            set(right, none)
            set(pos, after < m ? pairRank(pos, after) : none)
            if before >= 0 { set(before, pairRank(before, pos)) }
        }
        for k in 0 ..< m where ids[k] != dead { out.append(ids[k]) }
    }
}
