/* traces.c: prefilter.py's byte-level trace patterns of a value, in one pass (see dl_traces in fastpath.h).
 *
 * Each flag says whether its pattern matches anywhere in the value, as hyperscan would find it: the quiet
 * path trusts a "no", so no flag is guessed. Two paths give the same answers: a portable scalar loop, the
 * plain statement of each pattern, and an AVX2 one for speed:
 *
 * - 32 bytes at a time are classified with nibble lookups (a class bit is set when both the byte's low and
 *   high nibble allow it): table L always (Base64 alphabet, hex digits, white space, [ and {), table E while
 *   a single-byte trace is unknown. The single-byte flags are the OR of every E class seen: no branch.
 * - The traces of several bytes are found where they end, against the bytes before (loads at -1 and -2,
 *   and the hex digits of the 32 bytes before): a %XX, and candidates for the others (a quote or '=' then
 *   white space, [ or {; zlib's, gzip's and zstd's first two bytes). A block with a candidate still wanted
 *   is settled by a scalar look; a flag's first match settles it, and its candidates stop counting.
 * - Base64 runs are looked for exactly in 64-bit masks, only near 8 alphabet bytes at a multiple of 8 (in
 *   every run of 16).
 * - Each loop is specialized by what is still unknown, chosen per chunk of blocks: text without a quote, '=',
 *   '%', 'x' or a byte >= 0x80 skips the pair work behind a gate; random bytes soon need only %XX, white
 *   space after a quote and the runs.
 * - _MIXED_RUN is a second pass, only where both cases occur.
 * - No load leaves the value: the first and the last block are read from a copy padded with '.', a byte of
 *   no class, in which no trace can end.
 */
#include "fastpath.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

/* ---- the classes of a byte (the scalar path's, and the scalar looks of the vector path) ---- */

enum {
    C_ALPHA = 1 << 0,    /* [A-Za-z0-9+/_\-]: a Base64 run's alphabet (_RUN) */
    C_UPPER = 1 << 1,    /* [A-Z] */
    C_LOWER = 1 << 2,    /* [a-z] */
    C_BETWEEN = 1 << 3,  /* [0-9+/_\-\r\n]: what may stand between the letters of a _MIXED_RUN */
    C_HEX = 1 << 4,      /* [0-9A-Fa-f] */
    C_QUOTE = 1 << 5,    /* [\x22=]: what starts a NESTED or SPACED trace */
    C_OPEN = 1 << 6,     /* [\x5b{] */
    C_WHITE = 1 << 7,    /* _WHITE: [ \t\r\n\x0b\x0c+] */
    C_CTRL = 1 << 8,     /* [\x00-\x08\x0e-\x1a] */
    C_ESC = 1 << 9,      /* \x5c */
    C_HIGH = 1 << 10,    /* [\x80-\xff] */
    C_DEFLATE = 1 << 11, /* a zlib header's second byte after 0x78 (_DEFLATE_SECOND) */
    C_FIRST = 1 << 12,   /* the first byte of a trace of several bytes: % " = and gzip's, zstd's, zlib's */
};

static uint16_t byte_class[256];

static int deflate_second(unsigned b) { return ((0x78u << 8) | b) % 31 == 0; }

static void build_byte_classes(void) {
    for (unsigned b = 0; b < 256; b++) {
        unsigned c = 0;
        int upper = b >= 'A' && b <= 'Z', lower = b >= 'a' && b <= 'z', decimal = b >= '0' && b <= '9';
        int symbol = b == '+' || b == '/' || b == '_' || b == '-';
        if (upper || lower || decimal || symbol) c |= C_ALPHA;
        if (upper) c |= C_UPPER;
        if (lower) c |= C_LOWER;
        if (decimal || symbol || b == '\r' || b == '\n') c |= C_BETWEEN;
        if (decimal || (b >= 'A' && b <= 'F') || (b >= 'a' && b <= 'f')) c |= C_HEX;
        if (b == 0x22 || b == '=') c |= C_QUOTE;
        if (b == 0x5b || b == '{') c |= C_OPEN;
        if (b == ' ' || (b >= '\t' && b <= '\r') || b == '+') c |= C_WHITE;
        if (b <= 0x08 || (b >= 0x0e && b <= 0x1a)) c |= C_CTRL;
        if (b == 0x5c) c |= C_ESC;
        if (b >= 0x80) c |= C_HIGH;
        if (deflate_second(b)) c |= C_DEFLATE;
        if (b == '%' || b == 0x22 || b == '=' || b == 0x1f || b == 0x28 || b == 0x78) c |= C_FIRST;
        byte_class[b] = (uint16_t)c;
    }
}

#define HAS(b, cls) (byte_class[(uint8_t)(b)] & (cls))

/* gzip's and zstd's magic (zlib's is a pair of classes) */
static const uint8_t GZIP[] = {0x1f, 0x8b, 0x08}, ZSTD[] = {0x28, 0xb5, 0x2f, 0xfd};

/* (inline: the vector path's loops call nothing, so their vectors stay in registers) */
#define SCALAR static inline __attribute__((always_inline))

