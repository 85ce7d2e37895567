/* The Prover: a request's walk followed in C, as decoders.Walker would walk it.
 *
 * `Prover.prove(request, scratch, spots_scratch)` follows Walker.quiet and, where the body is loud, the walk of its body
 * (Walker.visit and _children), for the values it can follow here: plain text, JSON, forms, binary that is
 * not protobuf, a body that is one Base64 run, %XX escapes, a gzip Content-Encoding. It returns the notes the
 * walk would leave and the segments it would yield with a needle or a position in them (the matcher and the
 * locator read those, in Python); the walk's other segments are quiet. It returns None whenever anything
 * else could happen (a decoder it does not follow, a limit, a parse whose error only Python words): the
 * walker then decides, as it always did. So a wrong None costs time only; the prover never leaves out a
 * segment or a note the walker would give.
 *
 * Each step names the Python it stands for. tests/analysis/test_quiet_path.py holds the two side by side.
 */
#include "facts.h"
#include "prove.h"

#include <libdeflate.h>
#include <string.h>

/* The names and places every request needs, made once (dl_prove_ready). */
static struct {
    PyObject *host, *path, *headers, *content, *content_encoded; /* Request's fields */
    PyObject *base64, *urldecode, *newline;
    PyObject *body, *body_gzip; /* ("body",), ("body", "gzip") */
} names;

/* ---- notes and places ---- */

