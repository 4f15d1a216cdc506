"""Durable runs: every finished step is written before the next model call.

`RunStore` is the interface; `FileRunStore` keeps runs in a folder on
CPython (the browser keeps them in IndexedDB behind the same calls). A run
is a record (id, title, status, …) plus its memory: the system prompt and
the steps, appended one by one.

An imported run (`import_run`, or on `FileRunStore` a run folder this store did
not write) is untrusted: its record says `imported=True`, and resuming it does
not run its code again unless asked (`agent.resume(run_id, replay=True)`).

>>> import asyncio, tempfile
>>> from wasm_agent import CodeAgent, ScriptedModel
>>> store = FileRunStore(tempfile.mkdtemp())
>>> agent = CodeAgent([], ScriptedModel(["<code>final_answer(1)</code>"]),
...                   executor_type="inprocess", run_store=store)
>>> agent.run("One?")
1
>>> [run.status for run in asyncio.run(store.list_runs())]
['success']
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import shutil
import time
import uuid
import warnings
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from .memory import AgentMemory
from .run_format import RECORD_FIELDS, RunFormatError, check_export, check_record, check_steps

RunStatus = Literal["running", "interrupted", "success", "max_steps_error", "error"]


@dataclass
class RunRecord:
    id: str
    title: str
    status: RunStatus = "running"
    steps: int = 0  # finished action steps
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    system_prompt: str = ""
    examples: list | None = None
    imported: bool = False  # came from elsewhere: its code is not run again on resume unless asked
    model_id: str | None = None  # the model the run used (its timeline and trace name it)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    @classmethod
    def from_dict(cls, data: dict, path: str = "run") -> "RunRecord":
        """A record from stored or imported data, checked field by field (unknown fields dropped)."""
        check_record(data, path)
        return cls(**{name: data[name] for name in RECORD_FIELDS if name in data})


class RunBusyError(RuntimeError):
    """The run is running elsewhere (another tab or process): stop it there first."""


class RunStoreError(RuntimeError):
    """The store refused a read or write (a full quota, an aborted transaction); the message is the store's."""


class RunStore(ABC):
    """Where runs are kept. Every call is atomic for the run it names."""

    @abstractmethod
    async def create_run(self, record: RunRecord) -> None: ...

    @abstractmethod
    async def append_step(self, run_id: str, step: dict) -> None:
        """Add a finished step (`MemoryStep.to_dict()`) durably, in order."""

    @abstractmethod
    async def update_run(self, run_id: str, **fields) -> RunRecord: ...

    @abstractmethod
    async def get_run(self, run_id: str) -> RunRecord: ...

    @abstractmethod
    async def load_steps(self, run_id: str) -> list[dict]: ...

    @abstractmethod
    async def list_runs(self) -> list[RunRecord]:
        """Newest first."""

    @abstractmethod
    async def delete_run(self, run_id: str) -> None: ...

    async def load_memory(self, run_id: str) -> tuple[RunRecord, AgentMemory]:
        """The run's record and its steps as an agent's memory (see `saved_memory`)."""
        record = await self.get_run(run_id)
        return record, saved_memory(record, await self.load_steps(run_id))

    async def export_run(self, run_id: str) -> dict:
        """The run as one JSON-compatible object (for download, or `import_run`)."""
        return {"format": "wasm-agent-run/1", "run": asdict(await self.get_run(run_id)),
                "steps": await self.load_steps(run_id)}

    async def import_run(self, data: dict) -> RunRecord:
        """Add an exported run, checked field by field first (`RunFormatError` names the bad field).

        The run is marked `imported`: resuming it does not run its code unless asked.
        """
        check_export(data)
        record = RunRecord.from_dict(data["run"])
        record.imported = True
        if record.status == "running":
            record.status = "interrupted"  # nothing runs it here
        await self.create_run(record)
        for step in data["steps"]:
            await self.append_step(record.id, step)
        return await self.get_run(record.id)


def saved_memory(record: RunRecord, steps: list[dict]) -> AgentMemory:
    """A saved run's steps as an agent's memory, each step checked field by field first: a damaged one (a
    store written by other code, a file edited by hand) is a `RunFormatError` that names the field."""
    try:
        check_steps(steps)
    except RunFormatError as error:
        raise RunFormatError(f"run {record.id!r} has a damaged step: {error}") from None
    return AgentMemory.from_dict({"system_prompt": record.system_prompt, "examples": record.examples, "steps": steps})