SCALAR int magic_at(const uint8_t *data, Py_ssize_t len, Py_ssize_t i, const uint8_t *magic, Py_ssize_t size) {
    return i >= 0 && i + size <= len && memcmp(data + i, magic, (size_t)size) == 0;
}

/* _SPACED_JSON, given that data[at] is white space after a quote or '=': more white space, then [ or { */
SCALAR int spaced_json_from(const uint8_t *data, Py_ssize_t len, Py_ssize_t at) {
    while (at < len && HAS(data[at], C_WHITE)) at++;
    return at < len && HAS(data[at], C_OPEN);
}

/* Room for `more` escape positions; -1 (a Python error set) when memory runs out */
static int reserve(dl_positions *escapes, Py_ssize_t more) {
    if (escapes->capacity - escapes->count >= more) return 0;
    Py_ssize_t capacity = escapes->capacity ? escapes->capacity : 16;
    while (capacity - escapes->count < more) capacity *= 2;
    Py_ssize_t *grown = PyMem_Realloc(escapes->at, (size_t)capacity * sizeof *grown);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    escapes->at = grown;
    escapes->capacity = capacity;
    return 0;
}

static int push_escape(dl_positions *escapes, Py_ssize_t at) {
    if (reserve(escapes, 1) < 0) return -1;
    escapes->at[escapes->count++] = at;
    return 0;
}

/* ---- the scalar path: each pattern as it reads ---- */

/* The flags of the traces of several bytes that start at data[i] (a C_FIRST byte), with `found`; -1 (memory) */
static int64_t starting_at(const uint8_t *data, Py_ssize_t len, Py_ssize_t i, int64_t found, dl_positions *escapes) {
    uint8_t b = data[i];
    unsigned next = i + 1 < len ? byte_class[data[i + 1]] : 0;
    if (b == '%' && next & C_HEX && i + 2 < len && HAS(data[i + 2], C_HEX)) {
        found |= DL_PCT;
        if (escapes != NULL && push_escape(escapes, i) < 0) return -1;
    }
    if (HAS(b, C_QUOTE) && next & C_OPEN) found |= DL_NESTED;
    if (HAS(b, C_QUOTE) && next & C_WHITE) {
        found |= DL_SPACED;
        if (!(found & DL_SPACED_JSON) && spaced_json_from(data, len, i + 1)) found |= DL_SPACED_JSON;
    }
    if ((b == 0x78 && next & C_DEFLATE) || magic_at(data, len, i, GZIP, sizeof GZIP)
        || magic_at(data, len, i, ZSTD, sizeof ZSTD))
        found |= DL_SNIFF;
    return found;
}

static int64_t traces_scalar(const uint8_t *data, Py_ssize_t len, dl_positions *escapes) {
    int64_t found = 0;
    unsigned seen = 0;  /* every class of every byte */
    Py_ssize_t run = 0; /* Base64 alphabet bytes in a row, up to here */
    unsigned case_ = 0; /* the case of the last letter, while only C_BETWEEN bytes follow it */
    for (Py_ssize_t i = 0; i < len && found >= 0; i++) {
        unsigned c = byte_class[data[i]];
        seen |= c;
        run = c & C_ALPHA ? run + 1 : 0;
        if (run >= 16) found |= DL_RUN;
        if (c & (C_UPPER | C_LOWER)) {
            if (case_ && !(c & case_)) found |= DL_MIXED;
            case_ = c & (C_UPPER | C_LOWER);
        } else if (!(c & C_BETWEEN)) {
            case_ = 0;
        }
        if (c & C_FIRST) found = starting_at(data, len, i, found, escapes);
    }
    if (found < 0) return -1;
    if (seen & C_CTRL) found |= DL_CTRL;
    if (seen & C_ESC) found |= DL_ESC;
    if (seen & C_UPPER) found |= DL_UPPER;
    if (seen & C_LOWER) found |= DL_LOWER;
    if (seen & C_HIGH) found |= DL_HIGH;
    return found;
}

/* ---- the AVX2 path ---- */

#ifdef HAVE_AVX2_PATH

/* Nibble tables: bit k of a byte's class is set when its low nibble is in the k-th rectangle's `lo` set and its
 * high nibble in its `hi` set, so a class that is no such rectangle takes several bits. */
typedef struct {
    uint8_t bit;
    uint16_t hi, lo; /* bit n: nibble n is in the set */
} rect;

#define NIB(n) (1u << (n))
#define NIBS(a, b) ((uint16_t)(((1u << ((b) + 1)) - 1) & ~((1u << (a)) - 1))) /* nibbles a..b */

/* table L, what every block looks at: the Base64 alphabet but '_' (a compare of its own), hex digits, white
 * space, [ and {. The alphabet's bits are the top five, so a byte of it has a class of 8 or more. */
