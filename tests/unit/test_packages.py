"""Which wheels make `additional_authorized_imports` importable: the dependency closure from the lock."""

import pytest

from wasm_agent.executor.packages import MissingPackageError, wheels_for_imports


def entry(name, imports=None, depends=()):
    return {"name": name, "imports": [name] if imports is None else imports, "depends": list(depends),
            "file_name": f"{name}-1.0-py3-none-any.whl", "sha256": "0" * 64}


def lock(*entries):
    return {"info": {"python": "3.14.2"}, "packages": {e["name"]: e for e in entries}}


def names(entries):
    return [e["name"] for e in entries]


def test_dependencies_come_first_and_each_package_once():
    packages = lock(entry("app", depends=["web", "db"]), entry("web", depends=["util"]),
                    entry("db", depends=["util"]), entry("util"), entry("unused"))
    assert names(wheels_for_imports(packages, ["app", "db"])) == ["util", "web", "db", "app"]


def test_a_dependency_only_the_lock_names_is_installed():
    packages = lock(entry("python-dateutil", imports=["dateutil"], depends=["six"]), entry("six"))
    assert names(wheels_for_imports(packages, ["dateutil.relativedelta"])) == ["six", "python-dateutil"]


def test_standard_library_and_star_need_nothing():
    assert wheels_for_imports(lock(entry("six")), ["json", "os.path", "*"], stdlib={"json", "os"}) == []


def test_standard_modules_that_pyodide_cannot_import_are_refused_now():
    with pytest.raises(MissingPackageError, match="tkinter: part of Python.s standard library, but Pyodide"):
        wheels_for_imports(lock(entry("six")), ["json", "tkinter"], stdlib={"json", "tkinter"})


def test_dependency_names_are_matched_canonically():
    packages = lock(entry("zope-interface", imports=["zope"], depends=["Setuptools_Lite"]), entry("setuptools-lite"))
    assert names(wheels_for_imports(packages, ["zope"])) == ["setuptools-lite", "zope-interface"]


def test_a_dependency_cycle_installs_each_once():
    packages = lock(entry("a", depends=["b"]), entry("b", depends=["a"]))
    assert sorted(names(wheels_for_imports(packages, ["a", "b"]))) == ["a", "b"]


def test_a_module_no_wheel_provides_is_a_clear_error():
    with pytest.raises(MissingPackageError) as error:
        wheels_for_imports(lock(entry("six")), ["pandas", "six", "numpy.linalg"], stdlib=set())
    assert str(error.value).startswith("pandas, numpy.linalg: no wheel in this site provides them; build the site "
                                       "with `python -m wasm_agent build --wheel")


def test_a_dependency_missing_from_the_lock_names_both():
    packages = lock(entry("python-dateutil", imports=["dateutil"], depends=["six"]))
    with pytest.raises(MissingPackageError) as error:
        wheels_for_imports(packages, ["dateutil"])
    assert str(error.value) == ("python-dateutil depends on six, which is not in the lock of this site; "
                                "add it with `python -m wasm_agent build --wheel six`")
