// Durable runs in IndexedDB: the browser twin of wasm_agent/persistence.py's
// RunStore (FileRunStore on CPython), with the same records and semantics.
// The agent worker writes through it (wasm_agent/platform/browser_store.py);
// the page reads, renames, deletes, exports and imports through it.
//
//   const store = await openRunStore();
//   await store.createRun({ id, title, status: "running", steps: 0, ... });
//   await store.appendStep(id, step);           // resolves once the step is committed
//   const runs = await store.listRuns();        // newest first
//
// Records keep the Python field names (snake_case, times in seconds since the
// epoch) so that JSON crosses to Python unchanged:
//   {id, title, status, steps, created_at, updated_at, system_prompt, examples}
// A run whose status is "running" but which no live agent holds (its tab was
// closed or reloaded) is listed as "interrupted": the writer holds a Web Lock
// named `wasm-agent-run:<id>` while the run is running, and the browser
// releases it when the worker dies. The same lock stops two tabs from
// running (resuming) one run at once.

export const EXPORT_FORMAT = "wasm-agent-run/1";
export const DEFAULT_DB_NAME = "wasm-agent-runs";
const RUN_FIELDS = ["id", "title", "status", "steps", "created_at", "updated_at", "system_prompt", "examples"];
const STATUSES = ["running", "interrupted", "success", "max_steps_error", "error"];
const LOCK_PREFIX = "wasm-agent-run:";

export class RunNotFoundError extends Error {
  name = "RunNotFoundError";
}

export class RunBusyError extends Error {
  name = "RunBusyError";
}

/**
 * @typedef {object} RunRecord
 * @property {string} id
 * @property {string} title
 * @property {"running"|"interrupted"|"success"|"max_steps_error"|"error"} status
 * @property {number} steps            finished action steps
 * @property {number} created_at       seconds since the epoch
 * @property {number} updated_at
 * @property {string} system_prompt
 * @property {unknown[] | null} examples
 */

/** Open (creating on first use) the run database of this origin. */
export async function openRunStore({ name = DEFAULT_DB_NAME } = {}) {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const runs = request.result.createObjectStore("runs", { keyPath: "id" });
      runs.createIndex("updated_at", "updated_at");
      request.result.createObjectStore("steps", { keyPath: ["runId", "index"] });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error(`the run database ${name} is blocked by another tab that is upgrading it`));
  });
  return new RunStore(db);
}

export class RunStore {
  #db;
  /** @type {Map<string, () => void>} releases of the locks this context holds */
  #locks = new Map();

  constructor(db) {
    this.#db = db;
    // Another tab deleting or upgrading the database: let it, and fail our later calls clearly.
    db.onversionchange = () => db.close();
  }

  /** @param {RunRecord} record  a new run (fails if its id exists) */
  async createRun(record) {
    const clean = checkRecord(record);
    await this.#holdWhileRunning(clean.id, clean.status);
    await this.#transaction(["runs"], (tx) => tx.objectStore("runs").add(clean));
  }