static PyObject *where_plus(PyObject *where, PyObject *label) {
    Py_ssize_t n = PyTuple_GET_SIZE(where);
    PyObject *more = PyTuple_New(n + 1);
    if (more == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(more, i, Py_NewRef(PyTuple_GET_ITEM(where, i)));
    PyTuple_SET_ITEM(more, n, Py_NewRef(label));
    return more;
}

/* Walker._note */
static int note(Walk *walk, PyObject *where, const char *decoder, PyObject *problem) {
    if (problem == NULL) return -1;
    PyObject *made = PyObject_CallFunction(walk->prover->note, "OsO", where, decoder, problem);
    Py_DECREF(problem);
    if (made == NULL) return -1;
    int known = PySequence_Contains(walk->notes, made);
    int failed = known < 0 || (!known && PyList_GET_SIZE(walk->notes) < 100 && PyList_Append(walk->notes, made) < 0);
    Py_DECREF(made);
    return failed ? -1 : 0;
}

/* Walker._take: room in the decode budget (else a note, which the walker words: defer) */
static int take(Walk *walk, Py_ssize_t size) {
    if (walk->decoded + size > walk->prover->limits.max_decoded) return DEFER;
    walk->decoded += size;
    return PROVEN;
}

/* A segment the walk yields with a needle or a position in it: the matcher and the locator read it. */
static int segment(Walk *walk, PyObject *where, PyObject *data) {
    PyObject *pair = PyTuple_Pack(2, where, data);
    if (pair == NULL) return FAILED;
    int failed = PyList_Append(walk->loud, pair);
    Py_DECREF(pair);
    return failed ? FAILED : PROVEN;
}

/* ---- the decoders followed here ---- */

/* A JSON value, in the walk (quiet: Walker._json with quiet=True) or as the walk parses it. */
static int json_step(Walk *walk, PyObject *where, const uint8_t *d, Py_ssize_t len, int declared, int quiet) {
    const Limits *limits = &walk->prover->limits;
    if (len > limits->max_json_bytes) {
        if (!declared) return PROVEN;
        return note(walk, where, "json", PyUnicode_FromFormat("%zd bytes: too large to parse as JSON", len))
                   < 0 ? FAILED : PROVEN;
    }
    dl_json_result json = dl_json_read(d, len);
    switch (json.status) {
    case DL_JSON_WHOLE:
        if (!json.container) return PROVEN; /* a bare scalar is just text */
        if (quiet && json.numbers_same &&
            count_byte(d, len, '[') + count_byte(d, len, '{') <= limits->max_nesting)
            return PROVEN; /* _structured: nothing the walk of its parts could find */
        return DEFER;      /* its parts are walked */
    case DL_JSON_EXTRA:
        if (!declared) return PROVEN;
        return note(walk, where, "json",
                    PyUnicode_FromFormat("could not decode: Extra data: line %zd column %zd (char %zd)",
                                         json.extra_line, json.extra_column, json.extra_at))
                   < 0 ? FAILED : PROVEN;
    case DL_JSON_INVALID:
        return declared ? DEFER : PROVEN; /* its note is json's to word */
    default:
        return DEFER;
    }
}

/* base64_runs.one_run over `whole` (data.strip()): the run decoded, Py_None where it is not one run. */
static PyObject *one_run(Prover *p, const uint8_t *whole, Py_ssize_t len) {
    Py_ssize_t body = len;
    while (body > 0 && whole[body - 1] == '=') body--;
    if (len - body > 2 || body < 16) Py_RETURN_NONE;
    if (memchr(whole, '\r', (size_t)body) || memchr(whole, '=', (size_t)body)) Py_RETURN_NONE;
    /* lines of it: LF only, none empty, the first at least 16 long */
    const uint8_t *first = memchr(whole, '\n', (size_t)body);
    if ((first ? first - whole : body) < 16 || whole[body - 1] == '\n') Py_RETURN_NONE;
    PyObject *compact = PyBytes_FromStringAndSize(NULL, body + 3);
    if (compact == NULL) return NULL;
    char *out = PyBytes_AS_STRING(compact);
    Py_ssize_t n = 0;
    for (const uint8_t *line = whole, *end = whole + body; line < end;) { /* a line at a time */
        const uint8_t *stop = memchr(line, '\n', (size_t)(end - line));
        if (stop == NULL) stop = end;
        if (stop == line) { /* an empty line */
            Py_DECREF(compact);
            Py_RETURN_NONE;
        }
        memcpy(out + n, line, (size_t)(stop - line));
        n += stop - line;
        line = stop + 1;
    }
    if (n % 4 == 1) { /* b64decode drops a last character alone: it must be of the standard alphabet */
        char c = out[n - 1];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/')) {
            Py_DECREF(compact);
            Py_RETURN_NONE;
        }
        n--;
    }
    while (n % 4) out[n++] = '=';
    if (_PyBytes_Resize(&compact, n) < 0) return NULL;
    PyObject *args[] = {compact, Py_True};
    PyObject *decoded = PyObject_Vectorcall(p->b64decode, args, 1, p->validate);
    Py_DECREF(compact);
    if (decoded == NULL && PyErr_ExceptionMatches(p->binascii_error)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return decoded;
}

typedef struct Known Known;
static int visit(Walk *walk, PyObject *where, PyObject *data, int depth, const char *mime, Known *known);
static int visit_value(Walk *walk, PyObject *where, PyObject *data, int depth, const char *mime, Known *known,
                       int top);

/* base64_runs.decoded_runs, where the value is one run: decoded and visited (`handled`); else the walker's. */
static int base64_step(Walk *walk, PyObject *where, const uint8_t *d, Py_ssize_t len, int depth, uint32_t flags) {
    Py_ssize_t start = 0, end = len;
    while (start < end && is_space(d[start])) start++;
    while (end > start && is_space(d[end - 1])) end--;
    if (walk->prover->limits.max_base64_runs <= 0) return DEFER;
    PyObject *decoded = one_run(walk->prover, d + start, end - start);
    if (decoded == NULL) return FAILED;
    if (decoded == Py_None) {
        Py_DECREF(decoded);
        return DEFER; /* runs among other bytes: the walker finds and decodes them */
    }
    /* the whole value's letters are the value's (strip() takes white space only); a hex digest is told
       from Base64 at its first letter past 'f' */
    int upper = (flags & DL_UPPER) != 0, lower = (flags & DL_LOWER) != 0, hexish = 1;
    for (Py_ssize_t i = start; i < end && hexish; i++) {
        uint8_t c = d[i];
        hexish = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-' ||
                 c == '\r' || c == '\n';
    }
    int result = PROVEN;
    if (!hexish && upper && lower && PyBytes_GET_SIZE(decoded) >= 4) {
        result = take(walk, PyBytes_GET_SIZE(decoded));
        if (result == PROVEN) {
            PyObject *here = where_plus(where, names.base64);
            result = here ? visit(walk, here, decoded, depth + 1, "", NULL) : FAILED;
            Py_XDECREF(here);
        }
    }
    Py_DECREF(decoded);
    return result;
}

/* percent.unescaped: `data` with its %XX escapes at `at` undone */
static PyObject *unescaped(const uint8_t *d, Py_ssize_t len, const dl_positions *at) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, len - 2 * at->count);
    if (out == NULL) return NULL;
    uint8_t *o = (uint8_t *)PyBytes_AS_STRING(out);
    Py_ssize_t done = 0;
    for (Py_ssize_t i = 0; i < at->count; i++) {
        Py_ssize_t s = at->at[i];
        memcpy(o, d + done, (size_t)(s - done));
        o += s - done;
        uint8_t hi = d[s + 1], lo = d[s + 2];
        hi = hi <= '9' ? hi - '0' : (hi | 0x20) - 'a' + 10;
        lo = lo <= '9' ? lo - '0' : (lo | 0x20) - 'a' + 10;
        *o++ = (uint8_t)(hi << 4 | lo);
        done = s + 3;
    }
    memcpy(o, d + done, (size_t)(len - done));
    return out;
}

