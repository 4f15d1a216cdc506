// The browser sandbox worker's bootstrap: a classic (not module) script that
// the sandbox page (page.js), inside the opaque-origin iframe, starts from a blob: URL. The
// worker inherits the iframe's CSP (connect-src 'none'), so it fetches nothing:
// its code and Pyodide arrive as text and bytes in the first message.
//
// It makes importScripts unavailable (Pyodide refuses classic workers, which
// it detects with it), then loads the shared sandbox core (core.js,
// the same as in Deno) from blob: URLs and hands it the boot message. From then
// on core.js listens for messages.
//
// First message: {kind: "boot", modules: {"protocol.js": text, "core.js": text},
//                 toolPort, ...the Boot of core.js}
"use strict";

delete self.importScripts;
self.importScripts = undefined;
// A worker that closes itself would look alive but never answer: only the relay ends workers.
for (const scope of [self, DedicatedWorkerGlobalScope.prototype]) {
  Object.defineProperty(scope, "close", { value: () => {}, writable: false, configurable: false });
}

// Messages that arrive while the core loads (the compiled wasm module, early requests) wait here.
const early = [];

self.onmessage = async (event) => {
  const boot = event.data;
  if (boot?.kind !== "boot") return;
  self.onmessage = (later) => early.push(later);
  // Bound now, before generated code could replace postMessage on the prototypes.
  const toPeer = self.postMessage.bind(self);
  // Tool calls go straight to the host on their own port (the relay gave it); the rest to the relay.
  const toolPort = boot.toolPort;
  delete boot.toolPort;
  const toTool = toolPort.postMessage.bind(toolPort);
  try {
    const blobUrl = (text) => URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
    const protocolUrl = blobUrl(boot.modules["protocol.js"]);
    // A blob: module cannot resolve "./protocol.js": point the import at the blob instead.
    const core = boot.modules["core.js"].replace(/from\s+["']\.\.\/protocol\.js["']/, `from "${protocolUrl}"`);
    const { serveSandbox } = await import(blobUrl(core));
    delete boot.modules;
    self.onmessage = null; // the core listens from now on
    const { receive } = serveSandbox(self, toPeer, toTool);
    // JSPI: the host answers on the tool port; the core takes the answer like any message.
    toolPort.onmessage = (portEvent) => portEvent.isTrusted && typeof portEvent.data === "string" && receive(portEvent.data);
    for (const message of [{ data: boot }, ...early.splice(0)]) receive(message.data);
  } catch (error) {
    toPeer({ k: boot.key, m: JSON.stringify({ type: "crashed", reason: `the sandbox worker could not start: ${error?.stack ?? error}` }) });
  }
};
