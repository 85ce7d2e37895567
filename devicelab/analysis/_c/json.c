/* json.c: what Python's json (structured.parse_json, parse_json_rendered, extra_data) makes of a document,
 * told without building it.
 *
 * The reader takes a strict subset of JSON: strings without escapes, valid UTF-8 without surrogates, no
 * NaN or Infinity, at most MAX_DEPTH levels, bytes json decodes as UTF-8. Inside it, it answers what json
 * answers: the whole document, one value then "Extra data" (and where, in characters), or an error. Outside
 * it, it answers UNSURE and Python decides; it never guesses.
 *
 * Numbers follow json's scanner (Modules/_json.c), which takes the longest number at the cursor: "01" is 0
 * and then extra data at "1", "1." is 1 and then ".", "1e+" is 1 and then "e+".
 *
 * Call it with the GIL held: a float that the proofs below cannot settle is rendered by PyOS_double_to_string,
 * which allocates with PyMem_Malloc. */
#include "fastpath.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Deeper than this, json could meet the recursion limit (structured._SHALLOW is 500 too). */
#define MAX_DEPTH 500
/* An integer with more digits: int() may refuse it (sys.set_int_max_str_digits allows no limit below 640),
 * which json.loads does and parse_json_rendered (which keeps the text) does not. */
#define MAX_INT_DIGITS 640
/* Floats whose check waits for the end: a document followed by extra data needs none checked. */
#define DEFERRED 64

typedef enum { READ_OK, READ_INVALID, READ_UNSURE } outcome;

/* A float token as the reader saw it: [-]whole[.fraction][exponent] */
typedef struct {
    const uint8_t *start, *whole, *fraction;
    Py_ssize_t length, whole_digits, fraction_digits;
    int exponent;
} float_token;

typedef struct {
    const uint8_t *end;
    Py_ssize_t continuation; /* UTF-8 continuation bytes read so far: bytes minus characters */
    int numbers_same;        /* no integer has a '-', and every float checked so far keeps its text */
    int failed;              /* a Python error while checking a float (memory): UNSURE */
    int deferred;            /* floats waiting in floats[] */
    float_token floats[DEFERRED];
} reader;

/* ---- bytes ---- */

/* JSON's white space, as bits 1 << c: json's WHITESPACE is [ \t\n\r]* (not \v or \f) */
#define WHITE_BITS ((1ull << ' ') | (1ull << '\t') | (1ull << '\n') | (1ull << '\r'))
/* where a plain run inside a string stops: the quote, a backslash, a control character, a non-ASCII byte */
static const uint8_t STRING_STOP[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

static inline int is_digit(uint8_t c) { return (uint8_t)(c - '0') < 10; }
static inline int is_continuation(uint8_t c) { return (c & 0xc0) == 0x80; }

static inline const uint8_t *skip_white(const uint8_t *p, const uint8_t *end) {
    while (p < end && *p <= ' ' && (WHITE_BITS >> *p & 1)) p++;
    return p;
}

/* whether 8 bytes are all ASCII digits (bytewise: no carry matters, a byte that carries fails anyway) */
static inline int eight_digits(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return ((v & 0xf0f0f0f0f0f0f0f0ull) | (((v + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) >> 4)) ==
           0x3333333333333333ull;
}

static inline const uint8_t *skip_digits(const uint8_t *p, const uint8_t *end) {
    while (end - p >= 8 && eight_digits(p)) p += 8; /* floats of 16 or 17 digits are common */
    while (p < end && is_digit(*p)) p++;
    return p;
}

/* The value of n <= 19 ASCII digits. */
static inline uint64_t digits_value(const uint8_t *p, Py_ssize_t n) {
    uint64_t value = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; n >= 8; p += 8, n -= 8) { /* 8 at a time (simdjson's parse_eight_digits_unrolled) */
        uint64_t v;
        memcpy(&v, p, 8);
        v -= 0x3030303030303030ull;
        v = v * 10 + (v >> 8);
        v = ((v & 0x000000ff000000ffull) * (100 + (1000000ull << 32)) +
             ((v >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32))) >> 32;
        value = value * 100000000 + v;
    }
#endif
    for (; n > 0; p++, n--) value = value * 10 + (uint64_t)(*p - '0');
    return value;
}

/* The first byte at or after p that ends a string's plain run (STRING_STOP), or end. */
static inline const uint8_t *string_stop(const uint8_t *p, const uint8_t *end) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(' ');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        /* signed: bytes >= 0x80 are negative, so "less than a space" takes them with the controls */
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                    _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(stop);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && !STRING_STOP[*p]) p++;
    return p;
}

