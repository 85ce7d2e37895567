/* The gate's flags of a value, for the walk in prove.c: its needle database through hyperscan (python-hyperscan's
 * Database.scan, with match handlers written in C), and traces.c for the decoders' traces. */
#include "prove.h"

typedef struct {
    PyObject_HEAD
    uint32_t flags;
    const uint32_t *bits;
    Py_ssize_t nbits;
} Found;

static PyTypeObject FoundType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "devicelab.analysis._fastpath.Found",
    .tp_basicsize = sizeof(Found),
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

/* db.scan's match_event_handler(id, from, to, flags, context): prefilter._flag, in C */
static PyObject *on_match(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyObject_TypeCheck(args[4], &FoundType)) {
        PyErr_SetString(PyExc_TypeError, "on_match(id, from, to, flags, found)");
        return NULL;
    }
    Found *found = (Found *)args[4];
    unsigned long id = PyLong_AsUnsignedLong(args[0]);
    if (id == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    if ((Py_ssize_t)id < found->nbits) found->flags |= found->bits[id];
    Py_RETURN_NONE; /* go on: every pattern reports once (SINGLEMATCH) */
}

static PyMethodDef on_match_def = {"on_match", (PyCFunction)(void (*)(void))on_match, METH_FASTCALL, NULL};

static void Spots_dealloc(Spots *self) {
    PyMem_Free(self->ends);
    PyMem_Free(self->ids);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject SpotsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "devicelab.analysis._fastpath.Spots",
    .tp_basicsize = sizeof(Spots),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Spots_dealloc,
};

static PyObject *on_spot(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyObject_TypeCheck(args[4], &SpotsType)) {
        PyErr_SetString(PyExc_TypeError, "on_spot(id, from, to, flags, spots)");
        return NULL;
    }
    Spots *spots = (Spots *)args[4];
    Py_ssize_t id = PyLong_AsSsize_t(args[0]), end = PyLong_AsSsize_t(args[2]);
    if ((id == -1 || end == -1) && PyErr_Occurred()) return NULL;
    if (spots->count == spots->capacity) {
        Py_ssize_t capacity = spots->capacity ? spots->capacity * 2 : 16;
        Py_ssize_t *ends = PyMem_Realloc(spots->ends, (size_t)capacity * sizeof *ends);
        if (ends != NULL) spots->ends = ends;
        uint32_t *ids = ends ? PyMem_Realloc(spots->ids, (size_t)capacity * sizeof *ids) : NULL;
        if (ids == NULL) return PyErr_NoMemory();
        spots->ids = ids;
        spots->capacity = capacity;
    }
    spots->ends[spots->count] = end;
    spots->ids[spots->count++] = (uint32_t)id;
    Py_RETURN_NONE;
}

static PyMethodDef on_spot_def = {"on_spot", (PyCFunction)(void (*)(void))on_spot, METH_FASTCALL, NULL};

/* The main database's flags for `data` (NEEDLE, LAT, LON and the byte triggers). */
int dl_needles(Walk *walk, PyObject *data, uint32_t *flags) {
    Prover *p = walk->prover;
    Found *found = PyObject_New(Found, &FoundType);
    if (found == NULL) return -1;
    found->flags = 0;
    found->bits = p->bits;
    found->nbits = p->nbits;
    PyObject *args[] = {p->db, data, p->handler, (PyObject *)found, walk->scratch};
    PyObject *result = PyObject_VectorcallMethod(p->scan, args, 2, p->kwnames);
    *flags = found->flags;
    Py_DECREF(found);
    if (result == NULL) return -1;
    Py_DECREF(result);
    return 0;
}

/* Every needle and hint in `data`, and where it ends (NULL: an error is set). */
Spots *dl_spots_of(Walk *walk, PyObject *data) {
    Prover *p = walk->prover;
    Spots *spots = PyObject_New(Spots, &SpotsType);
    if (spots == NULL) return NULL;
    spots->count = spots->capacity = 0;
    spots->ends = NULL;
    spots->ids = NULL;
    PyObject *args[] = {p->spots_db, data, p->spot_handler, (PyObject *)spots, walk->spots_scratch};
    PyObject *result = PyObject_VectorcallMethod(p->scan, args, 2, p->kwnames);
    if (result == NULL) {
        Py_DECREF(spots);
        return NULL;
    }
    Py_DECREF(result);
    return spots;
}

/* Gate.probe: every flag of `data` (RUN always known). `escapes`: where its %XX escapes start, if wanted. */
int dl_probe(Walk *walk, PyObject *data, uint32_t *flags, dl_positions *escapes) {
    uint32_t found;
    if (dl_needles(walk, data, &found) < 0) return -1;
    int64_t traces = dl_traces((const uint8_t *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), escapes);
    if (traces < 0) return -1;
    *flags = found | (uint32_t)traces;
    return 0;
}

PyObject *dl_match_handler(void) { return PyCFunction_New(&on_match_def, NULL); }
PyObject *dl_spot_handler(void) { return PyCFunction_New(&on_spot_def, NULL); }

int dl_gate_ready(void) { return PyType_Ready(&FoundType) < 0 ? -1 : PyType_Ready(&SpotsType); }