enum { L_WHITE1 = 1, L_WHITE2 = 2, L_OPEN = 4, L_AO = 8, L_PZ = 16, L_DIGIT = 32, L_SYMBOL = 64, L_HEXLETTER = 128 };
#define L_WHITE (L_WHITE1 | L_WHITE2)
#define L_HEX (L_DIGIT | L_HEXLETTER)
#define L_BETWEEN (L_DIGIT | L_SYMBOL) /* with '_', \r and \n: _MIXED_RUN's C_BETWEEN */
static const rect LETTERS[] = {
    {L_WHITE1, NIB(2), NIB(0) | NIB(11)},            /* space + */
    {L_WHITE2, NIB(0), NIBS(9, 13)},                 /* \t \n \x0b \x0c \r */
    {L_OPEN, NIB(5) | NIB(7), NIB(11)},              /* [ { */
    {L_AO, NIB(4) | NIB(6), NIBS(1, 15)},            /* A-O a-o */
    {L_PZ, NIB(5) | NIB(7), NIBS(0, 10)},            /* P-Z p-z */
    {L_DIGIT, NIB(3), NIBS(0, 9)},                   /* 0-9 */
    {L_SYMBOL, NIB(2), NIB(11) | NIB(13) | NIB(15)}, /* + - / */
    {L_HEXLETTER, NIB(4) | NIB(6), NIBS(1, 6)},      /* A-F a-f */
};

/* table E, the single-byte traces */
enum { E_UPPER1 = 1, E_UPPER2 = 2, E_LOWER1 = 4, E_LOWER2 = 8, E_CTRL1 = 16, E_CTRL2 = 32, E_ESC = 64, E_HIGH = 128 };
#define E_UPPER (E_UPPER1 | E_UPPER2)
#define E_LOWER (E_LOWER1 | E_LOWER2)
#define E_CTRL (E_CTRL1 | E_CTRL2)
static const rect EXTRAS[] = {
    {E_UPPER1, NIB(4), NIBS(1, 15)},              /* A-O */
    {E_UPPER2, NIB(5), NIBS(0, 10)},              /* P-Z */
    {E_LOWER1, NIB(6), NIBS(1, 15)},              /* a-o */
    {E_LOWER2, NIB(7), NIBS(0, 10)},              /* p-z */
    {E_CTRL1, NIB(0), NIBS(0, 8) | NIBS(14, 15)}, /* \x00-\x08 \x0e \x0f */
    {E_CTRL2, NIB(1), NIBS(0, 10)},               /* \x10-\x1a */
    {E_ESC, NIB(5), NIB(12)},                     /* \ */
    {E_HIGH, NIBS(8, 15), NIBS(0, 15)},           /* \x80-\xff */
};

/* The kinds of candidates, a bit each where a trace may end (the ones from table L keep its bits) */
enum { C_SPACED = L_WHITE, C_NESTED = L_OPEN, C_MAGIC = 8, C_ZLIB = 16 };

typedef struct {
    uint8_t lo[16], hi[16];
} nibble_table;

static nibble_table table_l, table_e;
/* Exact sets whose bytes have distinct low (or high) nibbles: for each nibble its byte, or one with another
 * nibble there, which no byte with this nibble equals */
static uint8_t quote_by_low[16], first_by_low[16], magic1_by_low[16], magic2_by_low[16], deflate_by_high[16];
/* Every byte value broadcast to 32 bytes: the loops read their constants from here (vbits), as memory operands
 * that cost nothing, where a compiler short of registers would rebuild a set1 constant in three instructions */
static uint8_t broadcast[256][32] __attribute__((aligned(32)));

static void build_nibble_table(nibble_table *table, const rect *rects, size_t count) {
    memset(table, 0, sizeof *table);
    for (size_t r = 0; r < count; r++)
        for (unsigned n = 0; n < 16; n++) {
            if (rects[r].lo & (1u << n)) table->lo[n] |= rects[r].bit;
            if (rects[r].hi & (1u << n)) table->hi[n] |= rects[r].bit;
        }
}

static void exact_by_low(uint8_t table[16], const char *bytes) {
    for (unsigned n = 0; n < 16; n++) table[n] = (uint8_t)((n + 1) & 15);
    for (const char *b = bytes; *b; b++) table[(uint8_t)*b & 15] = (uint8_t)*b;
}

static void build_vector_tables(void) {
    for (unsigned b = 0; b < 256; b++) memset(broadcast[b], (int)b, sizeof broadcast[b]);
    build_nibble_table(&table_l, LETTERS, sizeof LETTERS / sizeof *LETTERS);
    build_nibble_table(&table_e, EXTRAS, sizeof EXTRAS / sizeof *EXTRAS);
    exact_by_low(quote_by_low, "\"=");
    exact_by_low(first_by_low, "\"=%x");     /* the gate's first bytes (and those >= 0x80: gated_block64) */
    exact_by_low(magic1_by_low, "\x1f\x28"); /* gzip's and zstd's first bytes */
    exact_by_low(magic2_by_low, "\x8b\xb5"); /* and their second */
    for (unsigned n = 0; n < 16; n++) deflate_by_high[n] = (uint8_t)(((n + 1) & 15) << 4);
    for (unsigned b = 0; b < 256; b++)
        if (deflate_second(b)) deflate_by_high[b >> 4] = (uint8_t)b; /* one per high nibble */
}