/* The length (2 to 4) of the UTF-8 sequence at p (p[0] >= 0x80), 0 if Python's strict decoder refuses it,
 * -1 if it may be a surrogate: 'surrogatepass' decodes ED A0..BF xx, and json reads the lone surrogate. */
static int utf8_sequence(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    Py_ssize_t room = end - p;
    if (c >= 0xc2 && c <= 0xdf) return room >= 2 && is_continuation(p[1]) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (room < 2) return 0;
        if (c == 0xed && p[1] >= 0xa0 && p[1] <= 0xbf) return -1;
        uint8_t low = c == 0xe0 ? 0xa0 : 0x80; /* E0 80..9F would be overlong */
        return p[1] >= low && p[1] <= 0xbf && room >= 3 && is_continuation(p[2]) ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (room < 4) return 0;
        uint8_t low = c == 0xf0 ? 0x90 : 0x80, high = c == 0xf4 ? 0x8f : 0xbf; /* overlong; past U+10FFFF */
        return p[1] >= low && p[1] <= high && is_continuation(p[2]) && is_continuation(p[3]) ? 4 : 0;
    }
    return 0; /* a continuation byte, C0, C1 or F5..FF */
}

/* What the bytes after the first value do to json: it decodes the whole buffer before it parses, so they
 * must be valid UTF-8 (or json raises UnicodeDecodeError) and, to stay in this file's subset, without
 * surrogates. */
static outcome check_rest(const uint8_t *p, const uint8_t *end) {
    for (;;) {
#ifdef __SSE2__
        while (end - p >= 64) { /* ASCII 64 bytes at a time */
            __m128i a = _mm_loadu_si128((const __m128i *)p), b = _mm_loadu_si128((const __m128i *)(p + 16)),
                    c = _mm_loadu_si128((const __m128i *)(p + 32)), d = _mm_loadu_si128((const __m128i *)(p + 48));
            if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)))) break;
            p += 64;
        }
#endif
        while (end - p >= 8) { /* ASCII 8 bytes at a time */
            uint64_t a;
            memcpy(&a, p, 8);
            if (a & 0x8080808080808080ull) break;
            p += 8;
        }
        while (p < end && *p < 0x80) p++;
        if (p == end) return READ_OK;
        int length = utf8_sequence(p, end);
        if (length <= 0) return length < 0 ? READ_UNSURE : READ_INVALID;
        p += length;
    }
}

/* ---- floats: does str(float(token)) begin the token (parse_json_rendered's `same`)? ---- */

typedef unsigned __int128 u128;

static const uint64_t POW10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull, 1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull,
};

static inline int bit_length_128(u128 v) {
    uint64_t high = (uint64_t)(v >> 64);
    return high ? 128 - __builtin_clzll(high) : 64 - __builtin_clzll((uint64_t)v | 1);
}

/* 1 when float(N / 10**k) is written by repr() with exactly N's digits; -1 when that is not proven (the exact
 * path decides). N has 16 or 17 significant digits, and 1e-4 <= N / 10**k < 1e16 (0 <= k <= 20).
 *
 * repr() (dtoa mode 0) writes the shortest digits that read back as x, and of those the nearest to x. N's are
 * those when (a) N reads back as x, strictly inside x's rounding interval; (b) N is nearer to x than half a
 * unit of its last digit, so no other decimal as long is as near (or exactly half, and N's last digit is the even
 * one); (c) no decimal one digit shorter (a multiple of 10 units; a shorter one of fewer leading digits would put
 * a power of ten, such a multiple, between it and x) lies in the interval, taken closed and at its wider half on
 * both sides. Exact in 128-bit integers, all scaled by 2**(s+2) * 10**k. */
