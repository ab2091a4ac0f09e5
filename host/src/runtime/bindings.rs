//! Host bindings generated from `wit/plugin.wit` (world `centrale:plugin/plugin`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});
