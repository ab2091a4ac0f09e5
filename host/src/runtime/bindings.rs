//! Host bindings generated from `wit/plugin.wit` (world `centrale:plugin/plugin`).
//! Host functions are async (they read the database) and trappable (a quota
//! overrun traps the guest).
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});