static int prove_shortest(uint64_t N, int k) {
    /* x = N / 10**k, rounded to nearest even as strtod does: a quotient of 54 or 55 bits (one 128/64 division
     * while 10**k < 2**64), the rest sticky */
    u128 power = k < 20 ? (u128)POW10[k] : (u128)POW10[19] * 10;
    int shift = 54 + bit_length_128(power) - (64 - __builtin_clzll(N));
    u128 numerator = (u128)N << shift;
    uint64_t quotient = (uint64_t)(numerator / power);
    int sticky = numerator != (u128)quotient * power;
    int drop = quotient >> 54 ? 2 : 1; /* keep 53 bits and the rounding bit */
    uint64_t M = quotient >> drop, round = (quotient >> (drop - 1)) & 1;
    sticky |= drop == 2 && (quotient & 1);
    if (round && (sticky || (M & 1))) M++;
    int E = drop - shift; /* x = M * 2**E */
    if (M == 1ull << 53) {
        M >>= 1;
        E++;
    }

    int s = E < 0 ? -E : 0; /* x < 1e16 < 2**54: E <= 1, and E >= 0 only when k <= 1 */
    u128 X = ((u128)M * power) << (E + s + 2);
    u128 D = (u128)N << (s + 2);
    u128 half_up = power << (E + s + 1); /* half a unit in x's last place, up */
    u128 half_down = M == 1ull << 52 ? half_up >> 1 : half_up;
    u128 unit = (u128)1 << (s + 2);

    u128 distance = D >= X ? D - X : X - D;
    if (distance >= (D >= X ? half_up : half_down)) return -1; /* (a) */
    if (2 * distance > unit) return -1;                          /* (b) */
    /* (b) in a tie (x ends in a 5 just past N's digits): dtoa takes the even digit when both neighbours read
     * back strictly inside the interval (and the lower one at its edge otherwise: not proven here) */
    if (2 * distance == unit && ((N & 1) || distance >= half_down || distance >= half_up)) return -1;
    /* (c): the same multiple of 10 units (10 * 2**(s+2)) at or below both ends of [X - half, X + half] means
     * none inside; X / 2**(s+3) is about N / 2, so both quotients fit 64 bits */
    uint64_t below_low = (uint64_t)((X - half_up - 1) >> (s + 3)) / 5;
    uint64_t below_high = (uint64_t)((X + half_up) >> (s + 3)) / 5;
    return below_low == below_high ? 1 : -1;
}

/* 1 or 0 when the token's digits settle it, -1 when they do not. */
static int float_same_proved(const float_token *t) {
    if (t->exponent) return -1; /* the exact path */
    /* x = N / 10**places, N the digits as one integer (the point left out), while N fits 19 digits */
    const uint8_t *fraction = t->fraction;
    Py_ssize_t fraction_digits = t->fraction_digits, places = fraction_digits, digits = t->whole_digits;
    if (t->whole_digits == 1 && t->whole[0] == '0') {
        digits = 0;
        while (fraction_digits > 0 && *fraction == '0') { /* 0.000123 */
            fraction++;
            fraction_digits--;
        }
    }
    digits += fraction_digits;
    if (digits > 19) return -1;
    uint64_t N = digits_value(t->whole, t->whole_digits) * POW10[fraction_digits] +
                 digits_value(fraction, fraction_digits);
    if (N == 0) return 1; /* "0.0" or "-0.0" begins every spelling of zero JSON allows */
    while (N % 10 == 0) { /* trailing zeros */
        N /= 10;
        places--;
    }
    int bits = 64 - __builtin_clzll(N), guess = bits * 1233 >> 12; /* about bits * log10(2) */
    Py_ssize_t significant = guess - (N < POW10[guess]) + 1;
    Py_ssize_t point = significant - places; /* x = 0.DDD * 10**point */

    /* Up to 15 digits a normal double keeps any decimal (DBL_DIG): repr() gives these digits, in positional
     * form when -4 < point <= 16 (the token's form, trailing zeros after the point dropped: a prefix) and with
     * an exponent otherwise (which the token has not). Far below 1e-300 x may be subnormal or 0.0. */
    if (significant <= 15) return point > -4 && point <= 16 ? 1 : point > -300 ? 0 : -1;
    if (significant > 17 || point <= -4 || point > 16) return -1;
    /* positional, and point <= 16 < significant + 1: the last digit is after the point (places >= 0) */
    return prove_shortest(N, (int)places);
}

/* str(float(token)) against the token, as Python computes it. -1: a Python error (memory). */
static int float_same_exact(const uint8_t *token, Py_ssize_t length) {
    char small[64], *text = small;
    if (length >= (Py_ssize_t)sizeof small) {
        text = PyMem_Malloc((size_t)length + 1);
        if (text == NULL) return -1;
    }
    memcpy(text, token, (size_t)length);
    text[length] = '\0';
    char *stop;
    double x = PyOS_string_to_double(text, &stop, NULL); /* NULL: overflow gives ±inf, as float() does */
    int same = -1;
    if (stop == text + length) {
        char *rendered = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL); /* float.__repr__ */
        if (rendered != NULL) {
            size_t size = strlen(rendered);
            same = size <= (size_t)length && memcmp(rendered, token, size) == 0;
            PyMem_Free(rendered);
        }
    }
    if (text != small) PyMem_Free(text);
    if (same < 0 && PyErr_Occurred()) PyErr_Clear();
    return same;
}