  /** Append a finished step (a `MemoryStep.to_dict()`); one transaction, committed before this resolves. */
  async appendStep(runId, step) {
    await this.#transaction(["runs", "steps"], (tx) => {
      const steps = tx.objectStore("steps");
      const found = tx.objectStore("runs").getKey(runId);
      found.onsuccess = () => {
        if (found.result === undefined) return tx.abort();
        const count = steps.count(runRange(runId));
        count.onsuccess = () => steps.add({ runId, index: count.result, step });
      };
    }, (error) => error ?? new RunNotFoundError(`no run ${runId} to append a step to`));
  }

  /** Change fields of a run (not its id); `updated_at` becomes now. Returns the new record. */
  async updateRun(runId, fields) {
    for (const name of Object.keys(fields)) {
      if (!RUN_FIELDS.includes(name) || name === "id") throw new TypeError(`a run has no field ${JSON.stringify(name)} to update`);
    }
    if ("status" in fields && !STATUSES.includes(fields.status)) throw new TypeError(`unknown run status ${fields.status}`);
    if (fields.status === "running") await this.#holdWhileRunning(runId, "running");
    let record;
    await this.#transaction(["runs"], (tx) => {
      const runs = tx.objectStore("runs");
      const found = runs.get(runId);
      found.onsuccess = () => {
        if (!found.result) return tx.abort();
        record = { ...found.result, ...fields, updated_at: now() };
        runs.put(record);
      };
    }, (error) => error ?? new RunNotFoundError(`no run ${runId} to update`));
    if (record.status !== "running") this.#release(runId);
    return record;
  }

  /** @returns {Promise<RunRecord>} */
  async getRun(runId) {
    const record = await this.#read("runs", (store) => store.get(runId));
    if (!record) throw new RunNotFoundError(`no run ${runId} in this browser`);
    return (await this.#withLiveStatus([record]))[0];
  }

  /** The run's finished steps, in order. */
  async loadSteps(runId) {
    const rows = await this.#read("steps", (store) => store.getAll(runRange(runId)));
    return rows.map((row) => row.step);
  }

  /** @returns {Promise<RunRecord[]>} newest first */
  async listRuns() {
    const records = await this.#read("runs", (store) => store.index("updated_at").getAll());
    return this.#withLiveStatus(records.reverse());
  }

  /** Forget a run and its steps (nothing happens if there is none). */
  async deleteRun(runId) {
    await this.#transaction(["runs", "steps"], (tx) => {
      tx.objectStore("runs").delete(runId);
      tx.objectStore("steps").delete(runRange(runId));
    });
    this.#release(runId);
  }

  renameRun(runId, title) {
    if (typeof title !== "string" || !title.trim()) throw new TypeError("a run's title must be a non-empty string");
    return this.updateRun(runId, { title: title.trim() });
  }

  /** The run as one JSON-compatible object: `{format: "wasm-agent-run/1", run, steps}`. */
  async exportRun(runId) {
    const run = await this.getRun(runId);
    return { format: EXPORT_FORMAT, run, steps: await this.loadSteps(runId) };
  }

  /**
   * Add an exported run, in one transaction (all of it or nothing). Fails if a run with its id
   * is already here (delete that one first). Returns its record.
   */
  async importRun(data) {
    if (data?.format !== EXPORT_FORMAT) throw new TypeError(`not an exported wasm-agent run (format '${EXPORT_FORMAT}')`);
    if (!Array.isArray(data.steps)) throw new TypeError("an exported run needs a list of steps");
    const record = checkRecord(data.run);
    if (record.status === "running") record.status = "interrupted"; // nothing runs it here
    await this.#transaction(["runs", "steps"], (tx) => {
      tx.objectStore("runs").add(record);
      const steps = tx.objectStore("steps");
      data.steps.forEach((step, index) => steps.add({ runId: record.id, index, step }));
    }, (error) => error?.name === "ConstraintError"
      ? new Error(`a run with id ${record.id} is already here: delete it before importing it again`) : error);
    return this.getRun(record.id);
  }

  /**
   * Call a method with JSON arguments and get JSON back: the whole interface the
   * Python adapter uses, so no JS object outlives a call there.
   * @param {string} method  e.g. "appendStep"
   * @param {string} argsJson  a JSON array of arguments
   */
  async callJson(method, argsJson) {
    if (!JSON_METHODS.includes(method)) throw new TypeError(`the run store has no method ${method}`);
    const result = await this[method](...JSON.parse(argsJson));
    return JSON.stringify(result ?? null);
  }

  close() {
    for (const runId of [...this.#locks.keys()]) this.#release(runId);
    this.#db.close();
  }

  // -- IndexedDB ------------------------------------------------------------------------
  #transaction(names, body, describeFailure = (error) => error) {
    return new Promise((resolve, reject) => {
      const tx = this.#db.transaction(names, "readwrite", { durability: "strict" });
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(describeFailure(tx.error));
      try {
        body(tx);
      } catch (error) {
        tx.abort(); // nothing half-written
        reject(error);
      }
    });
  }

  #read(name, query) {
    return new Promise((resolve, reject) => {
      const request = query(this.#db.transaction([name], "readonly").objectStore(name));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  // -- liveness (Web Locks) --------------------------------------------------------------
  // Hold the run's lock from now until it stops running; refuse a run that another tab or worker is running.
  async #holdWhileRunning(runId, status) {
    if (status !== "running" || this.#locks.has(runId) || !globalThis.navigator?.locks) return;
    const held = await new Promise((settle) => {
      navigator.locks.request(LOCK_PREFIX + runId, { ifAvailable: true }, (lock) => {
        if (!lock) return settle(false);
        return new Promise((release) => {
          this.#locks.set(runId, release);
          settle(true);
        });
      });
    });
    if (!held) throw new RunBusyError(`run ${runId} is running in another tab or worker: stop it there first`);
  }

  #release(runId) {
    this.#locks.get(runId)?.();
    this.#locks.delete(runId);
  }

  async #withLiveStatus(records) {
    if (!records.some((record) => record.status === "running") || !globalThis.navigator?.locks) return records;
    const { held = [] } = await navigator.locks.query();
    const live = new Set(held.map((lock) => lock.name));
    return records.map((record) => record.status === "running" && !live.has(LOCK_PREFIX + record.id)
      ? { ...record, status: "interrupted" } : record);
  }
}

const JSON_METHODS = ["createRun", "appendStep", "updateRun", "getRun", "loadSteps", "listRuns", "deleteRun",
  "renameRun", "exportRun", "importRun"];

function runRange(runId) {
  return IDBKeyRange.bound([runId, 0], [runId, Infinity]);
}

function now() {
  return Date.now() / 1000;
}

function checkRecord(record) {
  if (!record || typeof record.id !== "string" || !/^[A-Za-z0-9_-]+$/.test(record.id)) {
    throw new TypeError(`invalid run id ${JSON.stringify(record?.id)}`);
  }
  const time = now();
  const clean = { title: "Untitled run", status: "running", steps: 0, created_at: time, updated_at: time,
    system_prompt: "", examples: null };
  for (const name of RUN_FIELDS) if (record[name] !== undefined) clean[name] = record[name];
  if (!STATUSES.includes(clean.status)) throw new TypeError(`unknown run status ${clean.status}`);
  return clean;
}
