"""Pyodide's module factory, patched so that a sandbox worker links it with less CPU.

Every fresh sandbox interpreter is a new worker that runs Pyodide's `pyodide.asm.mjs`: Emscripten's
dynamic linker then walks the 8,560 exports of Pyodide's wasm module a few times (import table, table
slots, global offset table), and wraps a few hundred JS functions in tiny wasm modules. These patches
keep what it builds exactly the same (every table slot, every GOT value: a memory snapshot made with
them holds those numbers), only cheaper to build:

- the factory, and the function in it that stores the exports Pyodide's JS calls, are parenthesized
  function expressions, which V8 compiles eagerly: their bytecode is then in Deno's code cache instead
  of being compiled by every worker on its first call;
- one wasm wrapper module per signature, not one per wrapped function (the bytes depend on the
  signature only; each function still gets its own instance);
- the main module's exports are linked from a layout worked out once from the wasm file
  (`pyodide_prelink`, written into the patched file): the table grows once and gets the 5,182 exported
  functions that had no slot, with no walk of the table; the map from functions to slots is built on the
  first lookup that needs it (none in a boot), and without a layout the slots are added with one `grow`;
- the GOT's entries for the exports (8,554 `WebAssembly.Global`s, which only side modules loaded later
  import) are made when first looked up, and the undefined symbols are found from a list of the entries
  imports made, not a walk over all 8,834; a JS function is wrapped without the table refusing it first;
- the exports are merged into the import table without a closure and an array per export;
- a snapshot is copied into the wasm memory without its zero pages above the heap's break and in the
  C stack below its top megabyte (that memory is fresh, so it is zero already) when the boot passes
  where they are (`_snapshotZeroPages`).

The patched file is written once under the cache folder (`fastboot_dir`) next to links to the
other files; the patches are exact text replacements for the pinned Pyodide, and a file they do not
match exactly is left alone (the sandbox boots the original; tests/unit/test_pyodide_fastboot.py
fails for the pinned version).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from . import pyodide_prelink
from .sandbox_launch import PYODIDE_FILES as FILES  # the boot folder holds every file a sandbox reads
PATCHED = "pyodide.asm.mjs"


PRELINK_PLACEHOLDER = "var prelinkedLayout=null;"


class PatchError(ValueError):
    """Pyodide's file is not the one the patches were written for."""


