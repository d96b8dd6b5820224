"""The dashboard over HTTP, attacked: uploads are size-limited and parsed by safe loaders
only; no name chosen in the page reaches a file outside the catalogs; debug is off by
default; no response carries a stack trace; every response carries security headers.

Requests go through Flask's test client with payloads recorded from the real layout
(:mod:`dash_payloads`), then altered: path-traversal names in every place a name can be
given (address bar, query string, dropdown values, templates, the browser's spec store,
upload file names, static routes), malformed bodies, wrong types and oversized input.
A Python audit hook records every file the server opens meanwhile.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash_payloads import UPDATE, Callback, Recording, callbacks, page_paths, record, route

from roofline.dashboard import app as dash_app

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "roofline"
#: Where the server may read files: its own code and assets, the two catalogs, and the
#: installed packages it runs on (Dash's JavaScript bundles, plotly).
ALLOWED = (PACKAGE, ROOT / "hardware_specs", ROOT / "models", Path(sys.prefix),
           Path(sys.base_prefix), Path(json.__file__).parent.parent)
TRAVERSAL = ["../../etc/passwd", "/etc/passwd", "hardware_specs/../pyproject.toml",
             "..%2F..%2Fetc%2Fpasswd", "....//....//etc/passwd", "models/gpt-4.yaml",
             "tests/data/hf_configs/llama.json", "user:../../etc/passwd", "~/.ssh/id_rsa",
             "C:\\Windows\\win.ini", "file:///etc/passwd", "\x00/etc/passwd",
             "chip:../../etc/passwd", "model:../../pyproject.toml", "x.yaml"]
#: Text of files outside the catalogs that must never appear in a response.
SECRETS = ("root:x:0:0", "[build-system]", "hatchling", '"model_type": "llama"')
TRACE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|"
                   r"/site-packages/|werkzeug\.debug|\bat 0x[0-9a-f]+>")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


# ---------------------------------------------------------------------------------------
# Fixtures: one app, its recorded payloads, and a record of the files it opens
# ---------------------------------------------------------------------------------------

class _Opened:
    """Files opened while ``active`` (a ``sys.addaudithook`` hook cannot be removed, so it
    stays installed, and records only inside :meth:`watch`)."""

    def __init__(self) -> None:
        self.active = False
        self.paths: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.active and event == "open" and isinstance(args[0], str | bytes | Path):
            path = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            self.paths.append(path)

    @contextlib.contextmanager
    def watch(self) -> Iterator[list[str]]:
        self.paths, self.active = [], True
        try:
            yield self.paths
        finally:
            self.active = False


OPENED = _Opened()


@pytest.fixture(scope="module")
def app() -> Any:
    return dash_app.create_app()


@pytest.fixture(scope="module")
def client(app: Any) -> Any:
    return app.server.test_client()


@pytest.fixture(scope="module")
def recording(client: Any) -> Recording:
    return record(client, page_paths(client))


@pytest.fixture(scope="module")
def cbs(client: Any) -> list[Callback]:
    return callbacks(client)


def _safe(reply: Any, what: str) -> str:
    """The body of ``reply``, checked: no stack trace, no file contents, headers set."""
    text = reply.get_data(as_text=True)
    assert not TRACE.search(text), f"{what}: a stack trace in the response:\n{text[:2000]}"
    for secret in SECRETS:
        assert secret not in text, f"{what}: file contents ({secret!r}) in the response"
    for k, v in SECURITY_HEADERS.items():
        assert reply.headers.get(k) == v, f"{what}: header {k} is {reply.headers.get(k)!r}"
    assert "Content-Security-Policy" in reply.headers, what
    return text


def _outside(paths: list[str]) -> list[str]:
    """The opened paths that are not under an allowed folder."""
    bad = []
    for p in paths:
        try:
            resolved = Path(p).resolve()
        except (OSError, ValueError):
            bad.append(p)
            continue
        if not any(resolved.is_relative_to(a.resolve()) for a in ALLOWED):
            bad.append(p)
    return bad


def _post(client: Any, payload: Any, what: str, *, ok: bool = True) -> Any:
    with OPENED.watch() as opened:
        reply = client.post(UPDATE, json=payload)
    _safe(reply, what)
    assert not _outside(opened), f"{what}: the server opened {_outside(opened)}"
    if ok:
        assert reply.status_code in (200, 204), f"{what}: status {reply.status_code}"
    return reply


def _with(payload: dict[str, Any], key: tuple[str, str], value: Any) -> dict[str, Any]:
    """``payload`` with the input or state ``key`` set to ``value``."""
    out = copy.deepcopy(payload)
    for item in out["inputs"] + out["state"]:
        if (item["id"], item["property"]) == key:
            item["value"] = value
    return out


def _view_payloads(recording: Recording) -> list[tuple[str, dict[str, Any]]]:
    """Each page's main (view) callback: the one with the most inputs."""
    out = []
    for path, payloads in recording.pages.items():
        if payloads:
            out.append((path, max(payloads, key=lambda p: len(p["inputs"]))))
    return out


