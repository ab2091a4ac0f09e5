//! # centrale-sdk
//!
//! Write [Centrale](https://example.invalid/centrale) telephony features as
//! WebAssembly components in Rust. The SDK wraps the generated bindings of
//! the WIT contract `centrale:plugin@0.2.0` (world `plugin`) behind a small
//! typed API: implement the hooks you need of [`Plugin`] (every hook has a
//! default that does nothing) and export the type with [`export_plugin!`].
//!
//! ## A complete plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "anonymous-call-rejection"
//! version = "0.1.0"
//! edition = "2021"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! centrale-sdk = { path = "../../sdk" }
//!
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! codegen-units = 1
//! panic = "abort"
//! strip = true
//! ```
//!
//! `src/lib.rs`:
//!
//! ```no_run
//! #![no_std]
//! use centrale_sdk::prelude::*;
//!
//! struct AnonymousRejection;
//!
//! impl Plugin for AnonymousRejection {
//!     fn on_terminate(call: &Call) -> Decision {
//!         if call.caller().is_anonymous() && !call.is_internal() {
//!             log::info("anonymous caller rejected");
//!             return Decision::reject(433, "Anonymity Disallowed")
//!                 .announce("anonymous-not-accepted");
//!         }
//!         Decision::Proceed
//!     }
//! }
//!
//! export_plugin!(AnonymousRejection);
//! # fn main() {}
//! ```
//!
//! `plugin.toml` (the manifest the host installs with the component):
//!
//! ```toml
//! id = "anonymous-call-rejection"
//! version = "0.1.0"
//! name = "Anonymous call rejection"
//! description = "Rejects callers who withhold their number."
//! wit = "0.2"
//! licence-scope = "user"
//! capabilities = ["log"]
//! [hooks]
//! terminate = 200
//! ```
//!
//! Build the component with `cargo build --release --target wasm32-wasip2`
//! (a `cdylib` for that target *is* a component). Test it with the
//! `centrale-testbench` crate, which runs the built component in the real
//! host runtime against scripted calls; see `docs/plugin-guide.md`.
//!
//! ## What a plugin may call
//!
//! Each host interface is a module: [`log`], [`settings`], [`kv`],
//! [`directory`], [`schedule`], and for sessions [`session`] (with
//! [`session::say`] for the `prompts` capability), [`blobs`], [`mail`] and
//! [`mwi`] (capability `message-waiting`). The component imports an interface only if
//! the plugin calls into it, and the manifest's `capabilities` must list
//! exactly the interfaces the component imports (the host refuses
//! undeclared ones; `log` is always granted).
//!
//! ## `no_std` and WASI
//!
//! On `wasm32` the SDK is `no_std`: it supplies the allocator (the C
//! library's `malloc`) and a panic handler (a panic traps, which the host
//! counts as `proceed` and logs). Start your plugin's `src/lib.rs` with
//! `#![no_std]`; the [`prelude`] brings `String`, `Vec`, `Box`, `ToString`,
//! `ToOwned`, `format!` and `vec!` from `alloc`. Such a component imports
//! nothing but `centrale:plugin` interfaces — no WASI at all.
//!
//! A plugin that needs `std` (or a dependency that does) enables the SDK's
//! `std` feature and drops `#![no_std]`; the standard library then provides
//! the allocator and panic handler, and the component imports a few WASI
//! interfaces (stderr for panic messages, among others) that the host stubs.
//! Without the feature, linking `std` fails with "duplicate lang item in
//! crate `centrale_sdk`: `panic_impl`".
//!
//! Natively (for `cargo test`, docs) the SDK uses `std` and the host
//! imports are stubs that panic; run plugins in the test bench instead.

#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]
#![warn(missing_docs)]

extern crate alloc;
// Lets the generated bindings and the export macro name this crate as
// `centrale_sdk` from inside and outside alike.
extern crate self as centrale_sdk;

pub mod blobs;
pub mod decision;
pub mod directory;
pub mod kv;
pub mod log;
pub mod mail;
pub mod mwi;
pub mod number;
pub mod schedule;
pub mod session;
pub mod settings;
pub mod types;