/* the vector path's instructions: AVX2, and BMI1 and LZCNT (which every AVX2 processor has) for masks */
#define VECTOR_ISA "avx2,bmi,lzcnt"
#define AVX2 __attribute__((target(VECTOR_ISA)))
#define INLINE static inline __attribute__((always_inline, target(VECTOR_ISA)))

typedef struct {
    __m256i l_lo, l_hi, e_lo, e_hi, quote, first, magic1, magic2, deflate;
} tables;

INLINE __m256i table256(const uint8_t *table16) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table16));
}

INLINE tables load_tables(void) {
    tables t = {table256(table_l.lo), table256(table_l.hi), table256(table_e.lo), table256(table_e.hi),
                table256(quote_by_low), table256(first_by_low), table256(magic1_by_low), table256(magic2_by_low),
                table256(deflate_by_high)};
    return t;
}

INLINE __m256i vbits(int b) { return _mm256_load_si256((const __m256i *)broadcast[(uint8_t)b]); }
INLINE __m256i vload(const uint8_t *at) { return _mm256_loadu_si256((const __m256i *)at); }
INLINE __m256i vand(__m256i a, __m256i b) { return _mm256_and_si256(a, b); }
INLINE __m256i vor(__m256i a, __m256i b) { return _mm256_or_si256(a, b); }
INLINE __m256i veq(__m256i a, __m256i b) { return _mm256_cmpeq_epi8(a, b); }
INLINE int vany(__m256i v) { return !_mm256_testz_si256(v, v); }
INLINE int vany_bits(__m256i v, int b) { return !_mm256_testz_si256(v, vbits(b)); }

INLINE __m256i lookup(__m256i table_lo, __m256i table_hi, __m256i lo, __m256i hi) {
    return vand(_mm256_shuffle_epi8(table_lo, lo), _mm256_shuffle_epi8(table_hi, hi));
}

/* 0xff where `v` is a byte of the exact set `table` by low nibble (pshufb gives 0 for a byte >= 0x80, which
 * none of these sets holds, and for no other byte) */
INLINE __m256i in_set(__m256i table, __m256i v) { return veq(_mm256_shuffle_epi8(table, v), v); }

/* each byte of `cur` replaced by the one before it (from `prev`, the 32 bytes before `cur`) */
INLINE __m256i before(__m256i prev, __m256i cur) {
    return _mm256_alignr_epi8(cur, _mm256_permute2x128_si256(prev, cur, 0x21), 15);
}

/* the bytes of `v` that are not zero, as a mask */
INLINE uint32_t nonzero(__m256i v) { return ~(uint32_t)_mm256_movemask_epi8(veq(v, _mm256_setzero_si256())); }
INLINE uint64_t nonzero64(__m256i low, __m256i high) { return nonzero(low) | (uint64_t)nonzero(high) << 32; }

/* What a loop looks for: fixed in each, so the compiler drops the rest (see traces_avx2) */
enum {
    M_SINGLE = 1, /* the single-byte traces (table E) */
    M_SNIFF = 2,  /* SNIFF's candidates */
    M_GATE = 4,   /* the traces of several bytes only in blocks with (or after) the first byte of one */
};

/* 32 bytes and their classes */
typedef struct {
    __m256i v, lo, hi, l, e;
} half;

INLINE half classify(const tables *t, const uint8_t *at, int mode) {
    half h;
    __m256i low4 = vbits(0x0f);
    h.v = vload(at);
    h.lo = vand(h.v, low4);
    h.hi = vand(_mm256_srli_epi16(h.v, 4), low4);
    h.l = lookup(t->l_lo, t->l_hi, h.lo, h.hi);
    h.e = mode & M_SINGLE ? lookup(t->e_lo, t->e_hi, h.lo, h.hi) : _mm256_setzero_si256();
    return h;
}

INLINE __m256i hex_digits(const half *h) { return vand(h->l, vbits(L_HEX)); }

INLINE __m256i hex_at(const tables *t, const uint8_t *at) {
    half h = classify(t, at, 0);
    return hex_digits(&h);
}

/* the bytes of the Base64 alphabet: '_', and the classes of 8 or more (adding 0x78, saturating, sets their top
 * bit) */
INLINE uint32_t alphabet32(const half *h) {
    __m256i alphabet = vor(_mm256_adds_epu8(h->l, vbits(0x78)), veq(h->v, vbits('_')));
    return (uint32_t)_mm256_movemask_epi8(alphabet);
}

/* The traces of several bytes that end in the 32 bytes at `at` (at[-2] and at[-1] readable; `hex_before`: the
 * hex digits of the 32 bytes before): where a %XX ends (`pct`), and the candidates of the kinds in `want_l`
 * (C_SPACED, C_NESTED) and, in M_SNIFF, C_ZLIB and C_MAGIC */