/* What is known of a %XX-decoded copy before its visit: the needle database's flags, and where `traced`, its
 * trace flags and escapes too (then its visit makes no pass of its own over it). */
struct Known {
    uint32_t flags;
    int traced;
    dl_positions escapes;
};

/* percent.unescaped_flags: the needle database's flags of `decoded` are those of `data` and of a window around
 * each undone escape (no match is longer than the reach); one full look where escapes are everywhere.
 *
 * Where `data` has a control byte, so has the copy: it is loud whatever else its traces say, and the walk asks
 * of them only RUN, where the escapes are and (with RUN and both cases) _MIXED_RUN. Those are told from `data`
 * and the windows too: a run or an escape the copy has and `data` had not takes in an undone escape's byte; a
 * run or a control byte of `data` stays in the copy. Then the copy is not read again (a 64 KB pass). */
static int unescaped_flags(Walk *walk, PyObject *decoded, const dl_positions *at, uint32_t data_flags,
                           Known *known) {
    Py_ssize_t reach = walk->prover->reach, len = PyBytes_GET_SIZE(decoded);
    known->traced = 0;
    if (at->count * 2 * reach > len / 2) return dl_needles(walk, decoded, &known->flags);
    int traced = (data_flags & DL_CTRL) != 0;
    uint32_t seen = data_flags & (DL_NEEDLE | DL_LAT | DL_LON), traces = data_flags & ~(DL_PCT | DL_MIXED);
    const char *d = PyBytes_AS_STRING(decoded);
    Py_ssize_t i = 0;
    while (i < at->count) {
        /* windows that overlap are looked at as one */
        Py_ssize_t first = at->at[i] - 2 * i, lo = first - reach > 0 ? first - reach : 0, hi = first + reach + 1;
        for (i++; i < at->count && at->at[i] - 2 * i - reach <= hi; i++) hi = at->at[i] - 2 * i + reach + 1;
        if (hi > len) hi = len;
        PyObject *window = PyBytes_FromStringAndSize(d + lo, hi - lo);
        uint32_t found;
        int failed = window == NULL || dl_needles(walk, window, &found) < 0;
        if (!failed && traced) {
            dl_positions here = {NULL, 0, 0};
            int64_t flags = dl_traces((const uint8_t *)d + lo, hi - lo, &here);
            for (Py_ssize_t e = 0; flags >= 0 && e < here.count; e++) {
                if (known->escapes.count == known->escapes.capacity) {
                    Py_ssize_t capacity = known->escapes.capacity ? known->escapes.capacity * 2 : 8;
                    Py_ssize_t *grown = PyMem_Realloc(known->escapes.at, (size_t)capacity * sizeof *grown);
                    if (grown == NULL) {
                        PyErr_NoMemory();
                        flags = -1;
                        break;
                    }
                    known->escapes.at = grown;
                    known->escapes.capacity = capacity;
                }
                known->escapes.at[known->escapes.count++] = lo + here.at[e];
            }
            dl_positions_free(&here);
            failed = flags < 0;
            traces |= (uint32_t)(flags < 0 ? 0 : flags) & ~DL_MIXED;
        }
        Py_XDECREF(window);
        if (failed) return -1;
        seen |= found;
    }
    known->flags = seen;
    /* _MIXED_RUN has no bound on its length: where it could decide, the copy is read whole */
    if (traced && !((traces & DL_RUN) && (traces & DL_UPPER) && (traces & DL_LOWER))) {
        known->traced = 1;
        known->flags |= (traces & ~(DL_NEEDLE | DL_LAT | DL_LON)) | (known->escapes.count ? DL_PCT : 0);
    }
    return 0;
}

/* Walker._quiet's counts: the walk of the parts of `data` reaches no limit and takes apart no container. */
static int within_limits(Walk *walk, const uint8_t *d, Py_ssize_t len, uint32_t flags, const char *mime) {
    const Limits *limits = &walk->prover->limits;
    if (strncmp(mime, "multipart/", 10) == 0 || strstr(mime, "protobuf") != NULL) return 0;
    if (walk->segments + 2 * len + 64 >= limits->max_segments) return 0;
    if (len >= limits->max_fields && memchr(d, '&', (size_t)len) && count_byte(d, len, '&') >= limits->max_fields)
        return 0;
    return 1;
}

/* Walker._many_runs could say yes (the walker counts them, and notes past the bound) */
static int many_runs(const Limits *limits, Py_ssize_t len, uint32_t flags) {
    int one_case = (flags & (DL_UPPER | DL_LOWER)) != (DL_UPPER | DL_LOWER);
    long most = one_case ? limits->max_base64_looked
                         : (limits->max_base64_runs < limits->max_base64_looked ? limits->max_base64_runs
                                                                                : limits->max_base64_looked);
    return len >= 17 * (Py_ssize_t)most - 1 && (flags & DL_RUN);
}

