#ifndef CTOKRUNTIME_H
#define CTOKRUNTIME_H

// What Swift cannot say directly or fast enough, for the package's own use:
// atomics on a shared word, a prefetch hint, SSE2 byte classes, the platform's
// O_DIRECT flag, a vector UTF-8 check, and the pre-tokenizers' table of Unicode
// classes. Nothing here depends on ICU.

#include <stddef.h>
#include <stdint.h>

/// 1 when the `n` bytes at `p` are valid UTF-8, 0 when they are not, -1 when
/// this CPU has no fast check (the caller decides byte by byte).
int32_t tok_utf8_valid(const uint8_t *p, size_t n);

/// Writes the UTF-8 of the `count` code points of `width` bytes each (1, 2 or
/// 4, native order: how CPython stores a `str`) at `units` to `out`, which has
/// room for `count * (width == 1 ? 2 : width + 1)` bytes. Returns the bytes
/// written, or -1 at a surrogate code point (U+D800-DFFF), which UTF-8 cannot hold.
ptrdiff_t tok_utf8_from_code_points(const void *_Nonnull units, int32_t width, size_t count, uint8_t *_Nonnull out);

/// ``tok_utf8_from_code_points`` without AVX-512 (what it does on CPUs
/// without AVX-512 VBMI2).
ptrdiff_t tok_utf8_from_code_points_narrow(const void *_Nonnull units, int32_t width, size_t count, uint8_t *_Nonnull out);
/// Nonzero when this CPU converts code points sixteen at a time (AVX-512 VBMI2 and BMI2), set at load (cpu.c).
extern int tok_wide_utf8;
/// `tok_wide_utf8`, for Swift.
static inline int tok_utf8_from_code_points_is_wide(void) { return tok_wide_utf8; }

/// The class of every code point as the pre-tokenizers see it (0x110000
/// bytes): the general category, numbered as ICU's `UCharCategory` (0 for an
/// unassigned code point), with bit 7 set for the White_Space property. It is
/// Unicode 16.0.0's, the version of the regex engines whose ids tok matches
/// (tiktoken's and tokenizers'), shipped with tok rather than taken from the
/// machine's ICU, whose version varies by system: the same text is cut the
/// same way everywhere. Valid once `tok_ensure_unicode_classes` has returned.
/// A plain C global: Swift reads it without the lazy-initialization check a
/// Swift global costs on every access.
extern const uint8_t *_Nonnull const tok_unicode_classes;
/// Fills `tok_unicode_classes` once per process; cheap after the first call.
void tok_ensure_unicode_classes(void);
/// The Unicode version of the table, as "16.0.0".
const char *_Nonnull tok_unicode_version(void);

/// Atomic access to one word of memory that threads share without a lock
/// (the piece cache's entries: a sequence number in each entry's head word
/// tells a reader whether the words it read belong together).
static inline uint64_t tok_load_acquire(const uint64_t *_Nonnull p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint64_t tok_load_relaxed(const uint64_t *_Nonnull p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void tok_store_relaxed(uint64_t *_Nonnull p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline void tok_store_release(uint64_t *_Nonnull p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
/// Replaces `*p` by `desired` if it is `expected`; 1 when it did.
static inline int tok_compare_exchange(uint64_t *_Nonnull p, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
/// Orders the loads before it before the loads after it.
static inline void tok_fence_acquire(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
/// Orders the stores after it after the loads and stores before it (a sequence
/// lock's writer: the odd head is seen before any word it then writes).
static inline void tok_fence_release(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }

/// Asks the CPU to bring in the cache line at `p` ahead of a read; changes no result.
static inline void tok_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// The byte classes a pre-tokenizer of the o200k and cl100k families decides
/// ASCII text by, for 64 bytes at once: bit k of each mask is byte k.
typedef struct {
    uint64_t high;        // 0x80 and above (not ASCII)
    uint64_t upper;       // A-Z
    uint64_t lower;       // a-z
    uint64_t digit;       // 0-9
    uint64_t space;       // ' '
    uint64_t otherSpace;  // \t \v \f
    uint64_t newline;     // \n \r
    uint64_t apostrophe;  // '
    uint64_t slash;       // /
} tok_ascii_classes;

#if defined(__SSE2__)
#include <emmintrin.h>
/// Bytes whose value is in [first, first + count): a signed compare after moving the range to the bottom.
static inline int tok_in_range16(__m128i v, uint8_t first, uint8_t count) {
    __m128i moved = _mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - first)));
    return _mm_movemask_epi8(_mm_cmplt_epi8(moved, _mm_set1_epi8((char)(0x80 + count))));
}
static inline int tok_equal16(__m128i v, uint8_t b) {
    return _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)b)));
}
#endif

