# MicroPython freeze manifest: the agent package, compiled to bytecode and
# frozen into the interpreter (packager build passes it as FROZEN_MANIFEST).
# The manifest runs with this directory as the working directory.
# sig_openssl.py is CPython's signature check (openssl(1)); the image checks
# signatures in C (packager/cmod/sigcheck), so it is left out.
import os

package(
    "agent",
    files=[name for name in sorted(os.listdir(".")) if name.endswith(".py")
           and name not in ("manifest.py", "sig_openssl.py")],
    base_path="..",
    opt=1,
)
