/* The module: its functions and the Prover type (prove.c). */
#include "fastpath.h"

void dl_positions_free(dl_positions *positions) {
    PyMem_Free(positions->at);
    positions->at = NULL;
    positions->count = positions->capacity = 0;
}

static PyObject *py_force_scalar(PyObject *module, PyObject *arg) {
    (void)module;
    int scalar = PyObject_IsTrue(arg);
    if (scalar < 0) return NULL;
    dl_traces_force_scalar(scalar);
    return PyBool_FromLong(dl_traces_vector());
}

static PyMethodDef methods[] = {
    {"traces", dl_py_traces, METH_VARARGS,
     "traces(data) -> (flags, escapes): prefilter.py's trace flags of `data` and where its %XX escapes start"},
    {"json_read", dl_py_json_read, METH_VARARGS,
     "json_read(data) -> (status, container, numbers_same, extra_at, line, column)"},
    {"force_scalar", py_force_scalar, METH_O,
     "force_scalar(flag) -> whether the vector path is in use (tests compare both paths)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "devicelab.analysis._fastpath",
    "The analysis's quiet path in C: a request proven quiet as decoders.Walker would find it.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) return NULL;
    if (dl_prove_ready() < 0 || PyType_Ready(&dl_ProverType) < 0 || PyModule_AddObjectRef(module, "Prover", (PyObject *)&dl_ProverType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
