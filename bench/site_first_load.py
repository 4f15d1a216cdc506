"""First-load bytes of a configured site: what a first-time visitor downloads before the agent answers.

    python bench/site_first_load.py               # builds into .cache/site/first-load-*, prints a Markdown table
    python bench/site_first_load.py --rounds 3

The site is the one `wasm-agent init` starts (its agent.toml, Python tool and JS tool), with the model
preset to the loopback mock provider, built twice: with the in-browser model (the default) and with
`--no-browser-model`. Each visit is a fresh browser profile on `serve`'s headers (COOP/COEP, gzip):

- "provider": the visitor adds a key in Model settings and runs a task; the scripted model calls the
  owner's Python tool, then answers;
- "in-browser model": the visitor picks the in-browser model (max 2 steps) and runs a task; its answer
  (or its giving up) ends the run.

Bytes are what the site's server sent (after gzip), from navigation until the answer shows, and in all
once the service worker has precached the site; the provider's traffic is not counted. Times are from
navigation to the answer on this machine (orientation only). Medians over the rounds; nothing asserts.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "e2e")]

from site_pages import MockProviderServer, SitePage, SiteServer  # noqa: E402

from build.config import load_config  # noqa: E402
from build.site import CACHE, build_site  # noqa: E402
from harness import launch_chromium  # noqa: E402
from wasm_agent import cli  # noqa: E402

KEY = "sk-first-load"
TASK = "How many metres is a 10 km run?"
STEP = ("Thought: the owner's tool.\n<code>\n"
        "final_answer(round(convert_length(value=10, from_unit='km', to_unit='m')))\n</code>")
RUN_MS = 300_000  # the in-browser model reads its prompt at ~20-30 tokens/s here


def owner_config(folder: Path, base_url: str) -> Path:
    """`init`'s agent.toml, its model preset to the mock (a visitor adds only a key)."""
    cli.init_command(str(folder), out=io.StringIO())
    config = folder / "agent.toml"
    text = config.read_text().replace('model = "gpt-4o-mini"', 'model = "mock-coder"')
    config.write_text(text.replace('# base_url = "http://127.0.0.1:11434/v1"', f'base_url = "{base_url}"'))
    return config


def visit(browser, server: SiteServer, mock: MockProviderServer, *, browser_model: bool) -> dict:
    server.bytes_sent, server.requests[:] = 0, []
    start = time.perf_counter()
    page = SitePage(browser, server.url).open()
    try:
        ui = page.page
        ui.click("#open-settings")
        if browser_model:
            ui.check("input[name=provider][value=browser]")
            ui.fill("#max-steps", "2")
        else:
            ui.fill("#api-key", KEY)
        ui.click("#settings button[type=submit]")
        ui.wait_for_selector("#settings", state="hidden")
        if not browser_model:
            mock.script(STEP)
        page.start(TASK)
        page.page.locator(".msg-agent").nth(page.turns).and_(
            page.page.locator("[aria-busy=false]")).wait_for(timeout=RUN_MS)
        answered = {"bytes": server.bytes_sent, "seconds": time.perf_counter() - start,
                    "answer": (page.last_turn().locator(".final-text").all_text_contents() or ["(no answer)"])[0]}
        # The service worker is active once its precache is complete.
        ui.evaluate("Promise.race([navigator.serviceWorker.ready, new Promise((done) => setTimeout(done, 120000))])")
        return {**answered, "total": server.bytes_sent}
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with MockProviderServer(api_key=KEY) as mock, tempfile.TemporaryDirectory() as tmp:
        config = load_config(owner_config(Path(tmp) / "owner", mock.openai_base))
        sites = {}
        for with_model in (True, False):
            out = CACHE / f"first-load-{'model' if with_model else 'no-model'}"
            manifest = build_site(out, config=config, browser_model="full" if with_model else "engine",
                                  log=lambda *_: None)
            sites[with_model] = (out, manifest)
        cases = [("with the model", True, False), ("`--no-browser-model`", False, False),
                 ("with the model", True, True)]
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for label, with_model, use_model in cases:
                out, manifest = sites[with_model]
                server = SiteServer(out, port=0, isolated=True).start()
                try:
                    runs = [visit(browser, server, mock, browser_model=use_model) for _ in range(args.rounds)]
                finally:
                    server.close()
                print(f"{label}, {'in-browser model' if use_model else 'provider'}: {runs}", file=sys.stderr, flush=True)
                rows.append((label, use_model, manifest["bytes"], runs))
            browser.close()
    print("| site | agent's model | precached files (uncompressed) | first visit: bytes until the answer "
          "| bytes with the precache | time to the answer |")
    print("|---|---|---|---|---|---|")
    for label, use_model, size, runs in rows:
        median = lambda key: statistics.median(run[key] for run in runs)  # noqa: E731
        print(f"| {label} | {'in-browser model (SmolLM2-135M)' if use_model else 'provider (key added)'} "
              f"| {size / 1e6:.1f} MB | {median('bytes') / 1e6:.1f} MB | {median('total') / 1e6:.1f} MB "
              f"| {median('seconds'):.1f} s |")


if __name__ == "__main__":
    main()
