"""Tools that read the web, and work from a browser tab as well as from CPython.

A page may only read another site when that site allows it (CORS). So:
- `WikipediaSearchTool` uses the MediaWiki API with `origin=*`, which Wikipedia allows.
- `VisitWebpageTool` fetches a page; most sites do not allow it from a browser, and the tool
  then says so. A site owner can give a CORS proxy (`cors_proxy`) that the tool then goes through.
- `WebSearchTool` calls a search API you choose (SearXNG, Brave, Google Programmable Search, or
  any endpoint answering JSON in one of their shapes). smolagents' `DuckDuckGoSearchTool` and
  `GoogleSearchTool` cannot run in a page: they read search engines' HTML pages or call APIs
  that send no CORS headers, and they hold an API key that a page would publish to every visitor.

Requests go through the platform's transport (`fetch` in Pyodide, `http.client` on CPython).

>>> tool = WikipediaSearchTool(content_type="summary")
>>> # tool(query="Ada Lovelace")  -> "Wikipedia page: Ada Lovelace\\n\\n…\\n\\nRead more: https://…"
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import AgentToolExecutionError
from ..models.transport import HttpRequest, HttpResponse, Transport, TransportError, TransportTimeout, default_transport
from ..platform import IN_PYODIDE
from .base import Tool
from .html_markdown import html_to_markdown, truncate


async def _get(transport: Transport | None, url: str, headers: dict[str, str], timeout: float,
               what: str, cors_advice: str = "") -> HttpResponse:
    """GET, with failures turned into errors that say what happened and what to do."""
    try:
        response = await (transport or default_transport()).request(HttpRequest("GET", url, headers, None, timeout))
    except TransportTimeout:
        raise AgentToolExecutionError(f"{what} did not answer within {timeout:g} s") from None
    except TransportError as error:
        if IN_PYODIDE:  # fetch cannot tell a refused cross-origin request from a network failure
            raise AgentToolExecutionError(
                f"{what} could not be fetched from this browser: the site does not allow cross-origin requests "
                f"(it sends no Access-Control-Allow-Origin header), or it is unreachable. {cors_advice}".strip()
            ) from None
        raise AgentToolExecutionError(f"{what} could not be fetched: {error}") from None
    if response.status >= 400:
        raise AgentToolExecutionError(f"{what} answered HTTP {response.status}: {response.text[:200]}")
    return response


class WikipediaSearchTool(Tool):
    """Wikipedia through the MediaWiki API (`origin=*`: allowed from any page).

    `content_type`: "summary" (the introduction) or "text" (the whole article, up to
    `max_output_length` characters). `api_url` points at another MediaWiki.
    """

    name = "wikipedia_search"
    description = ("Searches Wikipedia and returns a summary or full text of the best matching article, "
                   "with its URL.")
    inputs = {"query": {"type": "string", "description": "The topic to search on Wikipedia."}}
    output_type = "string"

    def __init__(self, user_agent: str = "wasm-agent (a code agent in WebAssembly)", language: str = "en",
                 content_type: str = "text", extract_format: str = "WIKI", *, api_url: str | None = None,
                 max_output_length: int = 20_000, timeout: float = 20.0, transport: Transport | None = None):
        if content_type not in ("summary", "text"):
            raise ValueError("content_type must be 'summary' or 'text'")
        self.user_agent, self.language, self.content_type = user_agent, language, content_type
        self.extract_format = extract_format  # accepted for smolagents; the API gives plain text
        self.api_url = api_url or f"https://{language}.wikipedia.org/w/api.php"
        self.max_output_length, self.timeout, self.transport = max_output_length, timeout, transport
        super().__init__()

    async def forward(self, query: str) -> str:
        params = {"action": "query", "format": "json", "formatversion": "2", "origin": "*", "redirects": "1",
                  "generator": "search", "gsrsearch": query, "gsrlimit": "1", "prop": "extracts|info",
                  "inprop": "url", "explaintext": "1", **({"exintro": "1"} if self.content_type == "summary" else {})}
        # Browsers do not let a page set User-Agent; MediaWiki reads Api-User-Agent instead.
        headers = {"Api-User-Agent" if IN_PYODIDE else "User-Agent": self.user_agent}
        response = await _get(self.transport, f"{self.api_url}?{urlencode(params)}", headers, self.timeout,
                              "Wikipedia")
        pages = (json.loads(response.body).get("query") or {}).get("pages") or []
        if not pages:
            return f"No Wikipedia page was found for {query!r}. Try a shorter or different query."
        page = pages[0]
        text = truncate((page.get("extract") or "").strip(), self.max_output_length)
        url = page.get("fullurl") or f"https://{self.language}.wikipedia.org/wiki/{quote(page['title'].replace(' ', '_'))}"
        return f"Wikipedia page: {page['title']}\n\n{text}\n\nRead more: {url}"


class VisitWebpageTool(Tool):
    """A web page as Markdown, cut to `max_output_length` characters.

    `cors_proxy`: a URL with `{url}` where the page's URL goes (URL-encoded), or a prefix the
    page's URL is appended to, e.g. "https://proxy.example.org/?url={url}". When given, every
    page is fetched through it (a browser can read only pages that allow it otherwise).
    """

    name = "visit_webpage"
    description = ("Visits a webpage at the given url and reads its content as a markdown string. "
                   "Use this to browse webpages.")
    inputs = {"url": {"type": "string", "description": "The url of the webpage to visit."}}
    output_type = "string"

    def __init__(self, max_output_length: int = 40_000, *, cors_proxy: str | None = None, timeout: float = 20.0,
                 transport: Transport | None = None):
        self.max_output_length, self.cors_proxy, self.timeout, self.transport = \
            max_output_length, cors_proxy, timeout, transport
        super().__init__()

    def fetch_url(self, url: str) -> str:
        """The URL to request for a page: the page itself, or the proxy's URL for it."""
        if not self.cors_proxy:
            return url
        if "{url}" in self.cors_proxy:
            return self.cors_proxy.replace("{url}", quote(url, safe=""))
        return self.cors_proxy + url

    async def forward(self, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise AgentToolExecutionError(f"{url!r} is not a web address: give a full http:// or https:// URL")
        advice = ("Try another source (wikipedia_search reads Wikipedia from anywhere), or ask the site's "
                  "owner to configure a CORS proxy (VisitWebpageTool(cors_proxy=...)).")
        response = await _get(self.transport, self.fetch_url(url), {"Accept": "text/html, text/plain;q=0.9, */*;q=0.5"},
                              self.timeout, f"The page {url}", advice)
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("text/html", "application/xhtml+xml", ""):
            text = html_to_markdown(response.text, url)
        elif kind.startswith("text/") or kind in ("application/json", "application/xml"):
            text = response.text
        else:
            return f"The page {url} is not text ({kind}, {len(response.body)} bytes); it cannot be read here."
        return truncate(text, self.max_output_length)


class WebSearchTool(Tool):
    """Web search through a search API you choose: `endpoint` is a URL with `{query}`.

    It reads the JSON shapes of SearXNG (`results[].title/url/content`, with `format=json`),
    Brave Search (`web.results[].title/url/description`), Google Programmable Search
    (`items[].title/link/snippet`) and Tavily (`results[]`). From a page, the endpoint must
    allow the page's origin (CORS), and any key in `headers` is visible to the page's visitors:
    use a proxy of your own that holds the key.

    >>> WebSearchTool("https://searx.example.org/search?q={query}&format=json").name
    'web_search'
    """

    name = "web_search"
    description = "Performs a web search for a query and returns the top results (title, link, snippet)."
    inputs = {"query": {"type": "string", "description": "The search query to perform."}}
    output_type = "string"

    def __init__(self, endpoint: str, *, headers: dict[str, str] | None = None, max_results: int = 10,
                 timeout: float = 20.0, transport: Transport | None = None):
        if "{query}" not in endpoint:
            raise ValueError("the search endpoint must contain {query}, where the search terms go")
        self.endpoint, self.headers, self.max_results = endpoint, dict(headers or {}), max_results
        self.timeout, self.transport = timeout, transport
        super().__init__()

    async def forward(self, query: str) -> str:
        url = self.endpoint.replace("{query}", quote(query, safe=""))
        response = await _get(self.transport, url, {"Accept": "application/json", **self.headers}, self.timeout,
                              "The search endpoint")
        try:
            results = _search_results(json.loads(response.body))
        except ValueError:
            raise AgentToolExecutionError(f"the search endpoint did not answer JSON: {response.text[:200]}") from None
        if not results:
            return f"No results found for {query!r}. Try a less restrictive query."
        lines = [f"[{r['title']}]({r['url']})\n{r['snippet']}".rstrip() for r in results[: self.max_results]]
        return "## Search Results\n\n" + "\n\n".join(lines)


def _search_results(data: Any) -> list[dict]:
    """Results in the shape of SearXNG / Tavily, Brave, or Google Programmable Search."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    items = data.get("results") or (data.get("web") or {}).get("results") or data.get("items") or []
    return [{"title": item.get("title", ""), "url": item.get("url") or item.get("link", ""),
             "snippet": item.get("content") or item.get("description") or item.get("snippet") or ""}
            for item in items if isinstance(item, dict)]


__all__ = ["VisitWebpageTool", "WebSearchTool", "WikipediaSearchTool"]
