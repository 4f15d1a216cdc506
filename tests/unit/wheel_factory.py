"""Small wheels made on the spot, for the tests of package resolution (no index, no network)."""

import zipfile


def make_wheel(folder, name, requires=(), files=None, top_level=None, tag="py3-none-any"):
    dist = name.replace("-", "_")
    path = folder / f"{dist}-1.0-{tag}.whl"
    metadata = "Metadata-Version: 2.1\nName: {}\nVersion: 1.0\n{}".format(
        name, "".join(f"Requires-Dist: {r}\n" for r in requires))
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in (files or {f"{dist}/__init__.py": "VALUE = 1\n"}).items():
            archive.writestr(member, text)
        archive.writestr(f"{dist}-1.0.dist-info/METADATA", metadata)
        archive.writestr(f"{dist}-1.0.dist-info/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n")
        if top_level is not None:
            archive.writestr(f"{dist}-1.0.dist-info/top_level.txt", top_level)
        archive.writestr(f"{dist}-1.0.dist-info/RECORD", "")
    return path
