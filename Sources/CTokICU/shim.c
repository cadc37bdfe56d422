#include "CTokICU.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

static UChar *to_utf16(const uint8_t *utf8, int32_t length, int32_t *outLength) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t needed = 0;
    u_strFromUTF8(NULL, 0, &needed, (const char *)utf8, length, &status);
    if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) return NULL;
    status = U_ZERO_ERROR;
    UChar *buffer = malloc(sizeof(UChar) * (size_t)(needed + 1));
    if (!buffer) return NULL;
    u_strFromUTF8(buffer, needed + 1, outLength, (const char *)utf8, length, &status);
    if (U_FAILURE(status)) { free(buffer); return NULL; }
    return buffer;
}

int32_t tok_icu_is_nfc(const uint8_t *utf8, int32_t length) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2 *nfc = unorm2_getNFCInstance(&status);
    if (U_FAILURE(status)) return 0;
    int32_t n16 = 0;
    UChar *s16 = to_utf16(utf8, length, &n16);
    if (!s16) return 0;
    UBool yes = unorm2_isNormalized(nfc, s16, n16, &status);
    free(s16);
    return U_SUCCESS(status) && yes ? 1 : 0;
}

#include <unicode/uscript.h>

int32_t tok_icu_script_class(uint32_t cp) {
    UErrorCode status = U_ZERO_ERROR;
    UScriptCode s = uscript_getScript((UChar32)cp, &status);
    if (U_FAILURE(status)) return 0;
    switch (s) {
    case USCRIPT_LATIN: return 1;
    case USCRIPT_HAN: return 2;
    case USCRIPT_HIRAGANA: case USCRIPT_KATAKANA: case USCRIPT_KATAKANA_OR_HIRAGANA: return 3;
    case USCRIPT_HANGUL: return 4;
    case USCRIPT_ARABIC: return 5;
    case USCRIPT_COMMON: case USCRIPT_INHERITED: return 6;
    default: return 0;
    }
}

int32_t tok_icu_piece_script(uint32_t cp) {
    if (u_charType((UChar32)cp) == U_DECIMAL_DIGIT_NUMBER) return -1;
    if (cp == 0x30FC) return USCRIPT_HAN;
    UErrorCode status = U_ZERO_ERROR;
    UScriptCode s = uscript_getScript((UChar32)cp, &status);
    if (U_FAILURE(status)) return USCRIPT_COMMON;
    switch (s) {
    case USCRIPT_HIRAGANA: case USCRIPT_KATAKANA: case USCRIPT_KATAKANA_OR_HIRAGANA: return USCRIPT_HAN;
    case USCRIPT_INHERITED: return -2;
    default: return (int32_t)s;
    }
}

// MARK: Properties and case folding for compiled split patterns

int32_t tok_icu_fold_case(uint32_t cp) { return (int32_t)u_foldCase((UChar32)cp, U_FOLD_CASE_DEFAULT); }

int32_t tok_icu_full_fold(uint32_t cp, uint32_t *out, int32_t capacity) {
    UChar src[2], dst[8];
    int32_t n = 0;
    UBool error = 0;
    U16_APPEND((UChar *)src, n, 2, (UChar32)cp, error);
    if (error) return 0;
    UErrorCode status = U_ZERO_ERROR;
    int32_t m = u_strFoldCase(dst, 8, src, n, U_FOLD_CASE_DEFAULT, &status);
    if (U_FAILURE(status)) return 0;
    int32_t k = 0;
    for (int32_t i = 0; i < m && k < capacity;) {
        UChar32 c;
        U16_NEXT(dst, i, m, c);
        out[k++] = (uint32_t)c;
    }
    return k;
}

int32_t tok_icu_property_kind(const char *name, int32_t *value) {
    int32_t v = u_getPropertyValueEnum(UCHAR_GENERAL_CATEGORY_MASK, name);
    if (v != UCHAR_INVALID_CODE) { *value = v; return 1; }
    v = u_getPropertyValueEnum(UCHAR_SCRIPT, name);
    if (v != UCHAR_INVALID_CODE) { *value = v; return 2; }
    UProperty p = u_getPropertyEnum(name);
    if (p >= UCHAR_BINARY_START && p < UCHAR_BINARY_LIMIT) { *value = (int32_t)p; return 3; }
    return 0;
}

int32_t tok_icu_has_property(int32_t kind, int32_t value, uint32_t cp) {
    switch (kind) {
    case 2: {
        UErrorCode status = U_ZERO_ERROR;
        return uscript_getScript((UChar32)cp, &status) == (UScriptCode)value ? 1 : 0;
    }
    case 3: return u_hasBinaryProperty((UChar32)cp, (UProperty)value) ? 1 : 0;
    default: return 0;
    }
}

static int32_t normalize_with(const UNormalizer2 *norm, const uint8_t *utf8, int32_t length, uint8_t *out, int32_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t n16 = 0;
    UChar *s16 = to_utf16(utf8, length, &n16);
    if (!s16) return INT32_MIN;
    int32_t cap16 = n16 * 18 + 16;
    UChar *d16 = malloc(sizeof(UChar) * (size_t)cap16);
    if (!d16) { free(s16); return INT32_MIN; }
    int32_t m16 = unorm2_normalize(norm, s16, n16, d16, cap16, &status);
    free(s16);
    if (U_FAILURE(status)) { free(d16); return INT32_MIN; }
    int32_t written = 0;
    u_strToUTF8((char *)out, capacity, &written, d16, m16, &status);
    free(d16);
    if (status == U_BUFFER_OVERFLOW_ERROR || written > capacity) return -written;
    if (U_FAILURE(status) && status != U_STRING_NOT_TERMINATED_WARNING) return INT32_MIN;
    return written;
}

int32_t tok_icu_normalize(int32_t form, const uint8_t *utf8, int32_t length, uint8_t *out, int32_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2 *norm = NULL;
    switch (form) {
    case 0: norm = unorm2_getNFCInstance(&status); break;
    case 1: norm = unorm2_getNFDInstance(&status); break;
    case 2: norm = unorm2_getNFKCInstance(&status); break;
    default: norm = unorm2_getNFKDInstance(&status); break;
    }
    if (U_FAILURE(status)) return INT32_MIN;
    return normalize_with(norm, utf8, length, out, capacity);
}

int32_t tok_icu_lowercase(const uint8_t *utf8, int32_t length, uint8_t *out, int32_t capacity) {
    // Code point by code point, each without context (as Rust's char::to_lowercase,
    // which HuggingFace's Lowercase uses): a final capital sigma becomes σ, not ς.
    int32_t written = 0, i = 0;
    while (i < length) {
        UChar32 c;
        U8_NEXT(utf8, i, length, c);
        if (c < 0) return INT32_MIN;
        UChar src[2], dst[8];
        int32_t n = 0, m;
        UBool error = 0;
        U16_APPEND(src, n, 2, c, error);
        UErrorCode status = U_ZERO_ERROR;
        m = u_strToLower(dst, 8, src, n, "", &status);
        if (U_FAILURE(status)) return INT32_MIN;
        for (int32_t k = 0; k < m;) {
            UChar32 d;
            U16_NEXT(dst, k, m, d);
            uint8_t buffer[4];
            int32_t b = 0;
            UBool e2 = 0;
            U8_APPEND(buffer, b, 4, d, e2);
            if (written + b <= capacity) memcpy(out + written, buffer, (size_t)b);
            written += b;
        }
    }
    return written > capacity ? -written : written;
}

int32_t tok_icu_age_major(uint32_t cp) {
    UVersionInfo v;
    u_charAge((UChar32)cp, v);
    return v[0];
}