INLINE void pair_work(const tables *t, const uint8_t *at, const half *h, __m256i hex_before, int mode, __m256i want_l,
                      __m256i *pct, __m256i *candidates) {
    __m256i v1 = vload(at - 1), hex = hex_digits(h);
    /* '%' two bytes before, hex digits one before and here (the min of two bytes: neither is 0) */
    *pct = vand(veq(vload(at - 2), vbits('%')), _mm256_min_epu8(before(hex_before, hex), hex));
    *candidates = vand(in_set(t->quote, v1), vand(h->l, want_l));
    if (mode & M_SNIFF) {
        __m256i zlib = vand(veq(v1, vbits(0x78)), veq(_mm256_shuffle_epi8(t->deflate, h->hi), h->v));
        /* gzip's or zstd's first two bytes (or 0x1f 0xb5, 0x28 0x8b: the scalar look tells) */
        __m256i magic = vand(in_set(t->magic1, v1), veq(_mm256_shuffle_epi8(t->magic2, h->lo), h->v));
        *candidates = vor(*candidates, vor(vand(zlib, vbits(C_ZLIB)), vand(magic, vbits(C_MAGIC))));
    }
}

/* the kinds of candidates from table L still wanted, given what is found */
INLINE __m256i wanted(int64_t found) {
    int want = 0;
    if (!(found & DL_SPACED) || !(found & DL_SPACED_JSON)) want |= C_SPACED;
    if (!(found & DL_NESTED)) want |= C_NESTED;
    return vbits(want);
}

/* Room kept in `escapes` for a block's (a %XX takes 3 bytes: 22 at most end in 64): the loops store them
 * without a call, and stop for more room */
#define ROOM 64

/* A block's traces of several bytes, when it has a candidate (rare: the block is classified again, to keep the
 * loops' registers free). `at`: the block at `base` (at[-2] and at[-1] readable), `hex_before`: the hex digits of
 * the 32 bytes before it. Each candidate is settled by a scalar look where it needs one. The flags found. */
INLINE int64_t settle_block(const tables *t, const uint8_t *at, int mode, __m256i hex_before, const uint8_t *data,
                            Py_ssize_t len, Py_ssize_t base, int64_t found, dl_positions *escapes) {
    __m256i pct0, pct1, candidates0, candidates1, all = vbits(C_SPACED | C_NESTED);
    half h0 = classify(t, at, mode), h1 = classify(t, at + 32, mode);
    pair_work(t, at, &h0, hex_before, mode, all, &pct0, &candidates0);
    pair_work(t, at + 32, &h1, hex_digits(&h0), mode, all, &pct1, &candidates1);
#define KIND(c) nonzero64(vand(candidates0, vbits(c)), vand(candidates1, vbits(c)))
    uint64_t pct = nonzero64(pct0, pct1), spaced = KIND(C_SPACED), nested = KIND(C_NESTED);
    uint64_t zlib = mode & M_SNIFF ? KIND(C_ZLIB) : 0, magic = mode & M_SNIFF ? KIND(C_MAGIC) : 0;
#undef KIND
    if (pct) found |= DL_PCT;
    for (uint64_t m = escapes ? pct : 0; m; m &= m - 1) escapes->at[escapes->count++] = base + _tzcnt_u64(m) - 2;
    if (spaced) found |= DL_SPACED;
    for (uint64_t m = found & DL_SPACED_JSON ? 0 : spaced; m; m &= m - 1)
        if (spaced_json_from(data, len, base + _tzcnt_u64(m))) {
            found |= DL_SPACED_JSON;
            break;
        }
    if (nested) found |= DL_NESTED;
    if (zlib) found |= DL_SNIFF;
    for (uint64_t m = found & DL_SNIFF ? 0 : magic; m; m &= m - 1) {
        Py_ssize_t i = base + _tzcnt_u64(m);
        if (magic_at(data, len, i - 1, GZIP, sizeof GZIP) || magic_at(data, len, i - 1, ZSTD, sizeof ZSTD)) {
            found |= DL_SNIFF;
            break;
        }
    }
    return found;
}

/* What the Base64 run check carries from block to block */
typedef struct {
    uint64_t run;          /* alphabet bytes ending the last block */
    uint64_t group_before; /* the last block had 8 alphabet bytes at a multiple of 8 */
    uint64_t looks;        /* blocks with such a group, or after one (in a chunk) */
    uint64_t always;       /* look at every block (for a chunk after one with many looks) */
} run_state;

/* Whether 16 alphabet bytes stand in a row, ending in this block's 64 (`alphabet`). Such a run holds 8 at a
 * multiple of 8 (a byte of `alphabet` that is 0xff), in this block or the last: only then is it looked for,
 * unless such blocks are common (then a branch on them would be mispredicted half the time). */
INLINE int run_of_16(uint64_t alphabet, run_state *r) {
    const uint64_t ones = 0x0101010101010101ull, tops = 0x8080808080808080ull;
    uint64_t other = ~alphabet, before = r->run;
    uint64_t group = (other - ones) & alphabet & tops; /* a byte of `other` that is 0 */
    uint64_t near = group | r->group_before;
    r->group_before = group;
    r->run = _lzcnt_u64(other); /* 64 when all are: RUN is found then, and `run` no longer used */
    if (!(near | r->always)) return 0;
    r->looks += near != 0;
    uint64_t inside = alphabet & (alphabet >> 1);
    inside &= inside >> 2;
    inside &= inside >> 4;
    inside &= inside >> 8; /* bit i: bytes i..i+15 are all of the alphabet */
    return (inside | ((before + _tzcnt_u64(other)) >> 4)) != 0; /* or 16 and more across the blocks */
}