static int float_same(const float_token *t) {
    int proved = float_same_proved(t);
    return proved >= 0 ? proved : float_same_exact(t->start, t->length);
}

/* Checks the floats waiting, until one does not keep its text. */
static void check_deferred(reader *r) {
    for (int i = 0; i < r->deferred && r->numbers_same && !r->failed; i++) {
        int same = float_same(&r->floats[i]);
        if (same < 0) r->failed = 1;
        else r->numbers_same = same;
    }
    r->deferred = 0;
}

/* ---- the reader ---- */

/* A number at p (p < end, *p is '-' or a digit), the longest json's scanner takes; *after is past it. */
static outcome read_number(reader *r, const uint8_t *p, const uint8_t **after) {
    const uint8_t *start = p, *end = r->end;
    int negative = *p == '-';
    if (negative) {
        p++;
        if (p == end) return READ_INVALID;
        if (*p == 'I') return READ_UNSURE; /* -Infinity: json reads it */
    }
    const uint8_t *whole = p;
    if (p < end && *p == '0') p++;
    else if (p < end && is_digit(*p)) p = skip_digits(p + 1, end);
    else return READ_INVALID;
    Py_ssize_t whole_digits = p - whole;
    const uint8_t *fraction = p;
    if (end - p >= 2 && *p == '.' && is_digit(p[1])) { /* a point only with a digit after it */
        fraction = p + 1;
        p = skip_digits(p + 2, end);
    }
    Py_ssize_t fraction_digits = p == fraction ? 0 : p - fraction;
    int exponent = 0;
    if (end - p >= 2 && (*p == 'e' || *p == 'E')) { /* an exponent only with a digit in it */
        const uint8_t *q = p + 1;
        if (end - q >= 2 && (*q == '+' || *q == '-')) q++;
        if (q < end && is_digit(*q)) {
            p = skip_digits(q + 1, end);
            exponent = 1;
        }
    }
    *after = p;
    if (!fraction_digits && !exponent) { /* an integer */
        if (whole_digits > MAX_INT_DIGITS) return READ_UNSURE;
        if (negative) r->numbers_same = 0; /* the walker also scans its unsigned twin */
    } else if (r->numbers_same) {
        if (r->deferred == DEFERRED) check_deferred(r);
        r->floats[r->deferred++] = (float_token){start, whole, fraction, p - start, whole_digits, fraction_digits,
                                                 exponent};
    }
    return READ_OK;
}

/* A string at p (*p is '"'); *after is past its closing quote. */
static inline __attribute__((always_inline)) outcome read_string(reader *r, const uint8_t *p, const uint8_t **after) {
    const uint8_t *end = r->end;
    p++;
    for (;;) {
        p = string_stop(p, end);
        if (p == end) return READ_INVALID; /* unterminated */
        uint8_t c = *p;
        if (c == '"') break;
        if (c == '\\') return READ_UNSURE; /* escapes: Python's to read */
        if (c < 0x20) return READ_INVALID; /* json.loads is strict: no raw control characters */
        int length = utf8_sequence(p, end);
        if (length <= 0) return length < 0 ? READ_UNSURE : READ_INVALID;
        r->continuation += length - 1;
        p += length;
    }
    *after = p + 1;
    return READ_OK;
}

static int literal(const uint8_t *p, const uint8_t *end, const char *word, size_t length) {
    return (size_t)(end - p) >= length && memcmp(p, word, length) == 0;
}

/* The value at *cursor (white space skipped); *cursor moves past it. An explicit stack of the containers
 * open: each holds the byte that closes it. */
