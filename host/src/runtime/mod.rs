//! Plugin runtime.
pub mod bindings;
