// Playground projects in IndexedDB, and the runs tried with each: a project is
// a record of web/playground/project.js's format, a run is what one "Run" gave
// (outcome, steps, tokens) with the definition it ran, so versions compare.
//
//   const store = await openProjectStore();
//   await store.save(project);                       // checked, stamped `updated`
//   const projects = await store.list();             // newest first
//   await store.addRun({ projectId, task, state, steps, ... });
//   const runs = await store.runsOf(project.id);     // newest first

import { ProjectError, checkProject, copyProject, newId } from "./project.js";

export const PROJECT_DB_NAME = "wasm-agent-projects";

/**
 * @typedef {object} ProjectRun
 * @property {string} id
 * @property {string} projectId
 * @property {number} at            when it started (ms since the epoch)
 * @property {string} task
 * @property {string} state         "success" | "max_steps_error" | "error" | "interrupted"
 * @property {number} steps
 * @property {number} inputTokens
 * @property {number} outputTokens
 * @property {number} duration      seconds
 * @property {string} output        the answer or the error, shortened
 * @property {string} version       a digest of the definition it ran (agent and model parts)
 */

/** Open (creating on first use) this origin's project database. */
export async function openProjectStore({ name = PROJECT_DB_NAME } = {}) {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("projects", { keyPath: "id" });
      request.result.createObjectStore("runs", { keyPath: "id" }).createIndex("projectId", "projectId");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error(`the project database ${name} is blocked by another tab that is upgrading it`));
  });
  db.onversionchange = () => db.close();
  return new ProjectStore(db);
}

export class ProjectStore {
  #db;

  constructor(db) {
    this.#db = db;
  }

  /** All projects, newest first; a record that is no longer in the format is left out. */
  async list() {
    const records = await this.#request("projects", "readonly", (store) => store.getAll());
    const projects = records.flatMap((record) => {
      try {
        return [checkProject(record)];
      } catch {
        return [];
      }
    });
    return projects.sort((a, b) => b.updated - a.updated);
  }

  /** @returns {Promise<import("./project.js").Project | null>} */
  async get(id) {
    const record = await this.#request("projects", "readonly", (store) => store.get(id));
    return record ? checkProject(record) : null;
  }

  /** Save (create or replace) a project, checked; returns it as saved, `updated` now. */
  async save(project) {
    const checked = checkProject({ ...project, updated: Date.now() });
    await this.#request("projects", "readwrite", (store) => store.put(checked));
    return checked;
  }

  async rename(id, name) {
    const project = await this.#existing(id);
    return this.save({ ...project, name });
  }

  /** A copy of a project (not of its runs), saved under a new id. */
  async duplicate(id, name) {
    return this.save(copyProject(await this.#existing(id), name));
  }

  /** Delete a project and its runs. */
  async delete(id) {
    const runs = await this.runsOf(id);
    await this.#transaction(["projects", "runs"], "readwrite", (tx) => {
      tx.objectStore("projects").delete(id);
      for (const run of runs) tx.objectStore("runs").delete(run.id);
    });
  }

  /** @param {Omit<ProjectRun, "id">} run */
  async addRun(run) {
    const record = { ...run, id: newId() };
    await this.#request("runs", "readwrite", (store) => store.put(record));
    return record;
  }

  /** @returns {Promise<ProjectRun[]>} newest first */
  async runsOf(projectId) {
    const runs = await this.#request("runs", "readonly", (store) => store.index("projectId").getAll(projectId));
    return runs.sort((a, b) => b.at - a.at);
  }

  async #existing(id) {
    const project = await this.get(id);
    if (!project) throw new ProjectError("id", `there is no project ${id} (deleted in another tab?)`);
    return project;
  }

  #request(storeName, mode, make) {
    return new Promise((resolve, reject) => {
      const request = make(this.#db.transaction(storeName, mode).objectStore(storeName));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  #transaction(storeNames, mode, fill) {
    return new Promise((resolve, reject) => {
      const tx = this.#db.transaction(storeNames, mode);
      fill(tx);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("the change was not saved"));
    });
  }
}

/** A short digest (FNV-1a) of what a run depends on, the agent and model parts, to tell versions apart. */
export function definitionVersion(project) {
  const text = JSON.stringify({ agent: project.agent, model: project.model });
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, "0");
}