# ---------------------------------------------------------------------------------------
# Names never reach files
# ---------------------------------------------------------------------------------------

def test_recorded_pages_answer(client: Any, recording: Recording) -> None:
    assert len(recording.pages) >= 2
    for path, payload in recording.all():
        _post(client, payload, f"{path} {payload['output'][:60]}")


@pytest.mark.parametrize("name", TRAVERSAL)
def test_traversal_names_in_every_text_input_are_refused(client: Any, recording: Recording,
                                                         name: str) -> None:
    """Every string or list input of every page's view gets the name; none is read."""
    for path, payload in _view_payloads(recording):
        for item in payload["inputs"]:
            if isinstance(item["value"], str | list):
                value = [name] if isinstance(item["value"], list) else name
                key = (item["id"], item["property"])
                _post(client, _with(payload, key, value), f"{path} {key}={value!r}")


@pytest.mark.parametrize("name", TRAVERSAL)
def test_traversal_in_the_address_bar(client: Any, recording: Recording, name: str) -> None:
    for pathname, search in ((name, ""), ("/" + name, ""), ("/roofline", f"?model={name}"),
                             ("/fit", f"?chip={name}&model={name}"),
                             ("/specs", f"?q={name}&kind={name}")):
        reply = _post(client, route(recording.router, pathname, search),
                      f"router {pathname!r} {search!r}")
        assert reply.status_code == 200


@pytest.mark.parametrize("name", TRAVERSAL)
def test_traversal_in_templates_store_and_upload_names(client: Any, cbs: list[Callback],
                                                       name: str) -> None:
    for cb in cbs:
        if cb.pattern:
            continue
        inputs = dict.fromkeys(cb.inputs + cb.state, name)
        # the browser's spec store, tampered: names as keys, YAML that points elsewhere
        store = {"chip": {name: f"name: x\n$ref: {name}\n", "h100": name},
                 "model": {name: "!!python/object/apply:os.system ['echo pwned']"}}
        for key in inputs:
            if key == ("user-specs", "data"):
                inputs[key] = store
            elif key[1] == "contents":
                inputs[key] = "data:text/yaml;base64," + base64.b64encode(
                    name.encode()).decode()
            elif key[1] == "n_clicks":
                inputs[key] = 1
        _post(client, cb.payload(inputs), f"{cb.output[:50]} with {name!r}")


@pytest.mark.parametrize("path", [
    "/assets/../../../../etc/passwd", "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/assets/%2e%2e/%2e%2e/%2e%2e/pyproject.toml", "/assets/../../pyproject.toml",
    "/_dash-component-suites/dash/../../../../../../etc/passwd",
    "/_dash-component-suites/../../pyproject.toml",
    "/_dash-component-suites/dash/deps/..%2f..%2f..%2f..%2fpyproject.toml",
    "/_dash-component-suites/os/path.py", "/_favicon.ico/../../pyproject.toml",
    "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/models/gpt-4.yaml",
    "/hardware_specs/nvidia-h100-sxm.yaml", "/tests/data/hf_configs/llama.json",
])
def test_static_routes_serve_nothing_outside_their_folders(client: Any, path: str) -> None:
    with OPENED.watch() as opened:
        reply = client.get(path)
    text = _safe(reply, path)
    assert not _outside(opened), f"{path}: the server opened {_outside(opened)}"
    if reply.status_code == 200:  # the app's index page (client-side routing), nothing else
        assert "<div id=\"react-entry-point\">" in text or "_dash-app-content" in text, text[:300]
    else:  # a path outside what is served is not found (never a server error)
        assert reply.status_code in (400, 404, 405), (path, reply.status_code)


# ---------------------------------------------------------------------------------------
# Uploads: size-limited, safe loaders only
# ---------------------------------------------------------------------------------------