/* Walker._fields of a form that is plain (Walker._plain: a needle in it, no decoder's trace, no hint), with
 * parts.quiet_parts' choice of the fields to visit: those its spots show a needle in, and long ones (each is a
 * quiet segment unless the gate sees a needle in it). Only where parse_qsl's fields are the value's own bytes
 * (no '+') and there are at least parts.BATCH of them (fewer: their FieldGroup goes to the locator). */
static int form_step(Walk *walk, PyObject *where, PyObject *data, int depth, uint32_t flags) {
    const Limits *limits = &walk->prover->limits;
    const uint8_t *d = (const uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (!(flags & DL_NEEDLE) || (flags & (DL_LAT | DL_LON)) || loud(flags & ~DL_NEEDLE, len) ||
        memchr(d, '+', (size_t)len) != NULL)
        return DEFER;
    /* the fields: (start of the key, '=' or the end, end of the value); parse_qsl skips empty pieces */
    Py_ssize_t count = 0, capacity = 1 + count_byte(d, len, '&');
    Py_ssize_t(*fields)[3] = PyMem_Malloc((size_t)capacity * sizeof *fields);
    uint8_t *loud_field = PyMem_Calloc((size_t)capacity, 1);
    Py_ssize_t *starts = PyMem_Malloc((size_t)(capacity + 1) * sizeof *starts);
    PyObject *joined = NULL;
    Spots *spots = NULL;
    int result = FAILED;
    if (fields == NULL || loud_field == NULL || starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t at = 0; at <= len;) {
        const uint8_t *amp = memchr(d + at, '&', (size_t)(len - at));
        Py_ssize_t end = amp ? amp - d : len;
        if (end > at) {
            const uint8_t *eq = memchr(d + at, '=', (size_t)(end - at));
            fields[count][0] = at;
            fields[count][1] = eq ? eq - d + 1 : end; /* where the value starts */
            fields[count][2] = end;
            count++;
        }
        at = end + 1;
    }
    result = DEFER;
    if (count < 8 || walk->segments + count >= limits->max_segments) goto done;
    /* parts._spotted: the values after a quote each, in one buffer; a spot belongs to the value its last byte
       is in (or the quote after it) */
    Py_ssize_t size = 1;
    for (Py_ssize_t f = 0; f < count; f++) size += fields[f][2] - fields[f][1] + 1;
    joined = PyBytes_FromStringAndSize(NULL, size - 1);
    if (joined == NULL) {
        result = FAILED;
        goto done;
    }
    char *out = PyBytes_AS_STRING(joined);
    Py_ssize_t at = 0, seen = 0;
    for (Py_ssize_t f = 0; f < count; f++) {
        out[at++] = '"';
        starts[f] = at;
        Py_ssize_t run = 0;
        for (Py_ssize_t i = fields[f][1]; i < fields[f][2]; i++) {
            out[at++] = (char)d[i];
            run = is_alphabet(d[i]) ? run + 1 : 0;
            seen += run == 16; /* prefilter._RUN_START: one spot per run */
        }
    }
    starts[count] = at + 1;
    spots = dl_spots_of(walk, joined);
    if (spots == NULL) {
        result = FAILED;
        goto done;
    }
    seen += spots->count;
    if (seen > 64 + count) goto done; /* Gate.spots gives up: the walker visits every field */
    for (Py_ssize_t i = 0; i < spots->count; i++) {
        Py_ssize_t last = spots->ends[i] - 1, f = 0;
        while (f + 1 < count && starts[f + 1] <= last) f++;
        loud_field[f] = 1;
    }
    walk->segments += count; /* each field is one segment: counted, or visited below */
    result = PROVEN;
    for (Py_ssize_t f = 0; f < count && result == PROVEN; f++) {
        Py_ssize_t value = fields[f][1], value_len = fields[f][2] - fields[f][1];
        if (!loud_field[f] && value_len < GATED) continue;
        PyObject *value_data = PyBytes_FromStringAndSize((const char *)d + value, value_len);
        uint32_t found = 0;
        if (value_data == NULL || dl_needles(walk, value_data, &found) < 0) {
            Py_XDECREF(value_data);
            result = FAILED;
            break;
        }
        if (quiet_segment(found)) { /* Walker.visit with `plain`: a quiet segment, nothing under it */
            Py_DECREF(value_data);
            continue;
        }
        PyObject *key = PyUnicode_DecodeUTF8((const char *)d + fields[f][0],
                                             (value > fields[f][0] && d[value - 1] == '=' ? value - 1 : value) -
                                                 fields[f][0],
                                             "surrogateescape");
        PyObject *label = key ? PyUnicode_FromFormat("form:%U", key) : NULL;
        PyObject *here = label ? where_plus(where, label) : NULL;
        walk->segments--; /* its visit counts it */
        result = here ? visit(walk, here, value_data, depth + 1, "", NULL) : FAILED;
        Py_XDECREF(key);
        Py_XDECREF(label);
        Py_XDECREF(here);
        Py_DECREF(value_data);
    }
done:
    PyMem_Free(fields);
    PyMem_Free(loud_field);
    PyMem_Free(starts);
    Py_XDECREF(joined);
    Py_XDECREF(spots);
    return result;
}

/* Walker._children for a value the gate has looked at (`flags`, unless `gated` is 0: a short value). */
static int children(Walk *walk, PyObject *where, PyObject *data, int depth, const char *mime, uint32_t flags,
                    int gated, int top, const dl_positions *escapes) {
    const Limits *limits = &walk->prover->limits;
    const uint8_t *d = (const uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (sniffed(d, len)) return DEFER;
    if (strncmp(mime, "multipart/", 10) == 0) return DEFER;
    /* Walker.quiet weighs the body's flags whatever its length; the walk, those of a gated value */
    int quiet = (gated || top) && !loud(flags, len) && within_limits(walk, d, len, flags, mime);
    if (quiet && many_runs(limits, len, flags)) return DEFER; /* the walker counts them */
    int declared = json_declared(mime);
    if (declared || looks_like_json(d, len)) {
        int result = json_step(walk, where, d, len, declared, quiet);
        if (result != PROVEN) return result;
    }
    if (quiet) return PROVEN; /* forms, protobuf, Base64 and %XX: nothing to decode, nothing to note */
    if (strcmp(mime, FORM_MIME) == 0 || looks_like_form(d, len))
        return gated && within_limits(walk, d, len, flags, mime) && !many_runs(limits, len, flags)
                   ? form_step(walk, where, data, depth, flags)
                   : DEFER;
    if (strstr(mime, "protobuf") != NULL) return DEFER;
    if ((!gated || (flags & DL_CTRL)) && binary(d, len) && len <= limits->max_protobuf_bytes &&
        !(d[0] < 8 || unframed(d, len)))
        return DEFER; /* bbpb may frame it */
    if (many_runs(limits, len, flags)) return DEFER; /* (a short value too, where the limits are tight) */
    if (mixed(flags, len) || (!gated && (flags & DL_RUN) && (flags & DL_MIXED))) {
        int result = base64_step(walk, where, d, len, depth, flags);
        if (result != PROVEN) return result;
    }
    if (flags & DL_PCT) {
        PyObject *decoded = unescaped(d, len, escapes);
        if (decoded == NULL) return FAILED;
        int result = take(walk, PyBytes_GET_SIZE(decoded));
        if (result == PROVEN) {
            Known known = {0, 0, {NULL, 0, 0}};
            PyObject *here = where_plus(where, names.urldecode);
            result = here == NULL || unescaped_flags(walk, decoded, escapes, flags, &known) < 0
                         ? FAILED
                         : visit(walk, here, decoded, depth + 1, "", &known);
            Py_XDECREF(here);
            dl_positions_free(&known.escapes);
        }
        Py_DECREF(decoded);
        return result;
    }
    return PROVEN;
}

/* Walker.visit in the walk: the value is one segment (quiet, or the prover defers), then what it decodes to.
 * `known`: what unescaped_flags told of `data` (percent's copy). */
static int visit(Walk *walk, PyObject *where, PyObject *data, int depth, const char *mime, Known *known) {
    return visit_value(walk, where, data, depth, mime, known, 0);
}

static int visit_value(Walk *walk, PyObject *where, PyObject *data, int depth, const char *mime, Known *known,
                       int top) {
    const Limits *limits = &walk->prover->limits;
    const uint8_t *d = (const uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (++walk->segments >= limits->max_segments) return DEFER;
    dl_positions escapes = {NULL, 0, 0};
    uint32_t flags = 0;
    int result;
    if (known != NULL && known->traced) { /* its traces and escapes were told from the windows */
        result = PROVEN;
        flags = known->flags;
        escapes = known->escapes;
        known->escapes = (dl_positions){NULL, 0, 0};
    } else if (known != NULL) {
        int64_t traces = dl_traces(d, len, &escapes);
        result = traces < 0 ? FAILED : PROVEN;
        flags = known->flags | (uint32_t)(traces < 0 ? 0 : traces);
    } else {
        result = dl_probe(walk, data, &flags, &escapes) < 0 ? FAILED : PROVEN;
    }
    if (result == PROVEN && !quiet_segment(flags)) result = segment(walk, where, data); /* the matcher's */
    int decodable = depth < limits->max_depth && (len >= MIN_DECODABLE || (len > 2 && binary(d, len)));
    if (result == PROVEN && decodable) result = children(walk, where, data, depth, mime, flags, len >= GATED, top, &escapes);
    dl_positions_free(&escapes);
    return result;
}

/* ---- the request ---- */

static PyObject *header(PyObject *headers, const char *wanted) {
    size_t n = strlen(wanted);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(headers); i++) {
        PyObject *pair = PyTuple_GET_ITEM(headers, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) continue;
        Py_ssize_t len;
        const char *name = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &len);
        if (name == NULL) {
            PyErr_Clear();
            continue;
        }
        if ((size_t)len == n && strncasecmp(name, wanted, n) == 0) return PyTuple_GET_ITEM(pair, 1);
    }
    return NULL;
}

/* "\n".join([host, path, *header values]).encode("utf-8", "surrogateescape"): what Walker.quiet probes first */
static PyObject *head_bytes(PyObject *host, PyObject *path, PyObject *headers) {
    Py_ssize_t n = PyTuple_GET_SIZE(headers);
    PyObject *parts = PyList_New(0);
    if (parts == NULL) return NULL;
    if (PyList_Append(parts, host) < 0 || PyList_Append(parts, path) < 0) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(headers, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || PyList_Append(parts, PyTuple_GET_ITEM(pair, 1)) < 0)
            goto fail;
    }
    PyObject *joined = PyUnicode_Join(names.newline, parts);
    Py_DECREF(parts);
    if (joined == NULL) return NULL;
    PyObject *encoded = PyUnicode_AsEncodedString(joined, "utf-8", "surrogateescape");
    Py_DECREF(joined);
    return encoded;
fail:
    Py_DECREF(parts);
    return NULL;
}

