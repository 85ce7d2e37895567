/* Small facts of bytes and of a Content-Type, each a Python helper's (named beside it), for prove.c. */
#ifndef DEVICELAB_FACTS_H
#define DEVICELAB_FACTS_H

#include "fastpath.h"

#include <string.h>

static inline int is_space(uint8_t c) { /* bytes.strip()'s white space */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0b || c == 0x0c;
}

static inline int is_control(uint8_t c) { return c <= 0x08 || (c >= 0x0e && c <= 0x1a); }

/* decoders._binary: a control byte within the first 4096 */
static inline int binary(const uint8_t *data, Py_ssize_t len) {
    Py_ssize_t end = len < 4096 ? len : 4096;
    for (Py_ssize_t i = 0; i < end; i++)
        if (is_control(data[i])) return 1;
    return 0;
}

/* compression.sniff: magic bytes at the start */
static inline int sniffed(const uint8_t *d, Py_ssize_t len) {
    if (len >= 3 && d[0] == 0x1f && d[1] == 0x8b && d[2] == 0x08) return 1;
    if (len >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd) return 1;
    return len >= 2 && d[0] == 0x78 && ((0x78 << 8) | d[1]) % 31 == 0;
}

/* structured.looks_like_json: the first of the first 64 bytes that is not white space opens an object or array */
static inline int looks_like_json(const uint8_t *d, Py_ssize_t len) {
    Py_ssize_t end = len < 64 ? len : 64, i = 0;
    while (i < end && is_space(d[i])) i++;
    return i < end && (d[i] == '{' || d[i] == '[');
}

static inline int form_key_char(uint8_t c) { /* structured._FORM's key: [A-Za-z0-9_.\-\[\]%*+] */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == '[' || c == ']' || c == '%' || c == '*' || c == '+';
}

/* structured.looks_like_form: _FORM.fullmatch(data.strip()). Its pieces between '&' are each a key of 1 to 64
 * key characters, with '=' and a value of no white space after it (the first piece must have one, not
 * starting with '='); one '&' may end it. */
static inline int looks_like_form(const uint8_t *d, Py_ssize_t len) {
    Py_ssize_t start = 0, end = len;
    while (start < end && is_space(d[start])) start++;
    while (end > start && is_space(d[end - 1])) end--;
    if (start == end) return 0;
    for (Py_ssize_t at = start, piece = 0; at <= end; piece++) {
        const uint8_t *amp = memchr(d + at, '&', (size_t)(end - at));
        Py_ssize_t stop = amp ? amp - d : end;
        if (stop == at) return piece > 0 && stop == end; /* an empty piece: only the one after a last '&' */
        Py_ssize_t key = at;
        while (key < stop && key - at < 64 && form_key_char(d[key])) key++;
        if (key == at) return 0;
        if (key < stop && d[key] != '=') return 0; /* a 65th key character, or another */
        if (piece == 0 && (key == stop || key + 1 == stop || d[key + 1] == '=')) return 0;
        for (Py_ssize_t i = key; i < stop; i++)
            if (is_space(d[i])) return 0;
        at = stop + 1;
    }
    return 1;
}

static inline Py_ssize_t count_byte(const uint8_t *d, Py_ssize_t len, uint8_t c) {
    Py_ssize_t n = 0;
    for (const uint8_t *at = d, *end = d + len; (at = memchr(at, c, (size_t)(end - at))) != NULL; at++) n++;
    return n;
}

/* structured._uvarint: a varint as bbpb reads one; -1 where bbpb refuses it */
static inline int uvarint(const uint8_t *d, Py_ssize_t len, Py_ssize_t *pos, uint64_t *value) {
    Py_ssize_t start = *pos;
    uint64_t v = 0;
    int shift = 0;
    if (*pos >= len) return -1;
    uint8_t byte = d[*pos];
    while (byte & 0x80) {
        if (shift == 63) return -1;
        v |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
        if (++*pos >= len) return -1;
        byte = d[*pos];
    }
    /* the last byte's bits past 64 make the value larger than bbpb's largest varint */
    if (shift == 63 && byte > 1) return -1;
    v |= (uint64_t)byte << shift;
    ++*pos;
    if (byte == 0 && *pos - start > 1) return -1;
    *value = v;
    return 0;
}

/* structured.unframed: bbpb's first pass over the fields would raise */
static inline int unframed(const uint8_t *d, Py_ssize_t len) {
    /* a field number seen with another wire type: field numbers are bounded by the bytes, so a small table
       covers the usual ones and the rest are remembered in a list */
    Py_ssize_t pos = 0;
    uint64_t seen_numbers[64];
    uint8_t seen_wires[64];
    int seen = 0;
    while (pos < len) {
        uint64_t tag, value;
        if (uvarint(d, len, &pos, &tag) < 0) return 1;
        uint8_t wire = tag & 7;
        uint64_t number = tag >> 3;
        int known = 0;
        for (int i = 0; i < seen; i++) {
            if (seen_numbers[i] == number) {
                if (seen_wires[i] != wire) return 1;
                known = 1;
                break;
            }
        }
        if (!known) {
            if (seen == 64) return 0; /* many fields: bbpb's own reading decides */
            seen_numbers[seen] = number;
            seen_wires[seen++] = wire;
        }
        Py_ssize_t length;
        if (wire == 0) {
            Py_ssize_t after = pos;
            if (uvarint(d, len, &after, &value) < 0) return 1;
            length = after - pos;
        } else if (wire == 1) {
            length = 8;
        } else if (wire == 5) {
            length = 4;
        } else if (wire == 2) {
            Py_ssize_t after = pos;
            if (uvarint(d, len, &after, &value) < 0) return 1;
            if (value >= (uint64_t)1 << 63) return 0;
            if (value > (uint64_t)len) return 1;
            length = (Py_ssize_t)value + after - pos;
        } else {
            return 1;
        }
        if (pos + length > len) return 1;
        pos += length;
    }
    return 0;
}

/* ---- the Content-Type, as structured.mime_type reads it ---- */

/* email.Message's get_content_type for a printable ASCII value: the part before ';', stripped and lower-cased,
 * "text/plain" unless it holds exactly one '/'. 0: another value (the prover defers). */
static inline int mime_of(PyObject *ctype, char *out, size_t size) {
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(ctype, &len);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (len == 0) { /* no Content-Type: no media type (the walker's "" ) */
        out[0] = '\0';
        return 1;
    }
    Py_ssize_t end = 0, start = 0;
    for (; end < len && s[end] != ';'; end++)
        if ((unsigned char)s[end] < 0x20 || (unsigned char)s[end] > 0x7e) return 0;
    for (Py_ssize_t i = end; i < len; i++) /* the parameters, too: email reads them */
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
    while (start < end && s[start] == ' ') start++;
    while (end > start && s[end - 1] == ' ') end--;
    if ((size_t)(end - start) >= size) return 0;
    int slashes = 0;
    for (Py_ssize_t i = start; i < end; i++) {
        char c = s[i];
        slashes += c == '/';
        out[i - start] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    out[end - start] = '\0';
    if (slashes != 1) strcpy(out, "text/plain");
    return 1;
}

static inline int json_declared(const char *mime) { /* structured.is_json_type */
    const char *slash = strchr(mime, '/');
    if (slash == NULL) return 0;
    const char *sub = slash + 1;
    size_t n = strlen(sub);
    return strcmp(sub, "json") == 0 || (n >= 5 && strcmp(sub + n - 5, "+json") == 0);
}

static inline int is_alphabet(uint8_t c) { /* prefilter._RUN's */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
           c == '_' || c == '-';
}

#endif
