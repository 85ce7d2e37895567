/* STUB (helper replaces): the trace flags of a value in one pass. */
#include "fastpath.h"

static int force_scalar;

int dl_traces_vector(void) { return 0; }
void dl_traces_force_scalar(int scalar) { force_scalar = scalar; }

int64_t dl_traces(const uint8_t *data, Py_ssize_t len, dl_positions *escapes) {
    PyErr_SetString(PyExc_NotImplementedError, "traces");
    return -1;
}

PyObject *dl_py_traces(PyObject *module, PyObject *args) {
    PyErr_SetString(PyExc_NotImplementedError, "traces");
    return NULL;
}