/* compression._zlib's common case: one whole gzip member within the limit, no second one after it; None where
 * the walker decides. libdeflate inflates a whole buffer in half zlib's time, into the size the member's
 * trailer gives (a trailer that lies makes it refuse: the walker's). */
static PyObject *gunzip(const uint8_t *d, Py_ssize_t len, Py_ssize_t limit) {
    static __thread struct libdeflate_decompressor *inflater;
    /* FHCRC: zlib checks the header's CRC and libdeflate does not, so such a member is the walker's */
    if (len < 18 || d[0] != 0x1f || d[1] != 0x8b || (d[3] & 0x02)) Py_RETURN_NONE;
    uint32_t size = (uint32_t)d[len - 4] | (uint32_t)d[len - 3] << 8 | (uint32_t)d[len - 2] << 16 |
                    (uint32_t)d[len - 1] << 24;
    if ((Py_ssize_t)size > limit) Py_RETURN_NONE;
    if (inflater == NULL && (inflater = libdeflate_alloc_decompressor()) == NULL) return PyErr_NoMemory();
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL) return NULL;
    size_t used = 0, made = 0;
    enum libdeflate_result result = libdeflate_gzip_decompress_ex(inflater, d, (size_t)len, PyBytes_AS_STRING(out),
                                                                  size, &used, &made);
    if (result != LIBDEFLATE_SUCCESS || made != size || used != (size_t)len) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

