//! Host bindings generated from the WIT package `centrale:plugin`.
//!
//! The top level is the current line, 0.2 (`wit/plugin.wit`); [`v0_1`] is
//! the frozen 0.1 line (`wit/v0.1/plugin.wit`) that plugins built before 0.2
//! link against. `types` did not change between the lines, so the 0.1
//! bindings reuse the 0.2 Rust types: the switch builds one `Call` and gets
//! one `Decision` whatever line a plugin speaks.
//!
//! Host functions are async (they read the database, sessions wait for the
//! caller) and trappable (a quota overrun traps the guest).
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit/plugin.wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});

/// The 0.1 line, kept so that plugins built against it keep working.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1/plugin.wit",
        world: "plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "centrale:plugin/types@0.1.0": super::centrale::plugin::types,
        },
    });
}
