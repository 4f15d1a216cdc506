// The service worker: precaches every file of build.json on install, then
// serves the site from that cache, so that after the first visit the site
// (Pyodide, the wheel, the sandbox) loads with the network off. A new build
// has a new version and so a new cache; the old one is deleted on activate.
// Only this origin's GET requests are served from the cache: provider APIs
// and anything cross-origin go to the network untouched.

const SCOPE = new URL(self.registration.scope);
// The caches of sites under other paths of this origin (base_path: "wasm-agent-/sub/<version>") are not ours.
const PREFIX = `wasm-agent-${SCOPE.pathname === "/" ? "" : SCOPE.pathname}`;
const isOurs = (name) => name.startsWith(PREFIX) && !name.slice(PREFIX.length).includes("/");
let cacheName = null; // Promise<string>: the complete cache this worker serves from (looked up once)

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    cacheName = null;
    const current = await currentCacheName();
    for (const name of await caches.keys()) {
      if (isOurs(name) && name !== current) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== SCOPE.origin || !url.pathname.startsWith(SCOPE.pathname)) return;
  event.respondWith(respond(event.request, url));
});

async function respond(request, url) {
  const path = url.pathname.slice(SCOPE.pathname.length) || "index.html";
  if (path === "build.json") return networkFirst(request);
  const cache = await caches.open(await currentCacheName());
  const hit = await cache.match(new URL(path.endsWith("/") ? `${path}index.html` : path, SCOPE).href);
  return hit ?? fetch(request);
}

async function networkFirst(request) {
  try {
    return await fetch(request, { cache: "no-store" });
  } catch (error) {
    const hit = await caches.match(request, { ignoreSearch: true });
    if (hit) return hit;
    throw error;
  }
}

/** The newest complete cache (build.json is put last, so a cache being filled does not count). */
function currentCacheName() {
  cacheName ??= (async () => {
    const names = (await caches.keys()).filter(isOurs); // in creation order
    for (const name of names.reverse()) {
      if (await (await caches.open(name)).match(new URL("build.json", SCOPE).href)) return name;
    }
    return `${PREFIX}none`;
  })();
  return cacheName;
}

async function precache() {
  const response = await fetch(new URL("build.json", SCOPE), { cache: "no-store" });
  const manifest = await response.clone().json();
  const cache = await caches.open(`${PREFIX}${manifest.version}`);
  const files = Object.entries(manifest.files);
  const total = files.reduce((sum, [, size]) => sum + size, 0);
  let loaded = 0;
  // Biggest first, a few at a time: progress moves steadily and two cores stay free for the page.
  files.sort((a, b) => b[1] - a[1]);
  const queue = [...files];
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const [path, size] = item;
      const url = new URL(path, SCOPE).href;
      const answer = await fetch(url, { cache: "no-store" });
      if (!answer.ok) throw new Error(`precache: ${path}: HTTP ${answer.status}`);
      await cache.put(url, answer);
      loaded += size;
      await tell({ kind: "precache", stage: "site", message: "Downloading the app for offline use", loaded, total });
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  await cache.put(new URL("build.json", SCOPE).href, response); // last: marks the cache complete
}

async function tell(message) {
  for (const client of await self.clients.matchAll({ includeUncontrolled: true, type: "window" })) {
    client.postMessage(message);
  }
}