static outcome read_value(reader *r, const uint8_t **cursor, int *container) {
    const uint8_t *p = *cursor, *end = r->end;
    uint8_t closers[MAX_DEPTH];
    int depth = 0;
    outcome status;
    *container = p < end && (*p == '{' || *p == '[');

value:
    if (p == end) return READ_INVALID;
    switch (*p) {
    case '{':
    case '[': {
        /* json enters a recursion level for every container, an empty one too */
        if (depth == MAX_DEPTH) return READ_UNSURE;
        uint8_t closer = *p == '{' ? '}' : ']';
        p = skip_white(p + 1, end);
        if (p < end && *p == closer) {
            p++;
            goto after_value;
        }
        closers[depth++] = closer;
        if (closer == ']') goto value;
        goto key;
    }
    case '"':
        status = read_string(r, p, &p);
        break;
    case 't':
        if (!literal(p, end, "true", 4)) return READ_INVALID;
        p += 4;
        goto after_value;
    case 'f':
        if (!literal(p, end, "false", 5)) return READ_INVALID;
        p += 5;
        goto after_value;
    case 'n':
        if (!literal(p, end, "null", 4)) return READ_INVALID;
        p += 4;
        goto after_value;
    case 'N':
    case 'I':
        return READ_UNSURE; /* NaN, Infinity (json reads them), or not: Python words it */
    default:
        if (*p != '-' && !is_digit(*p)) return READ_INVALID;
        status = read_number(r, p, &p);
        break;
    }
    if (status != READ_OK) return status;

after_value:
    if (depth == 0) {
        *cursor = p;
        return READ_OK;
    }
    p = skip_white(p, end);
    if (p == end) return READ_INVALID;
    if (*p == closers[depth - 1]) {
        p++;
        depth--;
        goto after_value;
    }
    if (*p != ',') return READ_INVALID;
    p = skip_white(p + 1, end);
    if (closers[depth - 1] == ']') goto value;

key: /* an object's member: a string, ':', a value */
    if (p == end || *p != '"') return READ_INVALID;
    status = read_string(r, p, &p);
    if (status != READ_OK) return status;
    p = skip_white(p, end);
    if (p == end || *p != ':') return READ_INVALID;
    p = skip_white(p + 1, end);
    goto value;
}

dl_json_result dl_json_read(const uint8_t *data, Py_ssize_t len) {
    dl_json_result result = {DL_JSON_UNSURE, 0, 0, 0, 0, 0};
    /* json.detect_encoding: a BOM, or a NUL in the first bytes, means another decoding than plain UTF-8 */
    if (len > 0 && (data[0] == 0xfe || data[0] == 0xff)) return result;
    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) return result;
    if (memchr(data, 0, len < 4 ? (size_t)len : 4) != NULL) return result;

    reader r;
    r.end = data + len;
    r.continuation = 0;
    r.numbers_same = 1;
    r.failed = 0;
    r.deferred = 0;
    const uint8_t *p = skip_white(data, r.end);
    int container;
    outcome status = read_value(&r, &p, &container);
    if (status != READ_OK) {
        if (status == READ_INVALID) result.status = DL_JSON_INVALID;
        return result;
    }
    p = skip_white(p, r.end);

    if (p == r.end) {
        check_deferred(&r);
        if (r.failed) return result;
        result.status = DL_JSON_WHOLE;
        result.container = container;
        result.numbers_same = r.numbers_same;
        return result;
    }

    status = check_rest(p, r.end);
    if (status != READ_OK) {
        if (status == READ_INVALID) result.status = DL_JSON_INVALID; /* UnicodeDecodeError */
        return result;
    }
    /* json's JSONDecodeError: pos in characters, the line and column of it */
    Py_ssize_t at = p - data, characters = at - r.continuation;
    const uint8_t *newline = memrchr(data, '\n', (size_t)at);
    result.status = DL_JSON_EXTRA;
    result.extra_at = characters;
    if (newline == NULL) {
        result.extra_line = 1;
        result.extra_column = characters + 1;
        return result;
    }
    /* lineno: the newlines before pos, plus one; colno: pos less the last newline's character index */
    Py_ssize_t newlines = 1, continuation_after = 0;
    for (const uint8_t *q = data; (q = memchr(q, '\n', (size_t)(newline - q))) != NULL; q++) newlines++;
    for (const uint8_t *q = newline + 1; q < p; q++) continuation_after += is_continuation(*q);
    result.extra_line = newlines + 1;
    result.extra_column = characters - ((newline - data) - (r.continuation - continuation_after));
    return result;
}

PyObject *dl_py_json_read(PyObject *module, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*:json_read", &view)) return NULL;
    dl_json_result result = dl_json_read(view.buf, view.len);
    PyBuffer_Release(&view);
    return Py_BuildValue("(iiinnn)", (int)result.status, result.container, result.numbers_same, result.extra_at,
                         result.extra_line, result.extra_column);
}
