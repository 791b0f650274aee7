"""The test suite (tests/README.md: which folder needs what, and the markers)."""
