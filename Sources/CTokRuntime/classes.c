#include "CTokRuntime.h"

// The pre-tokenizer's byte classes 64 bytes at a time with AVX-512BW, where
// the CPU has it (`tok_wide_classes`, cpu.c).

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw")))
void tok_classify64_wide(const uint8_t *_Nonnull p, tok_ascii_classes *_Nonnull c) {
    __m512i v = _mm512_loadu_si512((const void *)p);
    // v - first < count (unsigned): the bytes in [first, first + count).
#define TOK_RANGE(first, count) _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8((char)(first))), \
                                                       _mm512_set1_epi8((char)(count)))
#define TOK_EQUAL(b) _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8((char)(b)))
    c->high = _mm512_movepi8_mask(v);
    c->upper = TOK_RANGE('A', 26);
    c->lower = TOK_RANGE('a', 26);
    c->digit = TOK_RANGE('0', 10);
    c->space = TOK_EQUAL(' ');
    c->otherSpace = TOK_EQUAL('\t') | TOK_EQUAL('\v') | TOK_EQUAL('\f');
    c->newline = TOK_EQUAL('\n') | TOK_EQUAL('\r');
    c->apostrophe = TOK_EQUAL('\'');
    c->slash = TOK_EQUAL('/');
#undef TOK_RANGE
#undef TOK_EQUAL
}
#else
void tok_classify64_wide(const uint8_t *_Nonnull p, tok_ascii_classes *_Nonnull c) { tok_classify64_narrow(p, c); }
#endif