def _upload_callback(cbs: list[Callback]) -> Callback:
    return next(cb for cb in cbs if any(p == "contents" for _, p in cb.inputs))


def _upload(client: Any, cbs: list[Callback], raw: bytes, filename: str = "spec.yaml",
            store: Any = None) -> tuple[Any, str]:
    cb = _upload_callback(cbs)
    contents = "data:application/octet-stream;base64," + base64.b64encode(raw).decode()
    values = {k: None for k in cb.inputs + cb.state}
    for key in values:
        if key[1] == "contents":
            values[key] = contents
        elif key[1] == "filename":
            values[key] = filename
        elif key[0].endswith("kind"):
            values[key] = "auto"
        elif key == ("user-specs", "data"):
            values[key] = store
    changed = next(k for k in cb.inputs if k[1] == "contents")
    t0 = time.perf_counter()
    reply = _post(client, cb.payload(values, changed), f"upload {filename}")
    assert time.perf_counter() - t0 < 10
    return reply, reply.get_data(as_text=True)


def _stored(reply: Any) -> Any:
    """The spec store the upload callback wrote back, or None when it left it alone."""
    if reply.status_code == 204:
        return None
    body = reply.get_json()["response"]
    return body.get("user-specs", {}).get("data")


def test_valid_upload_is_stored(client: Any, cbs: list[Callback]) -> None:
    text = (ROOT / "hardware_specs" / "nvidia-h100-sxm.yaml").read_bytes()
    reply, _ = _upload(client, cbs, text)
    store = _stored(reply)
    assert store and "nvidia-h100-sxm" in store["chip"]


@pytest.mark.parametrize(("raw", "words"), [
    (b"name: x\n" + b"# padding\n" * 40_000, "kB"),                       # over 256 kB
    (b"!!python/object/apply:os.system ['touch /tmp/roofline-pwned']\n", "constructor"),
    (b"name: !!python/name:os.system x\n", "constructor"),
    (b"a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b]\n",
     "aliases"),
    (b"[" * 50_000, "YAML"),
    (b"\xff\xfe\x00bad", "UTF-8"),
    (b'{"model_type": "llama", "hidden_size": ' + b"9" * 5000 + b"}", "JSON"),
    (b'{"model_type": ["x"]}', "model_type"),
    (b"name: a\nname: b\n", "duplicate"),
])
def test_bad_uploads_are_refused_with_a_message(client: Any, cbs: list[Callback], raw: bytes,
                                               words: str) -> None:
    reply, text = _upload(client, cbs, raw)
    assert _stored(reply) is None
    assert words.lower() in text.lower(), text[:500]
    assert not Path("/tmp/roofline-pwned").exists()


def test_upload_field_limit_and_request_limit(app: Any, client: Any, cbs: list[Callback]
                                              ) -> None:
    limit = app.server.config.get("MAX_CONTENT_LENGTH")
    assert limit and limit <= 64 * 2**20, "the server must bound request bodies"
    cb = _upload_callback(cbs)
    body = json.dumps(cb.payload({k: "x" * (limit + 1) for k in cb.inputs + cb.state}))
    reply = client.post(UPDATE, data=body, content_type="application/json")
    _safe(reply, "oversized body")
    assert reply.status_code == 413


def test_no_unsafe_yaml_loader_in_the_code() -> None:
    """Every YAML parse in the package goes through a safe loader (the spec loader is a
    SafeLoader without aliases): no yaml.load / unsafe_load / full_load, no full Loader."""
    unsafe = re.compile(r"yaml\.(load|unsafe_load|full_load|load_all)\(|UnsafeLoader|"
                        r"FullLoader|yaml\.Loader\b|Loader=yaml\.(?!Safe)")
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for path in PACKAGE.rglob("*.py")
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if unsafe.search(line.split("#")[0])]
    assert not hits, hits


# ---------------------------------------------------------------------------------------
# Malformed requests: an error status or a message, never a trace
# ---------------------------------------------------------------------------------------

MALFORMED_BODIES: list[Any] = [
    b"", b"not json", b"{", b"[]", b"null", b'"x"', b"123", b"{}", b'{"output": 5}',
    b'{"output": "no-such.children", "inputs": []}',
    b'{"output": "page.children"}', b"\xff\xfe", b"[" * 10_000,
    b'{"output": "..page.children...nav.children..", "inputs": "x", "state": 7}',
]


