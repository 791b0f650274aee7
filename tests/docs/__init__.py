"""docs/ and README.md checked against the code: options, directives, the commands shown."""