static int is_gzip(PyObject *encoding) {
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(encoding, &len);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    while (len > 0 && (*s == ' ' || *s == '\t')) s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    return (len == 4 && strncasecmp(s, "gzip", 4) == 0) || (len == 6 && strncasecmp(s, "x-gzip", 6) == 0);
}

/* Walker.quiet, and where the body is loud, Walker.walk's body. */
static int prove_request(Walk *walk, PyObject *request) {
    Prover *p = walk->prover;
    const Limits *limits = &p->limits;
    int result = FAILED;
    PyObject *host = PyObject_GetAttr(request, names.host);
    PyObject *path = PyObject_GetAttr(request, names.path);
    PyObject *headers = PyObject_GetAttr(request, names.headers);
    PyObject *content = PyObject_GetAttr(request, names.content);
    PyObject *encoded_attr = PyObject_GetAttr(request, names.content_encoded);
    PyObject *small = NULL, *data = NULL, *where = NULL;
    if (!host || !path || !headers || !content || !encoded_attr) goto done;
    if (!PyUnicode_Check(host) || !PyUnicode_Check(path) || !PyTuple_Check(headers) || !PyBytes_Check(content)) {
        result = DEFER;
        goto done;
    }
    small = head_bytes(host, path, headers);
    if (small == NULL) {
        PyErr_Clear(); /* a value that is not text: the walker's */
        result = DEFER;
        goto done;
    }
    uint32_t flags;
    if (dl_probe(walk, small, &flags, NULL) < 0) goto done;
    Py_ssize_t path_len;
    const char *path_s = PyUnicode_AsUTF8AndSize(path, &path_len);
    if (path_s == NULL) goto done;
    const char *query = memchr(path_s, '?', (size_t)path_len);
    Py_ssize_t fields = query ? count_byte((const uint8_t *)query, path_s + path_len - query, '&') + 1 : 1;
    Py_ssize_t n_headers = PyTuple_GET_SIZE(headers), body_len = PyBytes_GET_SIZE(content);
    if (!quiet_segment(flags) || loud(flags, PyBytes_GET_SIZE(small)) || fields > limits->max_fields ||
        2 * (PyBytes_GET_SIZE(small) + body_len) + 64 * (n_headers + 4) >= limits->max_segments) {
        result = DEFER;
        goto done;
    }
    if (body_len == 0) {
        result = PROVEN;
        goto done;
    }
    /* the walk counts each value of the head (host, URL, query fields, headers, cookies): fewer than the
       bytes of the head and its headers */
    walk->segments = 2 + PyBytes_GET_SIZE(small) + n_headers;
    char mime[256];
    PyObject *ctype = header(headers, "content-type");
    if (ctype == NULL) ctype = PyUnicode_FromString("");
    else Py_INCREF(ctype);
    int simple = ctype != NULL && PyUnicode_Check(ctype) && mime_of(ctype, mime, sizeof mime);
    Py_XDECREF(ctype);
    if (!simple) {
        result = ctype == NULL ? FAILED : DEFER;
        goto done;
    }
    PyObject *encoding = PyObject_IsTrue(encoded_attr) ? header(headers, "content-encoding") : NULL;
    int raw = encoding != NULL && PyUnicode_Check(encoding) && PyUnicode_GET_LENGTH(encoding) > 0;
    if (raw) {
        if (!is_gzip(encoding)) {
            result = DEFER;
            goto done;
        }
        uint32_t raw_flags;
        if (dl_needles(walk, content, &raw_flags) < 0) goto done;
        if (!quiet_segment(raw_flags)) { /* the encoded body is a segment of the walk's too */
            result = segment(walk, names.body, content);
            if (result != PROVEN) goto done;
        }
        data = gunzip((const uint8_t *)PyBytes_AS_STRING(content), body_len, limits->max_decoded);
        if (data == NULL) goto done;
        if (data == Py_None) {
            result = DEFER;
            goto done;
        }
        walk->decoded = PyBytes_GET_SIZE(data);
        walk->segments++; /* the encoded body is a segment of its own */
        where = Py_NewRef(names.body_gzip);
    } else {
        data = Py_NewRef(content);
        where = Py_NewRef(names.body);
    }
    if (where == NULL) goto done;
    /* Walker.quiet's look at the body, then, where the body is loud, the walk's visit of it */
    const uint8_t *d = (const uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (len < MIN_DECODABLE && !(len > 2 && binary(d, len))) {
        /* too short to decode: one segment, quiet when the gate sees no needle in it */
        uint32_t found;
        if (dl_needles(walk, data, &found) < 0) goto done;
        result = quiet_segment(found) ? PROVEN : segment(walk, where, data);
        goto done;
    }
    result = visit_value(walk, where, data, 0, mime, NULL, 1);
done:
    Py_XDECREF(host);
    Py_XDECREF(path);
    Py_XDECREF(headers);
    Py_XDECREF(content);
    Py_XDECREF(encoded_attr);
    Py_XDECREF(small);
    Py_XDECREF(data);
    Py_XDECREF(where);
    return result;
}

static PyObject *Prover_prove(Prover *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "prove(request, scratch, spots_scratch)");
        return NULL;
    }
    Walk walk = {self, args[1], args[2], PyList_New(0), PyList_New(0), 0, 0};
    PyObject *out = NULL;
    if (walk.notes != NULL && walk.loud != NULL) {
        int result = prove_request(&walk, args[0]);
        if (result == PROVEN) out = Py_BuildValue("(NN)", PyList_AsTuple(walk.notes), PyList_AsTuple(walk.loud));
        else if (result == DEFER) out = Py_NewRef(Py_None);
    }
    Py_XDECREF(walk.notes);
    Py_XDECREF(walk.loud);
    return out;
}

