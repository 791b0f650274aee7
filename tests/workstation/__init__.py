"""The workstation commands (`s390-netboot plan|fetch|lint|test`, `python -m agent plan`)
on CPython: trees on disk, property tests, real distribution trees (marker parts)."""
