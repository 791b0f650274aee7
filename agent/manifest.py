# MicroPython freeze manifest: the agent package, compiled to bytecode and
# frozen into the interpreter (packager build passes it as FROZEN_MANIFEST).
# The manifest runs with this directory as the working directory.
import os

package(
    "agent",
    files=[name for name in sorted(os.listdir(".")) if name.endswith(".py") and name != "manifest.py"],
    base_path="..",
    opt=1,
)