static int read_limit(PyObject *limits, const char *name, long *out) {
    PyObject *value = PyObject_GetAttrString(limits, name);
    if (value == NULL) return -1;
    *out = PyLong_AsLong(value);
    Py_DECREF(value);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* Prover(db, spots_db, bits, reach, limits, note, b64decode, binascii_error) */
static int Prover_init(Prover *self, PyObject *args, PyObject *kwds) {
    PyObject *db, *spots_db, *bits, *note, *b64decode, *error, *limits;
    Py_ssize_t reach;
    static char *kw[] = {"db", "spots_db", "bits", "reach", "limits", "note", "b64decode", "binascii_error", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOnOOOO", kw, &db, &spots_db, &bits, &reach, &limits, &note,
                                     &b64decode, &error))
        return -1;
    Py_XSETREF(self->spots_db, Py_NewRef(spots_db));
    Py_XSETREF(self->spot_handler, dl_spot_handler());
    PyObject *seq = PySequence_Fast(bits, "bits: a sequence of flags");
    if (seq == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint32_t *table = PyMem_Calloc((size_t)(n ? n : 1), sizeof *table);
    if (table == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) table[i] = (uint32_t)PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(seq, i));
    Py_DECREF(seq);
    if (PyErr_Occurred()) {
        PyMem_Free(table);
        return -1;
    }
    long decoded, json_bytes, protobuf_bytes;
    Limits l;
    if (read_limit(limits, "max_depth", &l.max_depth) < 0 || read_limit(limits, "max_segments", &l.max_segments) < 0 ||
        read_limit(limits, "max_nesting", &l.max_nesting) < 0 ||
        read_limit(limits, "max_base64_runs", &l.max_base64_runs) < 0 ||
        read_limit(limits, "max_base64_looked", &l.max_base64_looked) < 0 ||
        read_limit(limits, "max_fields", &l.max_fields) < 0 || read_limit(limits, "max_decoded", &decoded) < 0 ||
        read_limit(limits, "max_json_bytes", &json_bytes) < 0 ||
        read_limit(limits, "max_protobuf_bytes", &protobuf_bytes) < 0) {
        PyMem_Free(table);
        return -1;
    }
    l.max_decoded = decoded;
    l.max_json_bytes = json_bytes;
    l.max_protobuf_bytes = protobuf_bytes;
    PyMem_Free(self->bits);
    self->bits = table;
    self->nbits = n;
    self->reach = reach;
    self->limits = l;
    Py_XSETREF(self->db, Py_NewRef(db));
    Py_XSETREF(self->note, Py_NewRef(note));
    Py_XSETREF(self->b64decode, Py_NewRef(b64decode));
    Py_XSETREF(self->binascii_error, Py_NewRef(error));
    Py_XSETREF(self->handler, dl_match_handler());
    Py_XSETREF(self->scan, PyUnicode_InternFromString("scan"));
    Py_XSETREF(self->kwnames, Py_BuildValue("(sss)", "match_event_handler", "context", "scratch"));
    Py_XSETREF(self->validate, Py_BuildValue("(s)", "validate"));
    return self->handler && self->spot_handler && self->scan && self->kwnames && self->validate ? 0 : -1;
}