/* What the blocks carry from one to the next */
typedef struct {
    __m256i seen_e;  /* every class of table E seen (M_SINGLE) */
    run_state runs;  /* run_of_16's */
    int open_before; /* the last block had a first byte (M_GATE) */
} carried;

/* Half a block, the 32 bytes at `at`: its classes ORed into `seen_e`, its %XX ends and candidates into `hits`,
 * `hex_prev` moved on. Its bytes of the Base64 alphabet when `want_runs` (RUN is unknown). A half is done from
 * start to end, so the compiler keeps one half's vectors at a time. */
INLINE uint32_t half32(const tables *t, const uint8_t *at, int mode, int want_runs, __m256i want_l,
                       __m256i *hex_prev, __m256i *seen_e, __m256i *hits) {
    half h = classify(t, at, mode);
    if (mode & M_SINGLE) *seen_e = vor(*seen_e, h.e);
    __m256i pct, candidates;
    pair_work(t, at, &h, *hex_prev, mode, want_l, &pct, &candidates);
    *hex_prev = hex_digits(&h);
    *hits = vor(*hits, vor(pct, candidates));
    return want_runs ? alphabet32(&h) : 0;
}

/* One block: the 64 bytes at `at`, data + base or a padded copy (at[-2] and at[-1] readable; `hex_prev`: the hex
 * digits of the 32 bytes before). The flags found; `*settled` set when candidates were settled. */
INLINE int64_t block64(const tables *t, const uint8_t *at, int mode, const uint8_t *data, Py_ssize_t len,
                       Py_ssize_t base, __m256i want_l, int64_t found, __m256i *hex_prev, carried *c,
                       dl_positions *escapes, int *settled) {
    __m256i hits = _mm256_setzero_si256(), hex_before = *hex_prev;
    int want_runs = !(found & DL_RUN);
    uint64_t alphabet = half32(t, at, mode, want_runs, want_l, hex_prev, &c->seen_e, &hits);
    alphabet |= (uint64_t)half32(t, at + 32, mode, want_runs, want_l, hex_prev, &c->seen_e, &hits) << 32;
    if (want_runs && run_of_16(alphabet, &c->runs)) found |= DL_RUN;
    if (!vany(hits)) return found;
    *settled = 1;
    return settle_block(t, at, mode, hex_before, data, len, base, found, escapes);
}

/* One block of M_GATE, the 64 bytes at data + base (its single-byte traces and runs), unless it has or follows a
 * first byte of a trace of several bytes (then 0: it is left to the full loop, untouched but for `open_before`) */
INLINE int gated_block64(const tables *t, const uint8_t *at, int64_t *found, carried *c) {
    __m256i v0 = vload(at), v1 = vload(at + 32);
    /* the top bit of each byte: a first byte (0xff), or a byte >= 0x80 (gzip's and zstd's have one) */
    __m256i gate = vor(vor(in_set(t->first, v0), in_set(t->first, v1)), vor(v0, v1));
    int open_here = !_mm256_testz_si256(gate, vbits(0x80)), open = open_here || c->open_before;
    c->open_before = open_here; /* the next block opens too: a trace may start here and end there */
    if (open) return 0;
    int want_runs = !(*found & DL_RUN);
    half h0 = classify(t, at, M_SINGLE);
    c->seen_e = vor(c->seen_e, h0.e);
    uint64_t alphabet = want_runs ? alphabet32(&h0) : 0;
    half h1 = classify(t, at + 32, M_SINGLE);
    c->seen_e = vor(c->seen_e, h1.e);
    alphabet |= want_runs ? (uint64_t)alphabet32(&h1) << 32 : 0;
    if (want_runs && run_of_16(alphabet, &c->runs)) *found |= DL_RUN;
    return 1;
}

/* Why a loop stopped before `end`: at a block the gate opened for (not done), or after escapes filled the room */
enum { DONE, GATE_OPEN, NO_ROOM };

/* The blocks from `*base_io` (64 or more) to `end`, in a loop of `mode`, on local copies of the tables and the
 * carried state (which the compiler keeps in registers: the loop calls nothing). */
INLINE int blocks(int mode, const tables *tables_in, const uint8_t *data, Py_ssize_t len, Py_ssize_t *base_io,
                  Py_ssize_t end, carried *carried_io, int64_t *found_io, dl_positions *escapes) {
    tables t = *tables_in;
    carried c = *carried_io;
    int64_t found = *found_io;
    Py_ssize_t base = *base_io;
    int stop = DONE;
    if (mode & M_GATE) {
        for (; base + 64 <= end && stop == DONE; base += 64)
            if (!gated_block64(&t, data + base, &found, &c)) stop = GATE_OPEN;
        if (stop == GATE_OPEN) base -= 64; /* the block to do */
    } else {
        __m256i want_l = wanted(found), hex_prev = hex_at(&t, data + base - 32);
        for (; base + 64 <= end && stop == DONE; base += 64) {
            int settled = 0;
            found = block64(&t, data + base, mode, data, len, base, want_l, found, &hex_prev, &c, escapes, &settled);
            if (!settled) continue;
            want_l = wanted(found);
            if (escapes != NULL && escapes->capacity - escapes->count < ROOM) stop = NO_ROOM;
        }
    }
    *carried_io = c;
    *found_io = found;
    *base_io = base;
    return stop;
}

