"""Generates the gRPC stubs (meshkv.v1) from the repository's proto/ while building the package.

The stubs are not committed: they are made from proto/meshkv/v1/*.proto by the grpc_tools of the interpreter
that builds (Debian's python3-grpc-tools with --no-build-isolation), so they always match the protos and the
installed protobuf runtime. The protos are found in MESHKV_PROTO_DIR, else in the checkout (../../proto).
Everything else is in pyproject.toml.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS = ("meshkv/v1/kv.proto", "meshkv/v1/cluster.proto")


def proto_dir():
    d = os.environ.get("MESHKV_PROTO_DIR") or os.path.join(HERE, "..", "..", "proto")
    missing = [p for p in PROTOS if not os.path.isfile(os.path.join(d, p))]
    if missing:
        raise SystemExit(f"meshkv: cannot generate the stubs: {', '.join(missing)} not found under {d}; "
                         "build from a meshkv checkout or set MESHKV_PROTO_DIR to its proto/ directory")
    return d


class BuildPyWithStubs(build_py):
    """build_py, then protoc into the build tree's meshkv/v1 (a regular package: nothing can shadow it)."""

    def run(self):
        super().run()
        try:
            from grpc_tools import protoc
        except ImportError as e:
            raise SystemExit(f"meshkv: grpc_tools is needed to build ({e}): apt-get install python3-grpc-tools "
                             "and build with pip install --no-build-isolation") from e
        src = proto_dir()
        out = self.build_lib
        os.makedirs(os.path.join(out, "meshkv", "v1"), exist_ok=True)
        args = ["grpc_tools.protoc", f"-I{src}", f"--python_out={out}", f"--grpc_python_out={out}", *PROTOS]
        if protoc.main(args) != 0:
            raise SystemExit(f"meshkv: protoc failed: {' '.join(args)}")
        with open(os.path.join(out, "meshkv", "v1", "__init__.py"), "w") as f:
            f.write('"""Generated gRPC stubs for meshkv.v1 (proto/meshkv/v1), made at build time."""\n')


setup(package_dir={"": "src"}, packages=["meshkv"], cmdclass={"build_py": BuildPyWithStubs})