static void Prover_dealloc(Prover *self) {
    PyMem_Free(self->bits);
    Py_XDECREF(self->db);
    Py_XDECREF(self->spots_db);
    Py_XDECREF(self->spot_handler);
    Py_XDECREF(self->note);
    Py_XDECREF(self->b64decode);
    Py_XDECREF(self->binascii_error);
    Py_XDECREF(self->handler);
    Py_XDECREF(self->scan);
    Py_XDECREF(self->kwnames);
    Py_XDECREF(self->validate);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef prover_methods[] = {
    {"prove", (PyCFunction)(void (*)(void))Prover_prove, METH_FASTCALL,
     "prove(request, scratch, spots_scratch) -> (notes, segments) the walk would leave and yield with a needle or a position "
     "in them, as (where, data); or None: the walker decides"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject dl_ProverType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "devicelab.analysis._fastpath.Prover",
    .tp_basicsize = sizeof(Prover),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A request proven quiet as decoders.Walker would find it (see prove.c).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Prover_init,
    .tp_dealloc = (destructor)Prover_dealloc,
    .tp_methods = prover_methods,
};

int dl_prove_ready(void) {
    names.host = PyUnicode_InternFromString("host");
    names.path = PyUnicode_InternFromString("path");
    names.headers = PyUnicode_InternFromString("headers");
    names.content = PyUnicode_InternFromString("content");
    names.content_encoded = PyUnicode_InternFromString("content_encoded");
    names.base64 = PyUnicode_InternFromString("base64");
    names.urldecode = PyUnicode_InternFromString("urldecode");
    names.newline = PyUnicode_InternFromString("\n");
    names.body = Py_BuildValue("(s)", "body");
    names.body_gzip = Py_BuildValue("(ss)", "body", "gzip");
    if (!names.host || !names.path || !names.headers || !names.content || !names.content_encoded || !names.base64 ||
        !names.urldecode || !names.newline || !names.body || !names.body_gzip)
        return -1;
    return dl_gate_ready();
}
