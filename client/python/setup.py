"""Build hook of sextant-client: compiles the wire API into the package.

`proto/sextant/v1/sextant.proto` (the repository's one wire definition) is compiled with grpc_tools
every time the package is built, so an installed client always matches the proto it was built from
and no generated file is kept in git. The generated modules land in `sextant/_proto/`:

    sextant_pb2.py, sextant_pb2.pyi   messages (and their type stubs)
    sextant_pb2_grpc.py               the service stub; its absolute import of `sextant.v1.sextant_pb2`
                                      is rewritten to a relative one, because `sextant` is this
                                      package's own name

Where the proto is looked for, first hit wins:
    $SEXTANT_PROTO_DIR      a directory holding sextant/v1/sextant.proto
    ./proto                 the copy an sdist carries (see SdistWithProto)
    ../../proto             the repository checkout (client/python -> proto)

The runtime dependencies grpcio and protobuf get lower bounds read from the generated code
(GRPC_GENERATED_VERSION and the protobuf gencode version): the generated modules refuse to load on an
older runtime, so pip must not pick one.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PROTO_REL = Path("sextant") / "v1" / "sextant.proto"
PROTO_OUT = Path("sextant") / "_proto"
GENERATED = ("sextant_pb2.py", "sextant_pb2.pyi", "sextant_pb2_grpc.py")

# The one import grpc_tools writes into sextant_pb2_grpc.py for our messages.
_GRPC_IMPORT = re.compile(r"^from sextant\.v1 import sextant_pb2 as (\w+)$", re.MULTILINE)


def find_proto_dir() -> Path:
    candidates: List[Path] = []
    env = os.environ.get("SEXTANT_PROTO_DIR")
    if env:
        candidates.append(Path(env))
    candidates += [HERE / "proto", HERE.parent.parent / "proto"]
    for directory in candidates:
        if (directory / PROTO_REL).is_file():
            return directory.resolve()
    raise RuntimeError(
        "sextant-client: cannot find sextant/v1/sextant.proto; looked in "
        + ", ".join(str(c) for c in candidates)
        + ". Build from the Sextant repository (client/python) or set SEXTANT_PROTO_DIR."
    )


def generate(dest: Path) -> None:
    """Compiles the proto into dest/ (sextant_pb2.py, .pyi, sextant_pb2_grpc.py)."""
    import grpc_tools
    from grpc_tools import protoc

    proto_dir = find_proto_dir()
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory(prefix="sextant-protoc-") as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            str(proto_dir / PROTO_REL),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"sextant-client: protoc failed on {proto_dir / PROTO_REL}")
        out = Path(tmp) / "sextant" / "v1"
        grpc_code = (out / "sextant_pb2_grpc.py").read_text(encoding="utf-8")
        grpc_code, replaced = _GRPC_IMPORT.subn(r"from . import sextant_pb2 as \1", grpc_code)
        if replaced != 1:
            raise RuntimeError(
                "sextant-client: the grpc_tools output changed shape; expected one line "
                "'from sextant.v1 import sextant_pb2 as ...' in sextant_pb2_grpc.py, found "
                f"{replaced}. Update _GRPC_IMPORT in setup.py."
            )
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "sextant_pb2.py", dest / "sextant_pb2.py")
        shutil.copyfile(out / "sextant_pb2.pyi", dest / "sextant_pb2.pyi")
        (dest / "sextant_pb2_grpc.py").write_text(grpc_code, encoding="utf-8")


def runtime_minimums(generated: Path) -> Tuple[Optional[str], Optional[str]]:
    """(protobuf, grpcio) minimum versions the generated code demands, None when it names none."""
    pb2 = (generated / "sextant_pb2.py").read_text(encoding="utf-8")
    grpc_code = (generated / "sextant_pb2_grpc.py").read_text(encoding="utf-8")
    protobuf_min = None
    m = re.search(
        r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*(\d+),\s*(\d+),\s*(\d+),",
        pb2,
    )
    if m:
        protobuf_min = ".".join(m.groups())
    grpcio_min = None
    m = re.search(r"^GRPC_GENERATED_VERSION = ['\"]([0-9.]+)['\"]", grpc_code, re.MULTILINE)
    if m:
        grpcio_min = m.group(1)
    return protobuf_min, grpcio_min


def dependencies() -> List[str]:
    with tempfile.TemporaryDirectory(prefix="sextant-deps-") as tmp:
        generate(Path(tmp))
        protobuf_min, grpcio_min = runtime_minimums(Path(tmp))
    return [
        f"grpcio>={grpcio_min or '1.49'}",
        f"protobuf>={protobuf_min or '3.20'}",
        "numpy>=1.20",
        "tqdm>=4.0",
    ]


class BuildPyWithProto(build_py):
    """build_py that also writes the generated modules (into the source tree when editable)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            generate(HERE / PROTO_OUT)
        else:
            generate(Path(self.build_lib) / PROTO_OUT)

    def get_outputs(self, include_bytecode: bool = True) -> List[str]:  # type: ignore[override]
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            for name in GENERATED:
                path = str(Path(self.build_lib) / PROTO_OUT / name)
                if path not in outputs:
                    outputs.append(path)
        return outputs


class SdistWithProto(sdist):
    """sdist that carries a copy of the proto (./proto), so the sdist builds on its own."""

    def make_release_tree(self, base_dir: str, files: List[str]) -> None:
        super().make_release_tree(base_dir, files)
        target = Path(base_dir) / "proto" / PROTO_REL
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(find_proto_dir() / PROTO_REL, target)


if __name__ == "__main__":
    setup(
        install_requires=dependencies(),
        cmdclass={"build_py": BuildPyWithProto, "sdist": SdistWithProto},
    )