# (what, original text, replacement): each original must occur exactly once.
PATCHES: tuple[tuple[str, str, str], ...] = (
    ("factory compiled eagerly (start)",
     "async function _createPyodideModule(moduleArg={}){",
     "var _createPyodideModule=(async function _createPyodideModule(moduleArg={}){"),
    ("factory compiled eagerly (end)",
     ";return moduleRtn}export default _createPyodideModule;",
     ";return moduleRtn});export default _createPyodideModule;"),
    # The same for the function that stores the 3,000 exports Pyodide's JS calls (called once, after the
    # factory's body has run, so its name is bound by then).
    ("exports' assignment compiled eagerly (start)",
     "function assignWasmExports(wasmExports){",
     "var assignWasmExports=(function assignWasmExports(wasmExports){"),
    ("exports' assignment compiled eagerly (end)",
     "=wasmExports[\"in6addr_loopback\"].value>>>0}var wasmImports={",
     "=wasmExports[\"in6addr_loopback\"].value>>>0});var wasmImports={"),
    ("one wrapper module per signature",
     "var convertJsFunctionToWasm=(func,sig)=>{var bytes=Uint8Array.of(0,97,115,109,1,0,0,0,1,...uleb128EncodeWithLen("
     "[1,96,...generateTypePack(sig.slice(1)),...generateTypePack(sig[0]===\"v\"?\"\":sig[0])]),2,7,1,1,101,1,102,0,0,"
     "7,5,1,1,102,0,0);var module=new WebAssembly.Module(bytes);",
     "var wrapperModules=new Map;var convertJsFunctionToWasm=(func,sig)=>{var module=wrapperModules.get(sig);"
     "if(!module){var bytes=Uint8Array.of(0,97,115,109,1,0,0,0,1,...uleb128EncodeWithLen("
     "[1,96,...generateTypePack(sig.slice(1)),...generateTypePack(sig[0]===\"v\"?\"\":sig[0])]),2,7,1,1,101,1,102,0,0,"
     "7,5,1,1,102,0,0);module=new WebAssembly.Module(bytes);wrapperModules.set(sig,module)}"),
    ("export slots added with one grow",
     "var updateGOT=(exports,replace)=>{for(var symName in exports){if(isInternalSym(symName)){continue}"
     "var value=exports[symName];var existingEntry=GOT[symName]&&GOT[symName].value!=-1;if(replace||!existingEntry)"
     "{var newValue;if(typeof value==\"function\"){newValue=addFunction(value)}",
     # Slots of functions not in the table yet: the ones addFunction would take (a free one, else the next
     # one past the end), filled after the loop once the table has grown by all of them at once.
     # A GOT entry not made yet is looked up among the deferred values (see "GOT entries made when first
     # looked up"), and a new one is deferred.
     "var updateGOT=(exports,replace)=>{var tableEnd=wasmTable.length,appended=[],deferred=deferredGOT();"
     "for(var symName in exports){if(isInternalSym(symName)){continue}var value=exports[symName];"
     "var entry=GOTEntries[symName];var existingEntry=entry?entry.value!=-1:deferred!==null&&deferred.has(symName)"
     "&&deferred.get(symName)!=-1;if(replace||!existingEntry){var newValue;if(typeof value==\"function\")"
     "{newValue=getFunctionAddress(value);if(!newValue){if(freeTableIndexes.length){newValue=freeTableIndexes.pop();"
     "setTableFunction(newValue,value)}else{newValue=tableEnd+appended.length;appended.push(value)}"
     "setTableMapEntry(value,newValue)}}"),
    ("export slots added with one grow (fill)",
     "GOT[symName]??=new WebAssembly.Global({value:\"i32\",mutable:true});GOT[symName].value=newValue}}};",
     "if(entry){entry.value=newValue}else{deferGOTEntry(symName,newValue)}}}"
     "if(appended.length){wasmTable.grow(appended.length);appended.forEach((func,i)=>setTableFunction(tableEnd+i,func))}};"
     "var setTableFunction=(idx,func)=>{try{setWasmTableEntry(idx,func)}catch(err){if(!(err instanceof TypeError))"
     "{throw err}setWasmTableEntry(idx,convertJsFunctionToWasm(func))}};"),
    # The GOT: a WebAssembly.Global per symbol (8,834), which only side modules loaded later (a package's C
    # extension) import. The exports' values wait in two arrays until a lookup misses the entries made so far:
    # Module.GOT is a proxy that makes the Global then (and all of them when it is enumerated).
    ("GOT entries made when first looked up",
     "var GOT={};",
     "var GOTEntries={},GOTDeferred={names:[],values:[],map:null,prelinked:null};var deferredGOT=()=>{"
     "var deferred=GOTDeferred;if(!deferred.map&&(deferred.names.length||deferred.prelinked)){deferred.map=new Map;"
     "if(deferred.prelinked){var{names,values}=deferred.prelinked;values=values.split(\",\");names.forEach((name,i)=>"
     "{if(values[i]!==\"\"){deferred.map.set(name,+values[i])}});deferred.prelinked=null}deferred.names.forEach((name,i)=>"
     "deferred.map.set(name,deferred.values[i]));deferred.names=deferred.values=[]}return deferred.map};"
     "var deferGOTEntry=(symName,value)=>{if(GOTDeferred.map){GOTDeferred.map.set(symName,value|0)}else"
     "{GOTDeferred.names.push(symName);GOTDeferred.values.push(value|0)}};var getGOTEntry=symName=>{"
     "var entry=GOTEntries[symName];if(entry===undefined&&typeof symName==\"string\"){var deferred=deferredGOT();"
     "if(deferred?.has(symName)){entry=GOTEntries[symName]=new WebAssembly.Global({value:\"i32\",mutable:true},"
     "deferred.get(symName));deferred.delete(symName)}}return entry};var GOT=new Proxy(GOTEntries,{get:(target,"
     "symName)=>getGOTEntry(symName),has:(target,symName)=>symName in target||getGOTEntry(symName)!==undefined,"
     "ownKeys:target=>{for(var symName of[...deferredGOT()?.keys()??[]]){getGOTEntry(symName)}"
     "return Reflect.ownKeys(target)},getOwnPropertyDescriptor:(target,symName)=>{getGOTEntry(symName);"
     "return Reflect.getOwnPropertyDescriptor(target,symName)}});"),
    # The symbols still undefined are entries an import made with -1: listed as they are made (the GOT's
    # order), instead of a walk over every entry.
    ("undefined GOT entries listed",
     "if(!rtn){rtn=GOT[symName]=new WebAssembly.Global({value:\"i32\",mutable:true},-1)}",
     "if(!rtn){rtn=GOT[symName]=new WebAssembly.Global({value:\"i32\",mutable:true},-1);undefinedGOT.push(symName)}"),
    ("undefined GOT entries walked",
     "var reportUndefinedSymbols=()=>{for(var[symName,entry]of Object.entries(GOT)){",
     "var undefinedGOT=[];var reportUndefinedSymbols=()=>{undefinedGOT=undefinedGOT.filter(symName=>"
     "GOTEntries[symName].value==-1);for(var[symName,entry]of undefinedGOT.map(symName=>[symName,"
     "GOTEntries[symName]])){"),
    ("internal symbols in a set",
     "var isInternalSym=symName=>[\"memory\",",
     "var internalSymbols=new Set([\"memory\","),
    ("internal symbols in a set (end)",
     "\"__stop_em_js\"].includes(symName)||symName.startsWith(\"__em_js__\");",
     "\"__stop_em_js\"]);var isInternalSym=symName=>internalSymbols.has(symName)||symName.startsWith(\"__em_js__\");"),
    # With the exports' slots and GOT values worked out from the wasm file (pyodide_prelink, written into
    # `prelinkedLayout` by fastboot_dir), the main module's link puts the exports in their slots and defers
    # their GOT entries, with no walk of the table: the map from functions to their slots (which the linker
    # builds from the whole table) is built on the first lookup that needs it, replaying what was added
    # since. Until then a function whose name is not a wasm function's (its index) can be in it only as one
    # added since, so that list answers. Without a layout, or if the table or exports are not the ones it
    # describes, the link is the usual one.
    ("table map built when needed",
     "var updateTableMap=(offset,count)=>{if(functionsInTableMap){for(var i=offset;i<offset+count;i++){var item="
     "getWasmTableEntry(i);if(item){functionsInTableMap.set(item,i)}}}};var functionsInTableMap;var getFunctionAddress="
     "func=>{if(!functionsInTableMap){functionsInTableMap=new WeakMap;updateTableMap(0,wasmTable.length)}"
     "return functionsInTableMap.get(func)||0};",
     "var updateTableMap=(offset,count)=>{if(functionsInTableMap){for(var i=offset;i<offset+count;i++){var item="
     "getWasmTableEntry(i);if(item){functionsInTableMap.set(item,i)}}}else if(tableMapLog){tableMapLog.push("
     "[null,offset,count])}};var functionsInTableMap;var tableMapLog=null,tableMapListed=null,tableMapEnd=0;"
     "var tableMap=()=>{if(!functionsInTableMap){functionsInTableMap=new WeakMap;var log=tableMapLog;"
     "tableMapLog=tableMapListed=null;updateTableMap(0,log?tableMapEnd:wasmTable.length);for(var[func,idx,count]of "
     "log??[]){if(func){functionsInTableMap.set(func,idx)}else{updateTableMap(idx,count)}}}return functionsInTableMap};"
     "var setTableMapEntry=(func,idx)=>{if(!functionsInTableMap&&tableMapLog){tableMapLog.push([func,idx]);"
     "tableMapListed.set(func,idx)}else{tableMap().set(func,idx)}};var getFunctionAddress=func=>{if("
     "!functionsInTableMap&&tableMapLog&&!/^\\d+$/.test(func?.name)){return tableMapListed.get(func)||0}"
     "return tableMap().get(func)||0};"),
    ("table map built when needed (addFunction)",
     "functionsInTableMap.set(func,ret);return ret}",
     "setTableMapEntry(func,ret);return ret}"),
    ("table map built when needed (removeFunction)",
     "functionsInTableMap.delete(getWasmTableEntry(index))",
     "tableMap().delete(getWasmTableEntry(index))"),
    # The trampoline is an export of an instance made just before: in no slot yet, no lookup needed.
    ("table map built when needed (trampoline)",
     "return addFunction(trampolineInstance.exports.trampoline_call)}",
     "var trampoline=trampolineInstance.exports.trampoline_call,slot=getEmptyTableSlot();setWasmTableEntry(slot,"
     "trampoline);setTableMapEntry(trampoline,slot);return slot}"),
    ("main module linked from its layout",
     "updateGOT(origExports);LDSO.init();",
     "updateMainGOT(origExports);LDSO.init();"),
    ("main module linked from its layout (link)",
     "var isImmutableGlobal=",
     f"{PRELINK_PLACEHOLDER}var updateMainGOT=exports=>{{var layout=prelinkedLayout,names=layout&&Object.keys(exports),"
     "appended=layout?.appended?layout.appended.split(\",\"):[];if(!layout||wasmTable.length!==layout.tableStart||"
     "names.length!==layout.exportCount||functionsInTableMap||freeTableIndexes.length||layout.check.some(([position,"
     "name])=>names[position]!==name)){return updateGOT(exports)}wasmTable.grow(appended.length);for(var i=0;"
     "i<appended.length;i++){wasmTable.set(layout.tableStart+i,exports[names[appended[i]]])}tableMapLog=[];"
     "tableMapListed=new Map;tableMapEnd=layout.tableStart+appended.length;GOTDeferred.prelinked={names,"
     "values:layout.values};Module.linkedFromLayout=true};var isImmutableGlobal="),
    # A JS function (every undefined symbol at boot: 280) is wrapped after the table refuses it with a
    # TypeError, whose making costs more than the wrapper. A wasm function's name is its index: a function
    # named otherwise is no wasm function, and is wrapped without asking the table first.
    ("JS functions wrapped without a refusal first",
     "var ret=getEmptyTableSlot();try{setWasmTableEntry(ret,func)}catch(err){if(!(err instanceof TypeError))"
     "{throw err}var wrapped=convertJsFunctionToWasm(func,sig);setWasmTableEntry(ret,wrapped)}",
     "var ret=getEmptyTableSlot();if(typeof func==\"function\"&&!/^\\d+$/.test(func.name)){setWasmTableEntry(ret,"
     "convertJsFunctionToWasm(func,sig))}else{try{setWasmTableEntry(ret,func)}catch(err){if(!(err instanceof "
     "TypeError)){throw err}var wrapped=convertJsFunctionToWasm(func,sig);setWasmTableEntry(ret,wrapped)}}"),
    ("exports merged without a closure each",
     "var mergeLibSymbols=(exports,libName)=>{for(var[sym,exp]of Object.entries(exports)){const setImport=target=>"
     "{if(!isSymbolDefined(target)){wasmImports[target]=exp}};setImport(sym);const main_alias=\"__main_argc_argv\";"
     "if(sym==\"main\"){setImport(main_alias)}if(sym==main_alias){setImport(\"main\")}}};",
     "var mergeLibSymbols=(exports,libName)=>{const main_alias=\"__main_argc_argv\";for(var sym of Object.keys(exports))"
     "{var exp=exports[sym];if(!isSymbolDefined(sym)){wasmImports[sym]=exp}if(sym==\"main\"&&!isSymbolDefined(main_alias))"
     "{wasmImports[main_alias]=exp}if(sym==main_alias&&!isSymbolDefined(\"main\")){wasmImports[\"main\"]=exp}}};"
     # Defined here, beside the linker (the snapshot's code below is in the same scope).
     # Which pages are copied: see the comment below.
     "var copySnapshotMemory=(image,zeroPages)=>{var heap=Module.HEAP8;if(!zeroPages){return heap.set(image)}"
     "var pageSize=65536,brk=Math.ceil(HEAPU32[_emscripten_get_sbrk_ptr()>>>2]/pageSize)*pageSize,"
     "stackLow=Math.ceil(___stack_low/pageSize)*pageSize,stackTop=Math.floor(___stack_high/pageSize)*pageSize-16*pageSize;"
     "if(!(stackLow<stackTop&&stackTop<=brk)||new BigUint64Array(heap.buffer,stackTop-pageSize,pageSize/8).some(word=>word))"
     "{stackLow=stackTop=brk}var copied=at=>!zeroPages[at/pageSize]||at<stackLow||at>=stackTop&&at<brk;"
     "for(var at=0;at<image.length;){if(!copied(at)){at+=pageSize;continue}var end=at+pageSize;"
     "while(end<image.length&&copied(end)){end+=pageSize}heap.set(image.subarray(at,end),at);at=end}};"),
    # Where the memory is still as instantiation made it, zero, pages of the image that are zero need no copy
    # (nor the kernel's page that a write would take): past the heap's break (read before the copy), and the
    # C stack (10 MB, below the heap) but for its top megabyte, which the constructors used. The page under
    # that megabyte must still be zero, else the whole stack is copied.
    ("snapshot copied without its zero pages",
     "let s=(new TextDecoder).decode(i),l=JSON.parse(s);return Module.HEAP8.set(t),l}",
     "let s=(new TextDecoder).decode(i),l=JSON.parse(s);return copySnapshotMemory(t,API.config._snapshotZeroPages),l}"),
)


