"""The build backend of the `tok` Python package (PEP 517, no dependencies).

It builds the C ABI (`libTokC.so`) with `swift build -c release
--static-swift-stdlib` in the repository this folder is in, so the library
carries the Swift runtime and needs only the system's C and C++ libraries,
ICU and zstd, and writes a wheel of the `tok` package with the library in
it. TOK_LIBRARY names a library already built, to package instead.
"""
import base64
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

NAME = "tok"
VERSION = "0.1.0"
HERE = pathlib.Path(__file__).resolve().parents[1]
ROOT = HERE.parent
LIBRARY = "libTokC.so"
TAG = "py3-none-linux_x86_64"
METADATA = f"""Metadata-Version: 2.1
Name: {NAME}
Version: {VERSION}
Summary: The fastest exact byte-level BPE encoder, with tiktoken's and HuggingFace's conventions
Requires-Python: >=3.9
Provides-Extra: numpy
Requires-Dist: numpy; extra == "numpy"
Provides-Extra: transformers
Requires-Dist: transformers>=5; extra == "transformers"
Requires-Dist: numpy; extra == "transformers"
"""


def _library():
    if os.environ.get("TOK_LIBRARY"):
        return pathlib.Path(os.environ["TOK_LIBRARY"])
    command = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "TokC"]
    print("tok: " + " ".join(command), file=sys.stderr)
    subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
    return ROOT / ".build" / "release" / LIBRARY


def _stripped(library):
    """The library's bytes without its debug sections (half its size), where `strip` is installed."""
    if not shutil.which("strip"):
        return library.read_bytes()
    with tempfile.TemporaryDirectory() as work:
        copy = pathlib.Path(work) / LIBRARY
        subprocess.run(["strip", "--strip-debug", "-o", str(copy), str(library)], check=True)
        return copy.read_bytes()


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    library = _library()
    files = {f"{NAME}/{p.name}": p.read_bytes() for p in sorted((HERE / NAME).glob("*.py"))}
    files[f"{NAME}/{LIBRARY}"] = _stripped(library)
    info = f"{NAME}-{VERSION}.dist-info"
    files[f"{info}/METADATA"] = METADATA.encode()
    files[f"{info}/WHEEL"] = f"Wheel-Version: 1.0\nGenerator: tok_build\nRoot-Is-Purelib: false\nTag: {TAG}\n".encode()
    files[f"{info}/top_level.txt"] = f"{NAME}\n".encode()
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = f"{NAME}-{VERSION}-{TAG}.whl"
    target = pathlib.Path(wheel_directory) / wheel
    temporary = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(entry, data)
    os.replace(temporary, target)
    return wheel


def get_requires_for_build_wheel(config_settings=None):
    return []
