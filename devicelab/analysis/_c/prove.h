/* What prove.c and gate.c share: the Prover, one walk's state, and the gate's flags of a value. */
#ifndef DEVICELAB_PROVE_H
#define DEVICELAB_PROVE_H

#include "fastpath.h"

#define LOUD (DL_NEEDLE | DL_PCT | DL_ESC | DL_CTRL | DL_SNIFF | DL_NESTED)
#define MIN_DECODABLE 12 /* decoders._MIN_DECODABLE */
#define GATED 256        /* parts.GATED: shorter values are walked without the gate's flags */
#define FORM_MIME "application/x-www-form-urlencoded"

/* what each step of the walk answers */
enum { PROVEN = 0, DEFER = 1, FAILED = -1 };

typedef struct {
    long max_depth, max_segments, max_nesting, max_base64_runs, max_base64_looked, max_fields;
    Py_ssize_t max_decoded, max_json_bytes, max_protobuf_bytes;
} Limits;

typedef struct {
    PyObject_HEAD
    PyObject *db;        /* the gate's needle database: every needle form and the hints (SINGLEMATCH) */
    PyObject *spots_db;  /* the needles, each match reported: where they are (Gate.spots' needles) */
    uint32_t *bits;      /* pattern id -> flag */
    Py_ssize_t nbits;
    Py_ssize_t reach;    /* no pattern of `db` matches more bytes than this (Gate.reach) */
    Limits limits;
    PyObject *note;      /* segments.Note */
    PyObject *b64decode; /* pybase64.b64decode */
    PyObject *binascii_error;
    PyObject *handler;   /* the match handler given to db.scan */
    PyObject *spot_handler; /* and to spots_db.scan */
    PyObject *scan;      /* "scan" */
    PyObject *kwnames;   /* db.scan's: ("match_event_handler", "context", "scratch") */
    PyObject *validate;  /* b64decode's: ("validate",) */
} Prover;

/* One walk's state: Walker's notes, _segments (an upper bound here) and _decoded; and the segments with a
 * needle or a position in them, in the walk's order, for the matcher and the locator. */
typedef struct {
    Prover *prover;
    PyObject *scratch, *spots_scratch;
    PyObject *notes;
    PyObject *loud;
    Py_ssize_t segments;
    Py_ssize_t decoded;
} Walk;

/* gate.c: the gate's flags of a value (its needle database through hyperscan, traces.c for the rest) */
int dl_gate_ready(void);
PyObject *dl_match_handler(void);
PyObject *dl_spot_handler(void);

/* Where each needle ends in a value, and which (the spots database's matches) */
typedef struct {
    PyObject_HEAD
    Py_ssize_t count, capacity;
    Py_ssize_t *ends;
    uint32_t *ids;
} Spots;

int dl_needles(Walk *walk, PyObject *data, uint32_t *flags);
Spots *dl_spots_of(Walk *walk, PyObject *data);
int dl_probe(Walk *walk, PyObject *data, uint32_t *flags, dl_positions *escapes);

/* prefilter.quiet_segment: no needle and no position in the value itself */
static inline int quiet_segment(uint32_t flags) {
    return !(flags & DL_NEEDLE) && (flags & (DL_LAT | DL_LON)) != (DL_LAT | DL_LON);
}

/* Gate.mixed: maybe a Base64 run with letters of both cases (the runs the walker decodes) */
static inline int mixed(uint32_t flags, Py_ssize_t len) {
    return (flags & (DL_UPPER | DL_LOWER)) == (DL_UPPER | DL_LOWER) && len >= 16 && (flags & DL_RUN) &&
           (flags & DL_MIXED);
}

/* Gate.loud (with Walker._look's "mixed"): a decoder could reveal what the bytes do not hold as they are */
static inline int loud(uint32_t flags, Py_ssize_t len) {
    if (flags & LOUD || (flags & (DL_LAT | DL_LON)) == (DL_LAT | DL_LON)) return 1;
    if (flags & DL_SPACED_JSON) return 1;
    return mixed(flags, len);
}

#endif
