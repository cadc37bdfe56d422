#ifndef CTOKICU_H
#define CTOKICU_H

#include <stddef.h>
#include <stdint.h>

/// 1 when valid UTF-8 `utf8` is already in NFC (a fast quick-check), else 0.
int32_t tok_icu_is_nfc(const uint8_t *utf8, int32_t length);

/// A coarse script class of a code point, for vocabulary composition tables:
/// 0 other script, 1 Latin, 2 Han, 3 Hiragana/Katakana, 4 Hangul, 5 Arabic,
/// 6 Common or Inherited (digits, punctuation, symbols, marks).
int32_t tok_icu_script_class(uint32_t cp);

/// A code point's script for SentencePiece's training rules: the ICU script
/// code (`USCRIPT_*`), with Hiragana, Katakana and U+30FC counted as Han
/// (17), Inherited as -2 and Common as 0; -1 for a decimal digit (`Nd`).
int32_t tok_icu_piece_script(uint32_t cp);

/// Simple case folding of one code point (ICU `u_foldCase`, default mapping).
int32_t tok_icu_fold_case(uint32_t cp);
/// Full case folding of one code point: writes its scalars to `out`, returns how many.
int32_t tok_icu_full_fold(uint32_t cp, uint32_t *out, int32_t capacity);

/// Looks up a `\p{name}` property: 1 general-category mask (in `value`), 2
/// script code, 3 binary property; 0 when ICU knows no such name.
int32_t tok_icu_property_kind(const char *name, int32_t *value);
/// 1 when `cp` has the script (kind 2) or binary property (kind 3) `value`.
int32_t tok_icu_has_property(int32_t kind, int32_t value, uint32_t cp);

/// Normalizes valid UTF-8 to form 0 NFC, 1 NFD, 2 NFKC, 3 NFKD. Returns the length of the
/// result written to `out`, or the required capacity (negated) when `capacity` is too small,
/// or INT32_MIN on an ICU error.
int32_t tok_icu_normalize(int32_t form, const uint8_t *utf8, int32_t length, uint8_t *out, int32_t capacity);
/// Lowercases valid UTF-8 (root locale, full mappings); returns as `tok_icu_normalize`.
int32_t tok_icu_lowercase(const uint8_t *utf8, int32_t length, uint8_t *out, int32_t capacity);

/// The major Unicode version that assigned `cp` (0 when unassigned).
int32_t tok_icu_age_major(uint32_t cp);

#endif