pub use decision::Decision;
pub use settings::SettingsError;
pub use types::{
    Call, CallResult, CallSummary, Direction, Diversion, DiversionReason, Party, Subject,
    SubjectKind,
};

/// The generated bindings of `centrale:plugin@0.2.0` (world `plugin`).
/// Plugins do not need them; they are public for the export macro.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_centrale_plugin_bindings",
        default_bindings_module: "centrale_sdk::bindings",
        runtime_path: "centrale_sdk::__private::wit_bindgen::rt",
    });
}

/// A feature plugin. Implement the hooks the plugin lists in the `[hooks]`
/// table of its `plugin.toml`; the host calls only those. Every hook has a
/// default that changes nothing.
///
/// Hooks are functions, not methods: each call runs in a fresh instance of
/// the component, so a plugin keeps no state between calls (use [`kv`]).
pub trait Plugin {
    /// The caller's subject places a call (manifest key `originate`):
    /// outgoing plans, CLIR, speed dial.
    fn on_originate(call: &Call) -> Decision {
        let _ = call;
        Decision::Proceed
    }

    /// A call arrives for the subject, before its devices ring (manifest
    /// key `terminate`): intercept, anonymous rejection, DND, forward
    /// always, selective forward, night service, simultaneous ring.
    fn on_terminate(call: &Call) -> Decision {
        let _ = call;
        Decision::Proceed
    }

    /// The subject's devices rang until the ring timeout (manifest key
    /// `no-answer`): forward on no answer, voicemail.
    fn on_no_answer(call: &Call) -> Decision {
        let _ = call;
        Decision::Proceed
    }

    /// Every device was busy, or a hook asked for busy treatment (manifest
    /// key `busy`): forward on busy, voicemail.
    fn on_busy(call: &Call) -> Decision {
        let _ = call;
        Decision::Proceed
    }

    /// No device of the subject is registered or reachable (manifest key
    /// `unreachable`): forward when not reachable, voicemail.
    fn on_unreachable(call: &Call) -> Decision {
        let _ = call;
        Decision::Proceed
    }

    /// The call ended (manifest key `call-ended`): call logs,
    /// notifications, message waiting. No decision.
    fn on_call_ended(summary: &CallSummary) {
        let _ = summary;
    }

    /// Drives a call one of this plugin's hooks took over
    /// ([`Decision::take_over`]) with the functions of [`session`]. When
    /// it returns, the host ends the call if the session did not. The
    /// default does nothing (so a plugin without sessions imports no
    /// `call-control`).
    fn run_session(call: &Call) {
        let _ = call;
    }

    /// Periodic work for `subject` (the manifest's `timer-interval-secs`):
    /// retention, cleanup. The default does nothing.
    fn on_timer(subject: &Subject) {
        let _ = subject;
    }
}

/// Exports a [`Plugin`] implementation as the component's `hooks`.
///
/// Use it once per plugin crate, at the crate root:
///
/// ```no_run
/// # #![no_std]
/// use centrale_sdk::prelude::*;
/// struct Nothing;
/// impl Plugin for Nothing {}
/// export_plugin!(Nothing);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        pub struct __CentralePluginExport;

        impl $crate::__private::Guest for __CentralePluginExport {
            fn on_originate(call: $crate::__private::WitCall) -> $crate::__private::WitDecision {
                $crate::__private::on_originate::<$plugin>(call)
            }
            fn on_terminate(call: $crate::__private::WitCall) -> $crate::__private::WitDecision {
                $crate::__private::on_terminate::<$plugin>(call)
            }
            fn on_no_answer(call: $crate::__private::WitCall) -> $crate::__private::WitDecision {
                $crate::__private::on_no_answer::<$plugin>(call)
            }
            fn on_busy(call: $crate::__private::WitCall) -> $crate::__private::WitDecision {
                $crate::__private::on_busy::<$plugin>(call)
            }
            fn on_unreachable(call: $crate::__private::WitCall) -> $crate::__private::WitDecision {
                $crate::__private::on_unreachable::<$plugin>(call)
            }
            fn on_call_ended(summary: $crate::__private::WitCallSummary) {
                $crate::__private::on_call_ended::<$plugin>(summary)
            }
        }

        impl $crate::__private::SessionGuest for __CentralePluginExport {
            fn run(call: $crate::__private::WitCall) {
                $crate::__private::run_session::<$plugin>(call)
            }
        }

        impl $crate::__private::TimersGuest for __CentralePluginExport {
            fn on_timer(subject: $crate::__private::WitSubject) {
                $crate::__private::on_timer::<$plugin>(subject)
            }
        }

        $crate::bindings::__export_centrale_plugin_bindings!(
            __CentralePluginExport with_types_in $crate::bindings
        );
    };
}

