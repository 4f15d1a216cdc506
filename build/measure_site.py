"""The site's figures for docs/site.md: bytes on the wire and time to "agent ready".

    python build/measure_site.py            # builds into .cache/site/measure-*, prints a Markdown table

For each build (with and without the sandbox's memory snapshot) and each mode
(COOP/COEP or not), a fresh browser profile visits the page once (first load:
the service worker caches the site) and reloads it (repeat load: from the
cache). Bytes are what the server sent (gzip, as `serve` and most static hosts
do); "ready" is the page's own measure from navigation start to the moment the
agent worker and the sandbox both answered (window.wasmAgentReadyMs).
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from build.serve import SiteServer
from build.site import CACHE, build_site

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
READY = "body[data-ready]"


def visit(browser, url: str) -> list[dict]:
    """First load and repeat load in a fresh profile: [{bytes, ready_ms, requests}, ...]."""
    context = browser.new_context()
    page = context.new_page()
    results = []
    server = visit.server
    for reload in (False, True):
        server.bytes_sent, server.requests[:] = 0, []
        page.reload() if reload else page.goto(url)
        page.wait_for_selector(READY, timeout=300_000)
        ready_ms = page.evaluate("wasmAgentReadyMs")
        results.append({"bytes": server.bytes_sent, "ready_ms": ready_ms, "requests": len(server.requests),
                        "status": page.text_content("#runtime-status")})
    context.close()
    return results


def main(repeats: int = 3) -> None:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        for snapshot in (True, False):
            out = CACHE / f"measure-{'snapshot' if snapshot else 'cold'}"
            manifest = build_site(out, snapshot=snapshot, log=lambda *_: None)
            for isolated in (True, False):
                server = visit.server = SiteServer(out, port=0, isolated=isolated).start()
                runs = [visit(browser, server.url + "/") for _ in range(repeats)]
                server.close()
                first = [run[0] for run in runs]
                repeat = [run[1] for run in runs]
                rows.append((snapshot, isolated, manifest["bytes"], first, repeat))
                print(f"snapshot={snapshot} isolated={isolated}: {[r['ready_ms'] for r in first]} / "
                      f"{[r['ready_ms'] for r in repeat]}", file=sys.stderr, flush=True)
        browser.close()
    print("| build | headers | precached | first load: bytes | first load: ready | repeat load: bytes | repeat load: ready |")
    print("|---|---|---|---|---|---|---|")
    for snapshot, isolated, size, first, repeat in rows:
        med = lambda runs, key: statistics.median(r[key] for r in runs)
        print(f"| {'with snapshots (default)' if snapshot else '`--no-snapshot` (cold boots)'} "
              f"| {'COOP/COEP' if isolated else 'none (JSPI)'} | {size / 1e6:.1f} MB "
              f"| {med(first, 'bytes') / 1e6:.1f} MB | {med(first, 'ready_ms') / 1000:.1f} s "
              f"| {med(repeat, 'bytes') / 1e3:.1f} kB | {med(repeat, 'ready_ms') / 1000:.1f} s |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
