#include "CTokRuntime.h"

#include <string.h>

// UTF-8 validation sixteen bytes a step: the lookup algorithm of Keiser and
// Lemire ("Validating UTF-8 in less than one instruction per byte", 2021).
// Three table lookups (`pshufb`) classify each byte pair by the high nibble
// of the first byte, its low nibble and the high nibble of the second; the
// bits left set name an error. Bytes that must be the second or third
// continuation of a three- or four-byte sequence are checked apart.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

enum {
    TOO_SHORT = 1 << 0,   // a lead or ASCII byte followed by a lead byte
    TOO_LONG = 1 << 1,    // ASCII followed by a continuation
    OVERLONG_3 = 1 << 2,  // E0 80..9F
    TOO_LARGE = 1 << 3,   // F4 90..BF, F5..FF
    SURROGATE = 1 << 4,   // ED A0..BF
    OVERLONG_2 = 1 << 5,  // C0, C1
    TOO_LARGE_1000 = 1 << 6,
    OVERLONG_4 = 1 << 6,  // F0 80..8F
    TWO_CONTS = 1 << 7,   // a continuation followed by a continuation
    CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS,
};

__attribute__((target("ssse3")))
static int utf8_valid_ssse3(const uint8_t *p, size_t n) {
    const __m128i byte1High = _mm_setr_epi8(
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
        TOO_SHORT | OVERLONG_2, TOO_SHORT, TOO_SHORT | OVERLONG_3 | SURROGATE,
        TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4);
    const __m128i byte1Low = _mm_setr_epi8(
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,
        CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000);
    const __m128i byte2High = _mm_setr_epi8(
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT);
    const __m128i nibble = _mm_set1_epi8(0x0F);
    __m128i previous = _mm_setzero_si128(), error = _mm_setzero_si128();
    size_t i = 0;
    for (; i < n; i += 16) {
        __m128i input;
        if (i + 16 <= n) {
            input = _mm_loadu_si128((const __m128i *)(p + i));
        } else {
            // The last partial block, padded with ASCII zeros (which end any
            // sequence: one cut short is an error, as it should be).
            uint8_t tail[16] = {0};
            memcpy(tail, p + i, n - i);
            input = _mm_loadu_si128((const __m128i *)tail);
        }
        if (_mm_movemask_epi8(input) == 0 && _mm_movemask_epi8(previous) == 0) {
            // All ASCII after a block that ends in ASCII: nothing can be wrong.
            previous = input;
            continue;
        }
        __m128i prev1 = _mm_alignr_epi8(input, previous, 15);
        __m128i special = _mm_and_si128(
            _mm_and_si128(_mm_shuffle_epi8(byte1High, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble)),
                          _mm_shuffle_epi8(byte1Low, _mm_and_si128(prev1, nibble))),
            _mm_shuffle_epi8(byte2High, _mm_and_si128(_mm_srli_epi16(input, 4), nibble)));
        __m128i prev2 = _mm_alignr_epi8(input, previous, 14);
        __m128i prev3 = _mm_alignr_epi8(input, previous, 13);
        // High bit set where the byte two back is E0 or more, or three back F0 or more:
        // this byte must be a continuation.
        __m128i must23 = _mm_or_si128(_mm_subs_epu8(prev2, _mm_set1_epi8((char)(0xE0 - 0x80))),
                                      _mm_subs_epu8(prev3, _mm_set1_epi8((char)(0xF0 - 0x80))));
        __m128i must23As80 = _mm_and_si128(must23, _mm_set1_epi8((char)0x80));
        error = _mm_or_si128(error, _mm_xor_si128(must23As80, special));
        previous = input;
    }
    // A sequence cut short by the end of the buffer (a full last block: the padding caught the others).
    if (n % 16 == 0 && n > 0) {
        __m128i incomplete = _mm_subs_epu8(previous, _mm_setr_epi8(
            (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF,
            (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)0xFF, (char)(0xF0 - 1), (char)(0xE0 - 1),
            (char)(0xC0 - 1)));
        error = _mm_or_si128(error, incomplete);
    }
    return _mm_movemask_epi8(_mm_cmpeq_epi8(error, _mm_setzero_si128())) == 0xFFFF;
}
#endif

int32_t tok_utf8_valid(const uint8_t *p, size_t n) {
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("ssse3")) return utf8_valid_ssse3(p, n);
#endif
    (void)p;
    (void)n;
    return -1;
}

