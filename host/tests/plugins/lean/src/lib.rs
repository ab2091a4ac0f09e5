//! A `no_std` plugin importing nothing but `centrale:plugin` (no WASI): the
//! shape SDK plugins have. Rejects anonymous callers with 433.
#![no_std]

extern crate alloc;

wit_bindgen::generate!({ path: "../../../../wit/v0.1", world: "plugin" });

use alloc::string::ToString;
use core::alloc::{GlobalAlloc, Layout};

use centrale::plugin::types::{Call, CallSummary, Decision, Rejection};
use exports::centrale::plugin::hooks::Guest;

#[link(name = "c")]
extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn aligned_alloc(align: usize, size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// wasi-libc's dlmalloc: grows linear memory, imports nothing.
struct LibcAlloc;

unsafe impl GlobalAlloc for LibcAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= 16 && layout.align() <= layout.size() {
            malloc(layout.size())
        } else {
            aligned_alloc(layout.align(), layout.size())
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        free(ptr)
    }
}

#[global_allocator]
static ALLOCATOR: LibcAlloc = LibcAlloc;

/// The canonical ABI's allocation export (std provides it; without std, we do).
#[no_mangle]
unsafe extern "C" fn cabi_realloc(
    old: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        return align as *mut u8;
    }
    let layout = Layout::from_size_align_unchecked(new_len, align);
    let ptr = ALLOCATOR.alloc(layout);
    if ptr.is_null() {
        core::arch::wasm32::unreachable();
    }
    if old_len != 0 {
        core::ptr::copy_nonoverlapping(old, ptr, old_len.min(new_len));
        ALLOCATOR.dealloc(old, Layout::from_size_align_unchecked(old_len, align));
    }
    ptr
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

struct Lean;

impl Guest for Lean {
    fn on_originate(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_terminate(call: Call) -> Decision {
        if call.caller.anonymous {
            return Decision::Reject(Rejection {
                code: 433,
                reason: "Anonymity Disallowed".to_string(),
                announcement: None,
            });
        }
        Decision::Proceed
    }

    fn on_no_answer(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_busy(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_unreachable(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_call_ended(_summary: CallSummary) {}
}

export!(Lean);