/// Nonzero when this CPU classifies 64 bytes in one step (AVX-512BW), set at load (cpu.c).
extern int tok_wide_classes;
/// `tok_wide_classes`, for Swift (which may not read a C global another thread could write).
static inline int tok_classes_are_wide(void) { return tok_wide_classes; }

/// ``tok_classify64`` with AVX-512BW: one load and a compare into a mask per
/// class, about a tenth of SSE2's instructions. Only where `tok_wide_classes`.
void tok_classify64_wide(const uint8_t *_Nonnull p, tok_ascii_classes *_Nonnull c);

/// ``tok_classify64`` sixteen bytes a step with SSE2 (one compare and one mask
/// extraction per class), else a byte at a time.
static inline void tok_classify64_narrow(const uint8_t *_Nonnull p, tok_ascii_classes *_Nonnull c) {
    uint64_t high = 0, upper = 0, lower = 0, digit = 0, space = 0, other = 0, newline = 0, apostrophe = 0, slash = 0;
#if defined(__SSE2__)
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        int shift = 16 * k;
        high |= (uint64_t)(uint32_t)_mm_movemask_epi8(v) << shift;
        upper |= (uint64_t)(uint32_t)tok_in_range16(v, 'A', 26) << shift;
        lower |= (uint64_t)(uint32_t)tok_in_range16(v, 'a', 26) << shift;
        digit |= (uint64_t)(uint32_t)tok_in_range16(v, '0', 10) << shift;
        space |= (uint64_t)(uint32_t)tok_equal16(v, ' ') << shift;
        other |= (uint64_t)(uint32_t)(tok_equal16(v, '\t') | tok_equal16(v, '\v') | tok_equal16(v, '\f')) << shift;
        newline |= (uint64_t)(uint32_t)(tok_equal16(v, '\n') | tok_equal16(v, '\r')) << shift;
        apostrophe |= (uint64_t)(uint32_t)tok_equal16(v, '\'') << shift;
        slash |= (uint64_t)(uint32_t)tok_equal16(v, '/') << shift;
    }
#else
    for (int k = 0; k < 64; k++) {
        uint8_t b = p[k];
        uint64_t bit = (uint64_t)1 << k;
        if (b >= 0x80) high |= bit;
        else if (b >= 'A' && b <= 'Z') upper |= bit;
        else if (b >= 'a' && b <= 'z') lower |= bit;
        else if (b >= '0' && b <= '9') digit |= bit;
        else if (b == ' ') space |= bit;
        else if (b == '\t' || b == '\v' || b == '\f') other |= bit;
        else if (b == '\n' || b == '\r') newline |= bit;
        else if (b == '\'') apostrophe |= bit;
        else if (b == '/') slash |= bit;
    }
#endif
    c->high = high; c->upper = upper; c->lower = lower; c->digit = digit; c->space = space;
    c->otherSpace = other; c->newline = newline; c->apostrophe = apostrophe; c->slash = slash;
}

/// Classifies the 64 bytes at `p` (all readable): in one step where the CPU
/// can (the pre-tokenizer's windows spent more on the four SSE2 steps than on
/// deciding their pieces), else sixteen bytes a step.
static inline void tok_classify64(const uint8_t *_Nonnull p, tok_ascii_classes *_Nonnull c) {
    if (tok_wide_classes) {
        tok_classify64_wide(p, c);
    } else {
        tok_classify64_narrow(p, c);
    }
}

/// Bit k set when byte k of the 16 at `p` (all readable) may end a superword
/// piece: \n \r . ! ? and the lead bytes of 。！？ (E3, EF).
static inline uint32_t tok_superword_stops16(const uint8_t *_Nonnull p) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return (uint32_t)(tok_equal16(v, '\n') | tok_equal16(v, '\r') | tok_equal16(v, '.') | tok_equal16(v, '!')
                      | tok_equal16(v, '?') | tok_equal16(v, 0xE3) | tok_equal16(v, 0xEF));
#else
    uint32_t mask = 0;
    for (int k = 0; k < 16; k++) {
        uint8_t b = p[k];
        if (b == '\n' || b == '\r' || b == '.' || b == '!' || b == '?' || b == 0xE3 || b == 0xEF) mask |= 1u << k;
    }
    return mask;
#endif
}

/// The platform's `O_DIRECT` open flag (hidden from Swift behind _GNU_SOURCE), 0 where there is none.
#if defined(__linux__)
#if defined(__x86_64__) || defined(__i386__)
static const int tok_o_direct = 040000;
#elif defined(__aarch64__) || defined(__arm__)
static const int tok_o_direct = 0200000;
#else
static const int tok_o_direct = 0;
#endif
#else
static const int tok_o_direct = 0;
#endif

#endif