// Code points to UTF-8: sixteen ASCII code points a step with SSE2 (one
// compare and one mask per sixteen, then packed to bytes), eight without (a
// 64-bit test per eight units of one byte, four of two, two of four), and
// any other code point one at a time.
static inline ptrdiff_t utf8_put(uint32_t c, uint8_t *out) {
    if (c < 0x80) {
        out[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (uint8_t)(0xC0 | (c >> 6));
        out[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        if (c >= 0xD800 && c <= 0xDFFF) return -1;
        out[0] = (uint8_t)(0xE0 | (c >> 12));
        out[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (c >> 18));
    out[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

#if defined(__SSE2__)
// Sixteen code points at `u` (all readable) written as sixteen bytes when all are ASCII; 0 when not.
static inline int ascii16_width1(const uint8_t *u, uint8_t *o) {
    __m128i v = _mm_loadu_si128((const __m128i *)u);
    if (_mm_movemask_epi8(v) != 0) return 0;
    _mm_storeu_si128((__m128i *)o, v);
    return 1;
}
static inline int ascii16_width2(const uint16_t *u, uint8_t *o) {
    __m128i a = _mm_loadu_si128((const __m128i *)u), b = _mm_loadu_si128((const __m128i *)(u + 8));
    __m128i high = _mm_and_si128(_mm_or_si128(a, b), _mm_set1_epi16((short)0xFF80));
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(high, _mm_setzero_si128())) != 0xFFFF) return 0;
    _mm_storeu_si128((__m128i *)o, _mm_packus_epi16(a, b));
    return 1;
}
static inline int ascii16_width4(const uint32_t *u, uint8_t *o) {
    __m128i a = _mm_loadu_si128((const __m128i *)u), b = _mm_loadu_si128((const __m128i *)(u + 4));
    __m128i c = _mm_loadu_si128((const __m128i *)(u + 8)), d = _mm_loadu_si128((const __m128i *)(u + 12));
    __m128i high = _mm_and_si128(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)), _mm_set1_epi32((int)0xFFFFFF80));
    if (_mm_movemask_epi8(_mm_cmpeq_epi32(high, _mm_setzero_si128())) != 0xFFFF) return 0;
    // Below 0x80, so the signed saturating packs keep every value.
    _mm_storeu_si128((__m128i *)o, _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
    return 1;
}
#define TOK_ASCII16(WIDTH)                                                           \
    if (i + 16 <= count && ascii16_width##WIDTH(u + i, o)) {                         \
        o += 16;                                                                     \
        i += 16;                                                                     \
        continue;                                                                    \
    }
#else
#define TOK_ASCII16(WIDTH)
#endif

#define TOK_UTF8_FROM(TYPE, WIDTH, ASCII_MASK, PACK)                                 \
    const TYPE *u = (const TYPE *)units;                                             \
    size_t i = 0;                                                                    \
    while (i < count) {                                                              \
        TOK_ASCII16(WIDTH)                                                           \
        if (i + 8 <= count) {                                                        \
            uint64_t w[8 * sizeof(TYPE) / 8];                                        \
            memcpy(w, u + i, sizeof w);                                              \
            uint64_t any = 0;                                                        \
            for (size_t k = 0; k < sizeof w / 8; k++) any |= w[k];                   \
            if ((any & (ASCII_MASK)) == 0) {                                         \
                PACK;                                                                \
                o += 8;                                                              \
                i += 8;                                                              \
                continue;                                                            \
            }                                                                        \
        }                                                                            \
        ptrdiff_t n = utf8_put((uint32_t)u[i], o);                                   \
        if (n < 0) return -1;                                                        \
        o += n;                                                                      \
        i += 1;                                                                      \
    }

#if defined(__x86_64__)
// Where AVX-512 VBMI2 is there (Ice Lake, Zen 4), sixteen code points of the
// Basic Multilingual Plane a step, whatever their mix of one, two and three
// UTF-8 bytes: each lane's bytes built in place, then the bytes kept packed
// together (`vpcompressb`, with the lanes' byte masks spread by `pdep`).
// Chinese text under CPython is 2 or 4 bytes a code point with ASCII, Han and
// punctuation interleaved, so runs of one kind are short: one at a time, its
// conversion took 7% of a call through Python. Only where `tok_wide_utf8` (cpu.c).

__attribute__((target("avx512f,avx512bw,avx512vbmi2,bmi2")))
static ptrdiff_t utf8_from_code_points_wide(const void *units, int32_t width, size_t count, uint8_t *out) {
    const __m512i threeByteFloor = _mm512_set1_epi32(0x800), twoByteFloor = _mm512_set1_epi32(0x80);
    const __m512i six = _mm512_set1_epi32(0x3F);
    uint8_t *o = out;
    size_t i = 0;
    while (i < count) {
        if (i + 16 <= count) {
            __m512i x = width == 2 ? _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)units + i)))
                                   : _mm512_loadu_si512((const uint32_t *)units + i);
            __mmask16 astral = _mm512_cmpge_epu32_mask(x, _mm512_set1_epi32(0x10000));
            __mmask16 surrogate = _mm512_cmpeq_epi32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0xFFFFF800)),
                                                          _mm512_set1_epi32(0xD800));
            // The lanes before the first astral code point or surrogate (which
            // goes one at a time), so that emoji-heavy text is not checked again
            // sixteen at a time from each code point. The common case's step is
            // a constant behind a branch: a step computed from the compare would
            // make each block's load wait for the block before (Chinese 3.3 -> 6.3 ms).
            __mmask16 bad = astral | surrogate;
            int lanes = bad == 0 ? 16 : __builtin_ctz((unsigned)bad);
            if (lanes > 0) {
                __mmask16 two = _mm512_cmpge_epu32_mask(x, twoByteFloor);
                __mmask16 three = _mm512_cmpge_epu32_mask(x, threeByteFloor);
                // Lane bytes, lowest first: x; 0xC0 | x >> 6, 0x80 | x & 0x3F;
                // 0xE0 | x >> 12, 0x80 | x >> 6 & 0x3F, 0x80 | x & 0x3F.
                __m512i low6 = _mm512_or_si512(_mm512_and_si512(x, six), twoByteFloor);
                __m512i w2 = _mm512_or_si512(_mm512_or_si512(_mm512_srli_epi32(x, 6), _mm512_set1_epi32(0xC0)),
                                             _mm512_slli_epi32(low6, 8));
                __m512i mid6 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(x, 6), six), twoByteFloor);
                __m512i w3 = _mm512_or_si512(_mm512_or_si512(_mm512_srli_epi32(x, 12), _mm512_set1_epi32(0xE0)),
                                             _mm512_or_si512(_mm512_slli_epi32(mid6, 8), _mm512_slli_epi32(low6, 16)));
                __m512i w = _mm512_mask_blend_epi32(three, _mm512_mask_blend_epi32(two, x, w2), w3);
                uint64_t keep = 0x1111111111111111ull | _pdep_u64(two, 0x2222222222222222ull)
                    | _pdep_u64(three, 0x4444444444444444ull);
                if (bad == 0) {
                    int n = __builtin_popcountll(keep);  // 16 to 48: the output has room for 48 (16 code points left)
                    _mm512_mask_storeu_epi8(o, (1ull << n) - 1, _mm512_maskz_compress_epi8(keep, w));
                    o += n;
                    i += 16;
                    continue;
                }
                keep &= (1ull << (4 * lanes)) - 1;  // the bytes of lanes 0 ..< lanes
                int n = __builtin_popcountll(keep);
                _mm512_mask_storeu_epi8(o, (1ull << n) - 1, _mm512_maskz_compress_epi8(keep, w));
                o += n;
                i += (size_t)lanes;
                continue;
            }
        }
        uint32_t c = width == 2 ? ((const uint16_t *)units)[i] : ((const uint32_t *)units)[i];
        ptrdiff_t n = utf8_put(c, o);
        if (n < 0) return -1;
        o += n;
        i += 1;
    }
    return o - out;
}
#endif

ptrdiff_t tok_utf8_from_code_points(const void *units, int32_t width, size_t count, uint8_t *out) {
#if defined(__x86_64__)
    if (width != 1 && tok_wide_utf8) return utf8_from_code_points_wide(units, width, count, out);
#endif
    return tok_utf8_from_code_points_narrow(units, width, count, out);
}

ptrdiff_t tok_utf8_from_code_points_narrow(const void *units, int32_t width, size_t count, uint8_t *out) {
    uint8_t *o = out;
    switch (width) {
    case 1: {
        TOK_UTF8_FROM(uint8_t, 1, 0x8080808080808080ull, memcpy(o, w, 8))
        break;
    }
    case 2: {
        TOK_UTF8_FROM(uint16_t, 2, 0xFF80FF80FF80FF80ull,
                      for (int k = 0; k < 8; k++) o[k] = (uint8_t)(w[k >> 2] >> (16 * (k & 3))))
        break;
    }
    default: {
        TOK_UTF8_FROM(uint32_t, 4, 0xFFFFFF80FFFFFF80ull,
                      for (int k = 0; k < 8; k++) o[k] = (uint8_t)(w[k >> 1] >> (32 * (k & 1))))
        break;
    }
    }
    return o - out;
}
