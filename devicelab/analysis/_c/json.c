/* STUB (helper replaces): a JSON document's first value read without building it. */
#include "fastpath.h"

dl_json_result dl_json_read(const uint8_t *data, Py_ssize_t len) {
    dl_json_result result = {DL_JSON_UNSURE, 0, 0, 0, 0, 0};
    return result;
}

PyObject *dl_py_json_read(PyObject *module, PyObject *args) {
    PyErr_SetString(PyExc_NotImplementedError, "json_read");
    return NULL;
}
