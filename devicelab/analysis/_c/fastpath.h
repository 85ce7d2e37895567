/* devicelab.analysis._fastpath: the analysis's quiet path in C (see prove.c).
 *
 * Each file has one job: traces.c finds the byte-level traces a decoder needs (prefilter.py's trace
 * patterns) in one SIMD pass; json.c reads a JSON document's first value without building it; gate.c
 * gives a value's gate flags (hyperscan and traces.c); facts.h holds small facts of bytes, each a Python
 * helper's; prove.c follows a request's walk as decoders.Walker would, or leaves it to the walker. */
#ifndef DEVICELAB_FASTPATH_H
#define DEVICELAB_FASTPATH_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>

/* prefilter.py's flag bits (the same values) */
#define DL_NEEDLE 1u
#define DL_PCT 2u
#define DL_ESC 4u
#define DL_CTRL 8u
#define DL_SNIFF 16u
#define DL_NESTED 32u
#define DL_LAT 64u
#define DL_LON 128u
#define DL_UPPER 256u
#define DL_LOWER 512u
#define DL_SPACED 1024u
#define DL_RUN 2048u
/* traces.c's own: the second looks' patterns, answered in the same pass */
#define DL_MIXED (1u << 16)       /* _MIXED_RUN matches somewhere */
#define DL_SPACED_JSON (1u << 17) /* _SPACED_JSON matches somewhere */
#define DL_HIGH (1u << 18)        /* a byte >= 0x80 */

/* Where each %XX escape starts (grown as needed; free with dl_positions_free). */
typedef struct {
    Py_ssize_t *at;
    Py_ssize_t count, capacity;
} dl_positions;

void dl_positions_free(dl_positions *positions);

/* traces.c: the flags above that prefilter.py's _TRIGGERS, _TRACES, _RUN, _MIXED_RUN and _SPACED_JSON give
 * `data` (each: whether the pattern matches anywhere), and, when `escapes` is not NULL, where each %XX
 * escape starts. Returns -1 (a Python error set) only when memory runs out. */
int64_t dl_traces(const uint8_t *data, Py_ssize_t len, dl_positions *escapes);
/* whether dl_traces uses its vector path on this CPU (the scalar one otherwise) */
int dl_traces_vector(void);
void dl_traces_force_scalar(int scalar);

/* json.c: the first JSON value of `data`, as Python's json reads it. */
typedef enum {
    DL_JSON_UNSURE = 0, /* outside what json.c reads: ask Python's json */
    DL_JSON_WHOLE = 1,  /* one value and white space: json.loads parses it */
    DL_JSON_EXTRA = 2,  /* one value, then more: json says "Extra data" at `extra_at` */
    DL_JSON_INVALID = 3 /* json.loads refuses it (the reason is Python's to word) */
} dl_json_status;

typedef struct {
    dl_json_status status;
    int container;          /* WHOLE: the value is an object or an array */
    int numbers_same;       /* WHOLE: str() of every number is a prefix of its text (parse_json_rendered) */
    Py_ssize_t extra_at;    /* EXTRA: json's `pos` (in characters), and its line and column */
    Py_ssize_t extra_line, extra_column;
} dl_json_result;

dl_json_result dl_json_read(const uint8_t *data, Py_ssize_t len);

/* the Python-facing functions each file adds to the module (for tests and the prover's setup) */
PyObject *dl_py_traces(PyObject *module, PyObject *args);
PyObject *dl_py_json_read(PyObject *module, PyObject *args);
extern PyTypeObject dl_ProverType;
int dl_prove_ready(void); /* the types prove.c keeps to itself */

#endif