/// Everything a plugin usually needs: `use centrale_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        blobs, directory, export_plugin, kv, log, mail, mwi, schedule, session, settings, Call,
        CallResult, CallSummary, Decision, Direction, Diversion, DiversionReason, Party, Plugin,
        SettingsError, Subject, SubjectKind,
    };
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

/// Support for [`export_plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::centrale::plugin::types::{
        Call as WitCall, CallSummary as WitCallSummary, Decision as WitDecision,
        Subject as WitSubject,
    };
    pub use crate::bindings::exports::centrale::plugin::hooks::Guest;
    pub use crate::bindings::exports::centrale::plugin::session::Guest as SessionGuest;
    pub use crate::bindings::exports::centrale::plugin::timers::Guest as TimersGuest;
    pub use wit_bindgen;

    use crate::{Call, CallSummary, Plugin, Subject};

    pub fn run_session<P: Plugin>(call: WitCall) {
        P::run_session(&Call::from(call))
    }
    pub fn on_timer<P: Plugin>(subject: WitSubject) {
        P::on_timer(&Subject::from(subject))
    }

    pub fn on_originate<P: Plugin>(call: WitCall) -> WitDecision {
        P::on_originate(&Call::from(call)).into()
    }
    pub fn on_terminate<P: Plugin>(call: WitCall) -> WitDecision {
        P::on_terminate(&Call::from(call)).into()
    }
    pub fn on_no_answer<P: Plugin>(call: WitCall) -> WitDecision {
        P::on_no_answer(&Call::from(call)).into()
    }
    pub fn on_busy<P: Plugin>(call: WitCall) -> WitDecision {
        P::on_busy(&Call::from(call)).into()
    }
    pub fn on_unreachable<P: Plugin>(call: WitCall) -> WitDecision {
        P::on_unreachable(&Call::from(call)).into()
    }
    pub fn on_call_ended<P: Plugin>(summary: WitCallSummary) {
        P::on_call_ended(&CallSummary::from(summary))
    }
}

/// Allocator and panic handler for `no_std` components.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
mod wasm_rt {
    use core::alloc::{GlobalAlloc, Layout};

    // wasi-libc's malloc (dlmalloc), shipped with the Rust target; it only
    // grows linear memory and imports nothing.
    #[link(name = "c")]
    extern "C" {
        fn malloc(size: usize) -> *mut u8;
        fn aligned_alloc(align: usize, size: usize) -> *mut u8;
        fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
        fn free(ptr: *mut u8);
    }

    /// malloc's guaranteed alignment on wasm32.
    const MIN_ALIGN: usize = 16;

    struct LibcAlloc;

    unsafe impl GlobalAlloc for LibcAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.align() <= MIN_ALIGN && layout.align() <= layout.size() {
                malloc(layout.size())
            } else {
                aligned_alloc(layout.align(), layout.size())
            }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            free(ptr)
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if layout.align() <= MIN_ALIGN && layout.align() <= new_size {
                realloc(ptr, new_size)
            } else {
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }

    #[global_allocator]
    static ALLOCATOR: LibcAlloc = LibcAlloc;

    /// The canonical ABI's allocation function, which every component must
    /// export (on wasm32-wasip2 `std` provides it; without `std`, we do).
    #[no_mangle]
    unsafe extern "C" fn cabi_realloc(
        old_ptr: *mut u8,
        old_len: usize,
        align: usize,
        new_len: usize,
    ) -> *mut u8 {
        if new_len == 0 {
            return align as *mut u8;
        }
        let ptr = if old_len == 0 {
            ALLOCATOR.alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            ALLOCATOR.realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        };
        if ptr.is_null() {
            core::arch::wasm32::unreachable();
        }
        ptr
    }

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}
