/* STUB: the Prover. */
#include "fastpath.h"

typedef struct {
    PyObject_HEAD
} Prover;

PyTypeObject dl_ProverType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "devicelab.analysis._fastpath.Prover",
    .tp_basicsize = sizeof(Prover),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
};
