"""`build --wheel`: requirements resolved with pip from a wheel cache, lock entries for Pyodide.

Offline throughout: pip reads a folder of wheels made here (`--no-index`).
"""

import json

import pytest
from wheel_factory import make_wheel

pytestmark = pytest.mark.cpython_only  # the site build runs pip in a subprocess, from a checkout


@pytest.fixture
def build():
    from build import lockfile, packages, wheel

    return type("Build", (), {"lockfile": lockfile, "packages": packages, "BuildError": wheel.BuildError})


def test_requires_dist_markers_are_evaluated_for_pyodide(build):
    requires = ['six>=1.5', 'colorama; sys_platform == "win32"', 'pyodide-shim; sys_platform == "emscripten"',
                'js-only; platform_system == "Emscripten" and platform_machine == "wasm32"',
                'tomli; python_version < "3.11"', 'exceptiongroup; python_version < "3.14"',
                'new-thing; python_full_version >= "3.14.1"', 'pytest; extra == "test"', 'Six[extra]>=1']
    assert build.lockfile.dependencies(requires, build.lockfile.pyodide_markers("3.14.2")) == [
        "six", "pyodide-shim", "js-only", "new-thing"]


def test_imports_come_from_top_level_txt_or_the_file_list(build, tmp_path):
    python = "3.14.2"
    listed = make_wheel(tmp_path, "python-dateutil", files={"dateutil/__init__.py": ""}, top_level="dateutil\n")
    assert build.lockfile.wheel_entry(listed, python)["imports"] == ["dateutil"]
    files = {"six.py": "", "pkg/__init__.py": "", "nspkg/sub/mod.py": "", "pkg-1.0.data/purelib/x.py": "",
             "__pycache__/six.cpython-314.pyc": "", "README.txt": ""}
    entry = build.lockfile.wheel_entry(make_wheel(tmp_path, "pkg", files=files), python)
    assert entry["imports"] == ["nspkg", "pkg", "six"]
    assert entry["name"] == "pkg" and len(entry["sha256"]) == 64


def test_only_pure_python_wheels_are_accepted(build, tmp_path):
    pure = build.lockfile.is_pure_python
    assert pure("six-1.17.0-py2.py3-none-any.whl") and pure("a-1.0-py3-none-any.whl")
    assert not pure("numpy-2.3.0-cp314-cp314-manylinux_2_28_x86_64.whl")
    assert not pure("numpy-2.3.0-cp314-cp314-pyodide_2025_0_wasm32.whl")
    assert not pure("old-1.0-py2-none-any.whl")
    compiled = make_wheel(tmp_path, "fast", tag="cp314-cp314-linux_x86_64")
    with pytest.raises(build.BuildError, match="fast-1.0-cp314-cp314-linux_x86_64.whl is not a pure-Python wheel"):
        build.packages.collect_wheels([str(compiled)], "3.14.2", cache=tmp_path / "cache", offline=True)


def test_a_requirement_brings_its_dependencies_as_pyodide_sees_them(build, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    make_wheel(cache, "wa-test-greet", requires=["wa-test-words>=1", 'wa-test-colors; sys_platform == "win32"',
                                                 'wa-test-browser; sys_platform == "emscripten"'])
    make_wheel(cache, "wa-test-words")
    make_wheel(cache, "wa-test-colors")
    make_wheel(cache, "wa-test-browser")  # pip, on this machine, skips it: the build asks for it itself
    make_wheel(cache, "wa-test-unrelated")
    wheels = build.packages.collect_wheels(["wa-test-greet==1.0"], "3.14.2", cache=cache, offline=True)
    assert sorted(path.name for path in wheels) == ["wa_test_browser-1.0-py3-none-any.whl",
                                                    "wa_test_greet-1.0-py3-none-any.whl",
                                                    "wa_test_words-1.0-py3-none-any.whl"]
    assert all(path.parent == cache for path in wheels)


def test_a_wheel_files_missing_dependency_is_a_clear_error(build, tmp_path):
    wheel = make_wheel(tmp_path, "wa-test-app", requires=["wa-test-absent"])
    with pytest.raises(build.BuildError) as error:
        build.packages.collect_wheels([str(wheel)], "3.14.2", cache=tmp_path / "cache", offline=True)
    assert str(error.value).startswith("wa-test-app needs wa-test-absent: wa-test-absent: not in the wheel cache")


def test_a_package_without_a_pure_python_wheel_is_named(build, tmp_path):
    stderr = ("ERROR: Could not find a version that satisfies the requirement numpy (from versions: none)\n"
              "ERROR: No matching distribution found for numpy\n")
    message = build.packages._explain(stderr, "3.14", offline=False, cache=tmp_path)
    assert message.startswith("numpy: no pure-Python wheel (py3-none-any) for Python 3.14 on the package index")
    assert "Pyodide" in message


def test_the_lock_refuses_wheels_whose_dependencies_are_absent(build, tmp_path):
    pyodide_lock = tmp_path / "pyodide-lock.json"
    pyodide_lock.write_text(json.dumps({"info": {"python": "3.14.2"}, "packages": {}}))
    wheel = make_wheel(tmp_path, "python-dateutil", requires=["six >=1.5"], top_level="dateutil\n")
    with pytest.raises(build.lockfile.WheelError, match="python-dateutil needs six"):
        build.lockfile.write_lock(pyodide_lock, [wheel], tmp_path / "lock.json")
    six = make_wheel(tmp_path, "six", files={"six.py": ""})
    lock = build.lockfile.write_lock(pyodide_lock, [wheel, six], tmp_path / "lock.json")
    assert lock["packages"]["python-dateutil"]["depends"] == ["six"]
    assert json.loads((tmp_path / "lock.json").read_text()) == lock