#define LOOP(name, mode)                                                                                          \
    static __attribute__((noinline, target(VECTOR_ISA))) int name(const tables *t, const uint8_t *data,          \
                                                                  Py_ssize_t len, Py_ssize_t *base, Py_ssize_t end, \
                                                                  carried *c, int64_t *found, dl_positions *escapes) { \
        return blocks(mode, t, data, len, base, end, c, found, escapes);                                         \
    }
LOOP(blocks_gated, M_SINGLE | M_SNIFF | M_GATE) /* text: singles and SNIFF unknown, first bytes rare */
LOOP(blocks_full, M_SINGLE | M_SNIFF)           /* singles and SNIFF unknown */
LOOP(blocks_sniff, M_SNIFF)                     /* SNIFF unknown */
LOOP(blocks_single, M_SINGLE)                   /* singles unknown */
LOOP(blocks_lean, 0)                            /* %XX, NESTED, SPACED, SPACED_JSON and RUN */

/* One block with everything (the first, the last, one the gate opened for), `hex_prev` the hex digits of the 32
 * bytes before it, `escapes` with ROOM. The flags found. */
static AVX2 int64_t full_block(const tables *t, const uint8_t *at, __m256i hex_prev, const uint8_t *data,
                               Py_ssize_t len, Py_ssize_t base, carried *c, int64_t found, dl_positions *escapes) {
    int settled = 0;
    return block64(t, at, M_SINGLE | M_SNIFF, data, len, base, wanted(found), found, &hex_prev, c, escapes, &settled);
}

/* _MIXED_RUN: the byte that ends each stretch of C_BETWEEN bytes after a letter (`after`: the byte after each
 * letter), carried through the stretch by an addition; `carry`: a stretch that reaches the block's end */
static inline uint64_t past_between(uint64_t after, uint64_t between, unsigned char *carry) {
    unsigned long long sum;
    *carry = _addcarry_u64(*carry, between, after & between, &sum);
    return (after | sum) & ~between;
}

typedef struct {
    uint64_t upper, lower;                  /* the last block's letters */
    unsigned char carry_upper, carry_lower; /* a stretch after a letter reaches into this block */
} mixed_carried;

/* Whether, in the 64 bytes at `at` (and before), a letter of one case is followed by one of the other with only
 * C_BETWEEN bytes between */
INLINE int mixed64(const tables *t, const uint8_t *at, mixed_carried *c) {
    uint64_t upper = 0, lower = 0, between = 0;
    for (int shift = 0; shift < 64; shift += 32) {
        half h = classify(t, at + shift, M_SINGLE);
        __m256i others = vor(vor(veq(h.v, vbits('\r')), veq(h.v, vbits('\n'))), veq(h.v, vbits('_')));
        upper |= (uint64_t)nonzero(vand(h.e, vbits(E_UPPER))) << shift;
        lower |= (uint64_t)nonzero(vand(h.e, vbits(E_LOWER))) << shift;
        between |= (uint64_t)nonzero(vor(vand(h.l, vbits(L_BETWEEN)), others)) << shift;
    }
    uint64_t after_upper = upper << 1 | c->upper >> 63, after_lower = lower << 1 | c->lower >> 63;
    c->upper = upper;
    c->lower = lower;
    return ((past_between(after_upper, between, &c->carry_upper) & lower)
            | (past_between(after_lower, between, &c->carry_lower) & upper)) != 0;
}

/* A copy of the 64 bytes at `base` and the two before, '.' where data has none (a byte of no class, in which no
 * trace ends) */
static const uint8_t *padded(uint8_t copy[66], const uint8_t *data, Py_ssize_t len, Py_ssize_t base) {
    memset(copy, '.', 66);
    Py_ssize_t from = base >= 2 ? base - 2 : 0, to = base + 64 < len ? base + 64 : len;
    memcpy(copy + 2 + (from - base), data + from, (size_t)(to - from));
    return copy + 2;
}

static AVX2 int mixed_avx2(const uint8_t *data, Py_ssize_t len) {
    tables t = load_tables();
    mixed_carried c = {0, 0, 0, 0};
    uint8_t copy[66];
    for (Py_ssize_t base = 0; base < len; base += 64)
        if (mixed64(&t, base + 64 <= len ? data + base : padded(copy, data, len, base), &c)) return 1;
    return 0;
}