def patch_source(text: str) -> str:
    """`pyodide.asm.mjs`'s text with every patch applied; PatchError unless each matches exactly once."""
    for what, original, replacement in PATCHES:
        count = text.count(original)
        if count != 1:
            raise PatchError(f"Pyodide's pyodide.asm.mjs is not the pinned one: {what!r} matched {count} times")
        text = text.replace(original, replacement)
    return text


def with_layout(patched: str, wasm_path: Path, original: str) -> str:
    """The patched factory with the main module's link worked out from its wasm file (pyodide_prelink),
    or as it is (the link done at boot) when the file is not one that reader expects."""
    try:
        layout = pyodide_prelink.prelink_layout(wasm_path.read_bytes(), original)
    except (pyodide_prelink.PrelinkError, IndexError, UnicodeDecodeError):
        return patched
    return patched.replace(PRELINK_PLACEHOLDER, f"var prelinkedLayout={layout.js()};", 1)


def fastboot_dir(pyodide_dir: Path, cache_dir: Path) -> Path:
    """A folder with Pyodide's files and the patched factory, made once per version under `cache_dir`.

    Raises PatchError (another Pyodide) or OSError (nowhere to write it): callers boot the original.
    """
    digest = hashlib.sha256(repr(PATCHES).encode() + Path(pyodide_prelink.__file__).read_bytes())
    for name in FILES:
        stat = (pyodide_dir / name).stat()
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    target = cache_dir / f"pyodide-fastboot-{digest.hexdigest()[:20]}"
    if all((target / name).is_file() for name in FILES):
        return target
    original = (pyodide_dir / PATCHED).read_text(encoding="utf-8")
    patched = with_layout(patch_source(original), pyodide_dir / "pyodide.asm.wasm", original)
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".pyodide-fastboot-", dir=cache_dir))
    try:
        (building / PATCHED).write_text(patched, encoding="utf-8")
        for name in FILES:
            if name != PATCHED:
                _link_or_copy(pyodide_dir / name, building / name)
        try:
            building.rename(target)
        except OSError:  # made meanwhile by another process
            if not all((target / name).is_file() for name in FILES):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
