"""The one compiled module: the analysis's quiet path (devicelab/analysis/_c; libdeflate inflates gzip bodies).

Everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import Extension, setup

_C = Path("devicelab/analysis/_c")

setup(ext_modules=[Extension(
    "devicelab.analysis._fastpath",
    sources=sorted(str(path) for path in _C.glob("*.c")),
    depends=sorted(str(path) for path in _C.glob("*.h")),
    extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    libraries=["deflate"],
)])
