//! The labs are data (manifests, test scripts, snapshots), not code: see `tests/` for the
//! checks every lab must pass, and `../ARCHITECTURE.md`.
