"""The UiObject, UiScrollable and UiCollection methods of the u2 server: everything that takes
a selector (or the name of a UiObject stored by `getUiObject` / `childBy*`)."""

from __future__ import annotations

from typing import Any

from devicelab.virtual.ui.hierarchy import ViewNode, obj_info, parent_map
from devicelab.virtual.ui.methods import Session
from devicelab.virtual.ui.rpc import ObjectNotFound, arg, invalid, method
from devicelab.virtual.ui.selectors import find_all, parse_selector


def _obj(p: list[Any]) -> Any:
    if not p:
        raise invalid("missing parameter 0 (obj)")
    return p[0]


@method("exist")
async def _exist(s: Session, p: list[Any]) -> bool:
    return bool(s.find_all(_obj(p)))


@method("objInfo")
async def _obj_info(s: Session, p: list[Any]) -> dict[str, Any]:
    return obj_info(s.find(_obj(p)))


@method("count")
async def _count(s: Session, p: list[Any]) -> int:
    return len(s.find_all(_obj(p)))


@method("objInfoOfAllInstances", "finds")
async def _all_info(s: Session, p: list[Any]) -> list[dict[str, Any]]:
    return [obj_info(n) for n in s.find_all(_obj(p))]


@method("waitForExists")
async def _wait_exists(s: Session, p: list[Any]) -> bool:
    return await s.wait(_obj(p), arg(p, 1, int, "timeout", 0), gone=False)


@method("waitUntilGone")
async def _wait_gone(s: Session, p: list[Any]) -> bool:
    return await s.wait(_obj(p), arg(p, 1, int, "timeout", 0), gone=True)


@method("setText")
async def _set_text(s: Session, p: list[Any]) -> bool:
    text = arg(p, 1, (str, type(None)), "text") or ""
    return s.ui.set_text(s.find(_obj(p)), text)


@method("getText")
async def _get_text(s: Session, p: list[Any]) -> str:
    return s.find(_obj(p)).text


@method("clearTextField")
async def _clear_text(s: Session, p: list[Any]) -> None:
    s.ui.set_text(s.find(_obj(p)), "")


# -- scrolling -----------------------------------------------------------------------------
def _scrollable(s: Session, p: list[Any]) -> ViewNode:
    node = s.find(_obj(p))
    arg(p, 1, bool, "isVertical", True)
    return node


@method("scrollForward", "flingForward")
async def _forward(s: Session, p: list[Any]) -> bool:
    return _scrollable(s, p).scrollable and s.ui.scroll(True)


@method("scrollBackward", "flingBackward")
async def _backward(s: Session, p: list[Any]) -> bool:
    return _scrollable(s, p).scrollable and s.ui.scroll(False)


@method("scrollToEnd", "flingToEnd")
async def _to_end(s: Session, p: list[Any]) -> bool:
    return _scrollable(s, p).scrollable and s.ui.scroll(True, to_end=True)


@method("scrollToBeginning", "flingToBeginning")
async def _to_beginning(s: Session, p: list[Any]) -> bool:
    return _scrollable(s, p).scrollable and s.ui.scroll(False, to_end=True)


@method("scrollTo")
async def _scroll_to(s: Session, p: list[Any]) -> bool:
    """Scroll forward until the target shows, as UiScrollable.scrollIntoView."""
    node = s.find(_obj(p))
    target = parse_selector(p[1] if len(p) > 1 else None)
    for _ in range(16):
        if find_all([s.ui.frame().active], target):
            return True
        if not node.scrollable or not s.ui.scroll(True):
            break
    return bool(find_all([s.ui.frame().active], target))


# -- gestures on an object: accepted when it exists -----------------------------------------
@method("dragTo", "gesture", "pinchIn", "pinchOut")
async def _gesture(s: Session, p: list[Any]) -> bool:
    s.find(_obj(p))
    return True


# -- named UiObjects -----------------------------------------------------------------------
@method("getUiObject")
async def _get_ui_object(s: Session, p: list[Any]) -> str:
    search, what = s.resolver(_obj(p))
    if not search([s.ui.frame().active]):
        raise ObjectNotFound(what)
    return s.name(search)


def _relative(s: Session, p: list[Any], *, sibling: bool) -> str:
    base, _ = s.resolver(arg(p, 0, str, "obj"))
    sub = parse_selector(p[1] if len(p) > 1 else None)

    def search(roots: list[ViewNode]) -> list[ViewNode]:
        found = base(roots)
        if not found:
            return []
        scope = found[0].children
        if sibling:
            parent = parent_map(roots).get(id(found[0]))
            scope = parent.children if parent is not None else [found[0]]
        return find_all(scope, sub)

    return s.name(search)


@method("getChild")
async def _get_child(s: Session, p: list[Any]) -> str:
    return _relative(s, p, sibling=False)


@method("getFromParent")
async def _get_from_parent(s: Session, p: list[Any]) -> str:
    return _relative(s, p, sibling=True)


@method("childByText", "childByDescription")
async def _child_by_text(s: Session, p: list[Any]) -> str:
    collection, _ = s.resolver(_obj(p))
    child = parse_selector(p[1] if len(p) > 1 else None)
    text = arg(p, 2, str, "text")

    def search(roots: list[ViewNode]) -> list[ViewNode]:
        return [c for top in collection(roots) for c in find_all(top.children, child)
                if any(text in (n.text, n.desc) for n in c.walk())]

    if not search([s.ui.frame().active]):
        raise ObjectNotFound(f"no child with text {text!r}")
    return s.name(search)


@method("childByInstance")
async def _child_by_instance(s: Session, p: list[Any]) -> str:
    collection, _ = s.resolver(_obj(p))
    child = parse_selector(p[1] if len(p) > 1 else None)
    instance = arg(p, 2, int, "instance")

    def search(roots: list[ViewNode]) -> list[ViewNode]:
        found = [c for top in collection(roots) for c in find_all(top.children, child)]
        return found[instance : instance + 1] if instance >= 0 else []

    if not search([s.ui.frame().active]):
        raise ObjectNotFound(f"no child instance {instance}")
    return s.name(search)


@method("removeUiObject")
async def _remove(s: Session, p: list[Any]) -> None:
    s.objects.pop(arg(p, 0, str, "obj"), None)


@method("getUiObjects")
async def _names(s: Session, p: list[Any]) -> list[str]:
    return sorted(s.objects)