class FileRunStore(RunStore):
    """Runs as folders: `run.json` (the record) and `steps.jsonl` (one finished step a line).

    A run this store creates is sealed (`seal`: an HMAC of its id under the store's own
    `.store-key`, which is never exported); a folder without a valid seal was copied in from
    elsewhere and is treated as imported.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def _folder(self, run_id: str) -> Path:
        if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
            raise ValueError(f"invalid run id {run_id!r}")
        return self.directory / run_id

    async def create_run(self, record: RunRecord) -> None:
        folder = self._folder(record.id)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=False)
        await asyncio.to_thread(self._write_record, record)
        if not record.imported:
            await asyncio.to_thread((folder / "seal").write_text, self._seal(record.id))

    async def append_step(self, run_id: str, step: dict) -> None:
        line = json.dumps(step, ensure_ascii=False) + "\n"
        await asyncio.to_thread(self._append, self._folder(run_id) / "steps.jsonl", line)

    async def update_run(self, run_id: str, **fields) -> RunRecord:
        record = await self.get_run(run_id)
        for name, value in fields.items():
            if not hasattr(record, name) or name in ("id", "imported"):
                raise ValueError(f"a run has no field {name!r} to update")
            setattr(record, name, value)
        record.updated_at = time.time()
        await asyncio.to_thread(self._write_record, record)
        return record

    async def get_run(self, run_id: str) -> RunRecord:
        path = self._folder(run_id) / "run.json"
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except FileNotFoundError:
            raise KeyError(f"no run {run_id!r} in {self.directory}") from None
        try:
            record = RunRecord.from_dict(json.loads(text))
        except (ValueError, RecursionError) as error:  # not JSON (or nested too deep to read), or not a record
            raise RunFormatError(f"run {run_id!r} in {self.directory} is damaged ({error}): delete it") from None
        if not record.imported and not await asyncio.to_thread(self._sealed, run_id):
            record.imported = True  # a folder this store did not write
        return record

    async def load_steps(self, run_id: str) -> list[dict]:
        path = self._folder(run_id) / "steps.jsonl"
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except FileNotFoundError:
            return []
        steps = []
        # Split on "\n" only: splitlines() also breaks at U+2028 and friends, which JSON leaves in strings.
        for line in filter(None, text.split("\n")):
            try:
                steps.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut by a crash: the steps before it are whole
            except RecursionError:
                raise RunFormatError(f"run {run_id!r} in {self.directory} has a step nested too deep to read: "
                                     "delete it") from None
        return steps

    async def list_runs(self) -> list[RunRecord]:
        if not self.directory.exists():
            return []
        records = []
        for folder in self.directory.iterdir():
            if (folder / "run.json").exists():
                try:
                    records.append(await self.get_run(folder.name))
                except ValueError as error:  # one bad folder does not hide the others
                    warnings.warn(str(error), stacklevel=2)
        return sorted(records, key=lambda r: r.updated_at, reverse=True)

    async def delete_run(self, run_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._folder(run_id), ignore_errors=True)

    # -- files ------------------------------------------------------------------------
    def _seal(self, run_id: str, key: bytes | None = None) -> str:
        return hmac.new(key or self._key(), run_id.encode(), "sha256").hexdigest()

    def _sealed(self, run_id: str) -> bool:
        try:
            key = bytes.fromhex((self.directory / ".store-key").read_text(encoding="ascii"))
            seal = (self._folder(run_id) / "seal").read_text(encoding="ascii").strip()
        except (OSError, ValueError):  # no key yet (nothing sealed here), no seal, or not text
            return False
        return bool(key) and hmac.compare_digest(seal, self._seal(run_id, key))

    def _key(self) -> bytes:
        """The store's own secret, made on first use (read-only for its owner)."""
        path = self.directory / ".store-key"
        try:
            return bytes.fromhex(path.read_text(encoding="ascii"))
        except FileNotFoundError:
            pass
        key = os.urandom(32)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return bytes.fromhex(path.read_text(encoding="ascii"))
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(key.hex())
        return key

    def _write_record(self, record: RunRecord) -> None:
        path = self._folder(record.id) / "run.json"
        temporary = path.with_suffix(".json.tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(asdict(record), file, ensure_ascii=False)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # readers see the old record or the new one, never half

    @staticmethod
    def _append(path: Path, line: str) -> None:
        with open(path, "a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())
