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
//   {id, title, status, steps, created_at, updated_at, system_prompt, examples, imported, model_id}
// `imported` is true for a run that came from a file (importRun): its code is
// untrusted, and resuming it does not run that code again unless asked to.
// A record that is not in the format (an older version's, or one written by
// hand) is listed with `damage` saying what is wrong, so that it can be deleted.
// A run whose status is "running" but which no live agent holds (its tab was
// closed or reloaded) is listed as "interrupted": the writer holds a Web Lock
// named `wasm-agent-run:<id>` while the run is running, and the browser
// releases it when the worker dies. The same lock stops two tabs from
// running (resuming) one run at once.

import { EXPORT_FORMAT, RECORD_FIELDS, STATUSES, checkExport, checkRecord } from "./run-format.js";

export { EXPORT_FORMAT };
export const DEFAULT_DB_NAME = "wasm-agent-runs";
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
 * @property {boolean} imported       came from a file: its code is not run again unless asked
 * @property {string} [damage]         set by listRuns on a record that is not in the format
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
    const clean = withDefaults(record);
    await this.#holdWhileRunning(clean.id, clean.status);
    await this.#transaction(["runs"], (tx) => tx.objectStore("runs").add(clean));
  }

  /** Append a finished step (a `MemoryStep.to_dict()`); one transaction, committed before this resolves. */
  async appendStep(runId, step) {
    await this.#releasingOnFailure(runId, this.#transaction(["runs", "steps"], (tx, guard) => {
      const steps = tx.objectStore("steps");
      const found = tx.objectStore("runs").getKey(runId);
      found.onsuccess = guard(() => {
        if (found.result === undefined) return tx.abort();
        const count = steps.count(runRange(runId));
        count.onsuccess = guard(() => steps.add({ runId, index: count.result, step }));
      });
    }, (error) => error ?? new RunNotFoundError(`no run ${runId} to append a step to`)));
  }

  /** Change fields of a run (not its id); `updated_at` becomes now. Returns the new record. */
  async updateRun(runId, fields) {
    for (const name of Object.keys(fields)) {
      if (!RECORD_FIELDS.includes(name) || name === "id" || name === "imported") throw new TypeError(`a run has no field ${JSON.stringify(name)} to update`);
    }
    if ("status" in fields && !STATUSES.includes(fields.status)) throw new TypeError(`unknown run status ${fields.status}`);
    if (fields.status === "running") await this.#holdWhileRunning(runId, "running");
    let record;
    await this.#releasingOnFailure(runId, this.#transaction(["runs"], (tx, guard) => {
      const runs = tx.objectStore("runs");
      const found = runs.get(runId);
      found.onsuccess = guard(() => {
        if (!found.result) return tx.abort();
        record = { ...found.result, ...fields, updated_at: now() };
        runs.put(record);
      });
    }, (error) => error ?? new RunNotFoundError(`no run ${runId} to update`)));
    if (record.status !== "running") this.#release(runId);
    return record;
  }

  /** @returns {Promise<RunRecord>} */
  async getRun(runId) {
    const record = await this.#read("runs", (store) => store.get(runId));
    if (!record) throw new RunNotFoundError(`no run ${runId} in this browser`);
    const [checked] = await this.#withLiveStatus(withDamage([record]));
    if (checked.damage) throw new TypeError(`run ${runId} is damaged (${checked.damage}): delete it`);
    return checked;
  }

  /** The run's finished steps, in order. */
  async loadSteps(runId) {
    const rows = await this.#read("steps", (store) => store.getAll(runRange(runId)));
    return rows.map((row) => row.step);
  }

  /**
   * Every stored run, newest first; one that is not in the format comes with `damage` (and first),
   * so one bad record never hides the others. (Not the updated_at index: it leaves out records
   * whose updated_at is not a valid key.)
   * @returns {Promise<RunRecord[]>}
   */
  async listRuns() {
    const records = withDamage(await this.#read("runs", (store) => store.getAll()));
    const order = (record) => (record.damage ? Infinity : record.updated_at ?? 0);
    return this.#withLiveStatus(records.sort((a, b) => order(b) - order(a) || 0));
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
    checkExport(data); // a file from elsewhere: every field is checked before anything is stored
    const record = { ...withDefaults(data.run), imported: true };
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
  // `body(tx, guard)`: wrap request callbacks in `guard` so that what they throw (a QuotaExceededError
  // from add/put, say) aborts the transaction and rejects with that error, instead of escaping.
  #transaction(names, body, describeFailure = (error) => error) {
    return new Promise((resolve, reject) => {
      const tx = this.#db.transaction(names, "readwrite", { durability: "strict" });
      let thrown = null;
      const fail = (error) => {
        thrown ??= error;
        try {
          tx.abort(); // nothing half-written
        } catch { /* already finished */ }
        reject(error);
      };
      const guard = (callback) => (...args) => {
        try {
          return callback(...args);
        } catch (error) {
          return fail(error);
        }
      };
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(thrown ?? describeFailure(tx.error));
      guard(body)(tx, guard);
    });
  }

  // A run whose writes fail is no longer being saved: let go of its lock, so that it lists as
  // interrupted (resumable from its last saved step) instead of running for ever.
  async #releasingOnFailure(runId, writing) {
    try {
      return await writing;
    } catch (error) {
      this.#release(runId);
      throw error;
    }
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

// A checked record with its missing fields filled in (unknown fields dropped).
function withDefaults(record) {
  checkRecord(record);
  const time = now();
  const clean = { title: "Untitled run", status: "running", steps: 0, created_at: time, updated_at: time,
    system_prompt: "", examples: null, imported: false };
  for (const name of RECORD_FIELDS) if (record[name] !== undefined) clean[name] = record[name];
  return clean;
}

// Stored records as they are, or, when one is not in the format, what can be shown of it and why.
function withDamage(records) {
  return records.map((record) => {
    try {
      checkRecord(record, "run");
      return { title: "Untitled run", status: "running", steps: 0, created_at: 0, updated_at: 0, system_prompt: "",
        examples: null, imported: false, ...record };
    } catch (error) {
      return { id: record?.id, title: typeof record?.title === "string" ? record.title : "Damaged run",
        status: "error", steps: 0, created_at: 0, updated_at: 0, damage: error.message };
    }
  });
}
