#![no_std]
extern crate alloc;
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_bindings",
        default_bindings_module: "centrale_sdk::bindings",
    });
}
