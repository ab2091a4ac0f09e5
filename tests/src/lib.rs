//! Shared harness for the end-to-end tests (see tests/README.md).
