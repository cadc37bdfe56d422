#include "CTokRuntime.h"

#include <pthread.h>
#include <string.h>

// The table's runs (unicode_classes.c, which scripts/unicode_classes.py writes):
// each word is a run's first code point (bits 8-31) and its class (bits 0-7),
// ascending from code point 0.
extern const uint32_t tok_class_runs[];
extern const int32_t tok_class_run_count;
extern const char tok_unicode_classes_version[];

// The table is zero to begin with (static storage) and an unassigned code
// point's class is 0: unassigned runs (most of planes 3-14) are not written, so
// their pages are never faulted in. About a third of the 1.1 MB is touched.
static uint8_t unicode_classes[0x110000];
const uint8_t *const tok_unicode_classes = unicode_classes;
static pthread_once_t unicode_classes_once = PTHREAD_ONCE_INIT;

static void fill_unicode_classes(void) {
    for (int32_t k = 0; k < tok_class_run_count; k++) {
        uint32_t start = tok_class_runs[k] >> 8, class = tok_class_runs[k] & 0xFF;
        uint32_t end = k + 1 < tok_class_run_count ? tok_class_runs[k + 1] >> 8 : 0x110000;
        // Runs ascend from 0 and end below 0x110000 (scripts/unicode_classes.py).
        if (class != 0) memset(unicode_classes + start, (int)class, end - start);
    }
}

void tok_ensure_unicode_classes(void) { pthread_once(&unicode_classes_once, fill_unicode_classes); }

const char *tok_unicode_version(void) { return tok_unicode_classes_version; }