@pytest.mark.parametrize("body", MALFORMED_BODIES, ids=range(len(MALFORMED_BODIES)))
def test_malformed_bodies(client: Any, body: bytes) -> None:
    reply = client.post(UPDATE, data=body, content_type="application/json")
    _safe(reply, f"body {body[:40]!r}")
    assert reply.status_code in (200, 204, 400, 404, 415, 422, 500), reply.status_code


ODD_VALUES: list[Any] = [None, "", "x" * 10_000, -1, 0, 1e308, -1e308, 2**64, 1.5, True, [],
                         [None], ["x"] * 1000, {}, {"a": {"b": [1, {"c": None}]}},
                         "NaN", "Infinity", "1e999", "<script>alert(1)</script>",
                         "'; DROP TABLE chips; --", "\u202e\u0000\ud7ff", [[[[[]]]]]]


@pytest.mark.parametrize("value", ODD_VALUES, ids=range(len(ODD_VALUES)))
def test_odd_values_in_every_input(client: Any, recording: Recording, value: Any) -> None:
    """Each input of every recorded callback, in turn, gets an odd value: the page shows a
    message (status 200) or leaves its outputs alone (204); the server never fails."""
    for path, payload in recording.all():
        for item in payload["inputs"] + payload["state"]:
            key = (item["id"], item["property"])
            reply = _post(client, _with(payload, key, value), f"{path} {key}={value!r:.40}")
            if reply.status_code == 200:
                assert "<script>" not in json.dumps(reply.get_json()) or value == \
                    "<script>alert(1)</script>"


def test_wrong_shapes_of_the_payload(client: Any, recording: Recording) -> None:
    for path, payload in recording.all()[:12]:
        variants = [
            {**payload, "inputs": payload["inputs"][:1]},          # inputs missing
            {**payload, "inputs": payload["inputs"] * 2},          # too many
            {**payload, "state": [{"id": "nope", "property": "value", "value": 1}]},
            {**payload, "inputs": [{"id": i["id"]} for i in payload["inputs"]]},
            {**payload, "changedPropIds": ["nope.value", 5]},
            {**payload, "outputs": {"id": "nope", "property": "children"}},
        ]
        for i, v in enumerate(variants):
            reply = client.post(UPDATE, json=v)
            _safe(reply, f"{path} variant {i}")


def test_an_internal_error_is_logged_not_shown(client: Any, recording: Recording,
                                               monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """A bug inside a page's computation: the page says 'internal error', the log has the
    traceback, the response has neither the trace nor the exception's text."""
    from roofline.dashboard.pages import PAGES

    secret = "secret-detail-/etc/shadow"

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(secret)

    for page in PAGES:
        monkeypatch.setattr(page, "compute", broken)
    app = dash_app.create_app()
    client = app.server.test_client()
    for path, payload in _view_payloads(recording):
        caplog.clear()
        reply = client.post(UPDATE, json=payload)
        text = _safe(reply, path)
        assert secret not in text
        assert reply.status_code in (200, 204, 500)
        assert any(secret in (r.exc_text or str(r.exc_info)) for r in caplog.records), (
            f"{path}: the error is not in the server log")


# ---------------------------------------------------------------------------------------
# Debug off, headers on
# ---------------------------------------------------------------------------------------

def test_debug_is_off_by_default(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not app.server.debug
    assert not app.config.get("debug", False)
    monkeypatch.setenv("DASH_DEBUG", "true")
    monkeypatch.setenv("FLASK_DEBUG", "1")
    seen: dict[str, Any] = {}

    def fake_run(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(dash_app.dash.Dash, "run", fake_run)
    monkeypatch.setattr(dash_app, "warm_up", lambda: None)
    dash_app.main([], app=dash_app.create_app())
    assert seen.get("debug") is False, seen
    assert seen.get("host") == "127.0.0.1", seen


def test_production_server_listens_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import waitress

    seen: dict[str, Any] = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr(dash_app, "warm_up", lambda: None)
    dash_app.main(["--production"], app=dash_app.create_app())
    assert seen.get("host") == "127.0.0.1", seen


@pytest.mark.parametrize("path", ["/", "/roofline", "/specs", "/_dash-layout",
                                  "/_dash-dependencies", "/no-such-page", "/assets/nope.css",
                                  "/_dash-update-component"])
def test_security_headers_on_every_response(client: Any, path: str) -> None:
    reply = client.get(path)
    _safe(reply, path)
    csp = reply.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "'unsafe-eval'" not in csp