/* The single-byte flags the classes seen say */
INLINE int64_t seen_flags(const carried *c) {
    int64_t found = 0;
    if (vany_bits(c->seen_e, E_UPPER)) found |= DL_UPPER;
    if (vany_bits(c->seen_e, E_LOWER)) found |= DL_LOWER;
    if (vany_bits(c->seen_e, E_CTRL)) found |= DL_CTRL;
    if (vany_bits(c->seen_e, E_ESC)) found |= DL_ESC;
    if (vany_bits(c->seen_e, E_HIGH)) found |= DL_HIGH;
    return found;
}

#define SINGLE_FLAGS (DL_ESC | DL_CTRL | DL_UPPER | DL_LOWER | DL_HIGH)
/* Blocks between looks at what is found (which chooses the loop). The gate is given up for the rest of a chunk
 * after GATE_OPENINGS openings in it (each stops the loop: past a few, the full loop is faster), and tried
 * again after UNGATED_CHUNKS chunks. Runs are looked for at every block of a chunk after RUN_LOOKS looks. */
#define CHUNK 16
#define GATE_OPENINGS 2
#define UNGATED_CHUNKS 8
#define RUN_LOOKS 2

static AVX2 int64_t traces_avx2(const uint8_t *data, Py_ssize_t len, dl_positions *escapes) {
    tables t = load_tables();
    __m256i zero = _mm256_setzero_si256();
    carried c = {zero, {0, 0, 0, 0}, 1}; /* open_before: the block after the first (which no gate skips) opens */
    int gated = 1, ungated = 0;          /* ungated: chunks since the gate was given up */
    uint8_t copy[66];
    if (escapes != NULL && reserve(escapes, ROOM) < 0) return -1;
    int64_t found = full_block(&t, padded(copy, data, len, 0), zero, data, len, 0, &c, 0, escapes);
    Py_ssize_t base = 64;
    while (base + 64 <= len) {
        Py_ssize_t end = len - base >= 64 * CHUNK ? base + 64 * CHUNK : len;
        int openings = 0;
        c.runs.looks = 0;
        while (base + 64 <= end) {
            int stop;
            if (found & DL_SNIFF)
                stop = (~found & SINGLE_FLAGS ? blocks_single : blocks_lean)(&t, data, len, &base, end, &c, &found,
                                                                             escapes);
            else if ((found & SINGLE_FLAGS) == SINGLE_FLAGS)
                stop = blocks_sniff(&t, data, len, &base, end, &c, &found, escapes);
            else
                stop = (gated ? blocks_gated : blocks_full)(&t, data, len, &base, end, &c, &found, escapes);
            if (stop == DONE) break;
            if (escapes != NULL && reserve(escapes, ROOM) < 0) return -1;
            if (stop == GATE_OPEN) {
                gated = ++openings <= GATE_OPENINGS;
                found = full_block(&t, data + base, hex_at(&t, data + base - 32), data, len, base, &c, found, escapes);
                base += 64;
            }
        }
        if (!gated) gated = ++ungated % UNGATED_CHUNKS == 0;
        found |= seen_flags(&c);
        c.open_before = 1; /* a gated loop next: its first block opens for what this one left */
        c.runs.always = c.runs.looks > RUN_LOOKS;
    }
    if (base < len) {
        if (escapes != NULL && reserve(escapes, ROOM) < 0) return -1;
        found = full_block(&t, padded(copy, data, len, base), hex_at(&t, data + base - 32), data, len, base, &c, found,
                           escapes);
    }
    found |= seen_flags(&c);
    if ((found & (DL_UPPER | DL_LOWER)) == (DL_UPPER | DL_LOWER) && mixed_avx2(data, len)) found |= DL_MIXED;
    return found;
}

#endif /* HAVE_AVX2_PATH */

/* ---- dispatch ---- */

static int force_scalar, have_avx2;

__attribute__((constructor)) static void build_tables(void) {
    build_byte_classes();
#ifdef HAVE_AVX2_PATH
    build_vector_tables();
    __builtin_cpu_init();
    have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("lzcnt");
#endif
}

int dl_traces_vector(void) { return have_avx2 && !force_scalar; }
void dl_traces_force_scalar(int scalar) { force_scalar = scalar != 0; }

int64_t dl_traces(const uint8_t *data, Py_ssize_t len, dl_positions *escapes) {
    if (len <= 0) return 0;
#ifdef HAVE_AVX2_PATH
    if (dl_traces_vector()) return traces_avx2(data, len, escapes);
#endif
    return traces_scalar(data, len, escapes);
}

PyObject *dl_py_traces(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*:traces", &view)) return NULL;
    dl_positions escapes = {NULL, 0, 0};
    int64_t flags = dl_traces(view.buf, view.len, &escapes);
    PyBuffer_Release(&view);
    PyObject *starts = NULL, *result = NULL;
    if (flags >= 0 && (starts = PyList_New(escapes.count)) != NULL) {
        for (Py_ssize_t i = 0; i < escapes.count; i++) {
            PyObject *at = PyLong_FromSsize_t(escapes.at[i]);
            if (at == NULL) goto done;
            PyList_SET_ITEM(starts, i, at);
        }
        result = Py_BuildValue("(LO)", (long long)flags, starts);
    }
done:
    Py_XDECREF(starts);
    dl_positions_free(&escapes);
    return result;
}
