"""Callback requests recorded from the dashboard's real layout, for tests and benchmarks.

The browser renders the shell, asks the server for each page (the router callback), then
fires every page callback with the values its components start with. :func:`record` does
the same through any client that can ``get(path)`` and ``post(path, json=...)`` (Flask's
test client, or :class:`HttpClient` over a real socket), so the payloads follow the
dashboard as it changes: nothing here names a page's components.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

UPDATE = "/_dash-update-component"
DEPENDENCIES = "/_dash-dependencies"
LAYOUT = "/_dash-layout"


class Client(Protocol):
    """The two calls :func:`record` needs (Flask's test client has them)."""

    def get(self, path: str) -> Any: ...

    def post(self, path: str, *, json: Any) -> Any: ...


@dataclass
class Reply:
    """A response: status, headers and body (what urllib and Flask both give)."""

    status_code: int
    headers: Mapping[str, str]
    data: bytes

    def get_json(self) -> Any:
        return json.loads(self.data)

    def get_data(self, as_text: bool = False) -> Any:
        return self.data.decode("utf-8", "replace") if as_text else self.data


@dataclass
class HttpClient:
    """A minimal client for a dashboard served on a real socket (urllib, no dependency)."""

    base: str
    timeout: float = 60.0

    def _send(self, req: urllib.request.Request) -> Reply:
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return Reply(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, dict(e.headers), e.read())

    def get(self, path: str) -> Reply:
        return self._send(urllib.request.Request(self.base + path))

    def post(self, path: str, *, json: Any) -> Reply:  # Flask's keyword name
        body = _dumps(json)
        return self._send(urllib.request.Request(
            self.base + path, data=body, method="POST",
            headers={"Content-Type": "application/json"}))


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def split_output(output: str) -> list[tuple[str, str]]:
    """``"..a.children...b.figure.."`` (or ``"a.children"``) -> [(id, property), ...];
    an ``@hash`` suffix (``allow_duplicate``) is not part of the property."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for part in parts:
        cid, _, prop = part.rpartition(".")
        out.append((cid, prop.split("@")[0]))
    return out


@dataclass
class Callback:
    """One server callback as the browser sees it (from ``/_dash-dependencies``)."""

    output: str
    inputs: list[tuple[str, str]]
    state: list[tuple[str, str]]
    prevent_initial_call: bool

    @property
    def outputs(self) -> list[tuple[str, str]]:
        return split_output(self.output)

    @property
    def pattern(self) -> bool:
        """Whether it uses pattern-matching (dict) ids, which need rendered instances."""
        return any(i.startswith("{") for i, _ in self.inputs + self.state)

    def payload(self, values: Mapping[tuple[str, str], Any],
                changed: tuple[str, str] | None = None) -> dict[str, Any]:
        """The request body the browser sends, with each input/state from ``values``."""
        outs = [{"id": i, "property": p} for i, p in self.outputs]
        changed = changed or self.inputs[0]
        return {
            "output": self.output,
            "outputs": outs if self.output.startswith("..") else outs[0],
            "inputs": [{"id": i, "property": p, "value": values.get((i, p))}
                       for i, p in self.inputs],
            "state": [{"id": i, "property": p, "value": values.get((i, p))}
                      for i, p in self.state],
            "changedPropIds": [f"{changed[0]}.{changed[1]}"],
        }


def callbacks(client: Client) -> list[Callback]:
    """Every callback the server answers (clientside ones run in the browser only)."""
    deps = client.get(DEPENDENCIES).get_json()
    return [Callback(d["output"], [(i["id"], i["property"]) for i in d["inputs"]],
                     [(s["id"], s["property"]) for s in d["state"]],
                     bool(d.get("prevent_initial_call"))) for d in deps
            if not d.get("clientside_function")]


def props(tree: Any) -> Iterator[tuple[tuple[str, str], Any]]:
    """((id, property), value) of every component with a string id in a layout tree
    (Dash's JSON form: ``{"type", "namespace", "props": {...}}``)."""
    if isinstance(tree, list):
        for item in tree:
            yield from props(item)
    elif isinstance(tree, Mapping) and "props" in tree:
        p = tree["props"]
        if isinstance(p.get("id"), str):
            for k, v in p.items():
                if k not in ("children", "id"):
                    yield (p["id"], k), v
        yield from props(p.get("children"))


@dataclass
class Recording:
    """Payloads of a dashboard: per page path, the router request and the page's initial
    callbacks (with the values its components start with)."""

    router: Callback
    pages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def all(self) -> list[tuple[str, dict[str, Any]]]:
        """(page path, payload) of every recorded request, routers included."""
        out = []
        for path, payloads in self.pages.items():
            out.append((path, route(self.router, path)))
            out.extend((path, p) for p in payloads)
        return out


def route(router: Callback, path: str, search: str = "") -> dict[str, Any]:
    """The router request for ``path`` (what a click on a navigation link sends)."""
    return router.payload({("url", "pathname"): path, ("url", "search"): search})


def find_router(cbs: list[Callback]) -> Callback:
    """The callback that renders a page from the address bar's path."""
    return next(cb for cb in cbs if ("url", "pathname") in cb.inputs)


def page_values(client: Client, router: Callback, path: str) -> dict[tuple[str, str], Any]:
    """Initial (id, property) values of the page at ``path``, as the router renders it."""
    reply = client.post(UPDATE, json=route(router, path))
    if reply.status_code != 200:
        raise RuntimeError(f"router answered {reply.status_code} for {path}")
    body = reply.get_json()["response"]
    values: dict[tuple[str, str], Any] = {("url", "pathname"): path, ("url", "search"): ""}
    for out in body.values():
        for children in out.values():
            values.update(props(children))
    return values


def record(client: Client, paths: list[str]) -> Recording:
    """Render each page and build the requests of its initial callbacks: those whose
    inputs all exist on the page and that fire on load (no ``prevent_initial_call``)."""
    cbs = callbacks(client)
    router = find_router(cbs)
    rec = Recording(router)
    for path in paths:
        values = page_values(client, router, path)
        present = set(values) | {("user-specs", "data")}
        payloads = [cb.payload(values) for cb in cbs
                    if cb is not router and not cb.pattern and not cb.prevent_initial_call
                    and set(cb.inputs) <= present and set(cb.state) <= present]
        rec.pages[path] = payloads
    return rec


def page_paths(client: Client) -> list[str]:
    """The pages linked from the navigation bar."""
    layout = client.get(LAYOUT).get_json()
    return sorted({v for (cid, prop), v in props(layout) if prop == "href"
                   and cid.startswith("nav-") and isinstance(v, str)})
