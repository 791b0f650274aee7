# Runs the agent's unit tests (tests/agent/test_*.py) under MicroPython:
#   micropython tests/support/mpy_runner.py REPO_ROOT [MODULE ...] [-MODULE.NAME ...]
# Every test_* function of each module (default: all) is called with no arguments
# (the agent's tests are plain functions and asserts, for this runner), except
# those named with a leading "-" (tests that cannot run under MicroPython). Prints "ran MODULE.NAME"
# for each, one line per failure, and closes with "N passed, N failed";
# tests/micropython/test_micropython.py checks that every test ran.
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
sys.path.append(root)

import os  # noqa: E402

names = [a for a in sys.argv[2:] if not a.startswith("-")]
skip = [a[1:] for a in sys.argv[2:] if a.startswith("-")]
if not names:
    names = sorted(n[:-3] for n in os.listdir(root + "/tests/agent")
                   if n.startswith("test_") and n.endswith(".py"))
passed = failed = 0
for name in names:
    __import__("tests.agent." + name)
    mod = sys.modules["tests.agent." + name]
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_") or not callable(getattr(mod, attr)) or name + "." + attr in skip:
            continue
        fn = getattr(mod, attr)
        print("ran %s.%s" % (name, attr))
        try:
            fn()
            passed += 1
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL %s.%s: %s: %s" % (name, attr, type(e).__name__, e))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
