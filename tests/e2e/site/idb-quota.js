// Loaded first by the agent worker of the quota test's site copy (tests/e2e/test_runs_browser.py):
// once a value that mentions FILL-THE-DISK is written, every IndexedDB write in this worker fails
// the way a full disk does (QuotaExceededError), as a browser does when the origin's quota is used up.

let full = false;
for (const method of ["add", "put"]) {
  const original = IDBObjectStore.prototype[method];
  IDBObjectStore.prototype[method] = function (value, ...rest) {
    if (!full && JSON.stringify(value ?? null).includes("FILL-THE-DISK")) full = true;
    if (full) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    return original.call(this, value, ...rest);
  };
}
