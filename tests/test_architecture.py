"""The layering of ARCHITECTURE.md, enforced on the imports of every module (lazy ones included)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "devicelab"
#: the one module outside the virtual lab that may import it: images are built by the lab's own code
VIRTUAL_EXCEPTION = "devicelab.handset.images"
TOP_LEVEL_FILES = {"__init__.py", "__main__.py", "errors.py", "progress.py"}
#: lower layers first; a module may import its own layer and the layers before it
LAYERS = [
    {"errors", "progress", "model", "android"},
    {"adb"},
    {"handset"},
    {"lab", "flows", "activation", "analysis"},
    {"capture"},
    {"reports"},
    {"gate", "repro"},
    {"testing", "cli", "__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, *, typing_only: bool = True) -> Iterator[str]:
    """Every devicelab module `path` imports, at the top or inside a function; with `typing_only`
    off, not those under `if TYPE_CHECKING:` (they are never imported at run time)."""
    def walk(node: ast.AST) -> Iterator[ast.AST]:
        for child in ast.iter_child_nodes(node):
            if not typing_only and isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING":
                continue
            yield child
            yield from walk(child)

    for node in walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("devicelab"):
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("devicelab"))


def graph(*, typing_only: bool = True) -> dict[str, set[str]]:
    return {module_name(p): set(imports(p, typing_only=typing_only)) for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, names in enumerate(LAYERS) if top in names)


def harness(module: str) -> bool:
    return module != "devicelab" and not module.startswith("devicelab.virtual")


def test_the_top_level_holds_only_packages_and_the_shared_modules() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose == TOP_LEVEL_FILES


def test_nothing_outside_the_virtual_lab_imports_it_except_the_image_builder() -> None:
    offenders = sorted(f"{m} imports {i}" for m, deps in graph().items() if harness(m) and m != VIRTUAL_EXCEPTION
                       for i in deps if i.startswith("devicelab.virtual"))
    assert offenders == []


def test_each_layer_imports_only_itself_and_the_layers_below() -> None:
    offenders = sorted(f"{m} imports {i}" for m, deps in graph().items() if harness(m)
                       for i in deps if harness(i) and i != "devicelab.virtual" and layer(i) > layer(m))
    assert offenders == []


def test_the_harness_has_no_import_cycle() -> None:
    """At run time: a module may name a type of a higher one for the type checker alone."""
    edges = {m: {i for i in deps if harness(i)} for m, deps in graph(typing_only=False).items() if harness(m)}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(edges.get(node, ())):
            # a package's __init__ re-exporting its own modules is not a cycle between modules
            if node.startswith(dep + ".") or dep.startswith(node + "."):
                continue
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("rule", [test_the_harness_has_no_import_cycle,
                                  test_each_layer_imports_only_itself_and_the_layers_below])
def test_the_rules_catch_what_they_forbid(rule: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that cannot fail proves nothing: add a forbidden edge and watch it fail."""
    real = graph()
    forged = {**real, "devicelab.model.data": {*real["devicelab.model.data"], "devicelab.gate.run"}}
    monkeypatch.setitem(globals(), "graph", lambda **_: forged)
    with pytest.raises(AssertionError):
        rule()  # type: ignore[operator]
