# Runs the agent's table-driven tests (tests/agent/test_*.py) under MicroPython:
#   micropython tests/support/mpy_runner.py REPO_ROOT [MODULE ...]
# Prints one line per failure and closes with "N passed, N failed".
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
sys.path.append(root + "/tests/agent")
sys.path.append(root)

import os  # noqa: E402

names = sys.argv[2:]
if not names:
    names = sorted(n[:-3] for n in os.listdir(root + "/tests/agent")
                   if n.startswith("test_") and n.endswith(".py"))
passed = failed = 0
for name in names:
    mod = __import__(name)
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_") or not callable(getattr(mod, attr)):
            continue
        fn = getattr(mod, attr)
        try:
            fn()
            passed += 1
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL %s.%s: %s: %s" % (name, attr, type(e).__name__, e))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
