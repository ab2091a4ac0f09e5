//! The per-instance resource limiter: totals every memory and table of one
//! instance (a component has several core instances) against one cap.

use wasmtime::ResourceLimiter;

/// Caps the sum of all linear memories (bytes) and tables (elements) of one
/// store, i.e. of one plugin instance, and remembers a refusal so the fault
/// can be reported as `Memory` rather than as the trap it causes.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory_limit: usize,
    table_limit: usize,
    memory_used: usize,
    table_used: usize,
    /// Set when a memory or table growth was refused.
    pub(crate) denied: bool,
}

impl Limiter {
    /// A limiter allowing `memory_limit` bytes and `table_limit` elements.
    pub(crate) fn new(memory_limit: usize, table_limit: usize) -> Self {
        Self {
            memory_limit,
            table_limit,
            memory_used: 0,
            table_used: 0,
            denied: false,
        }
    }
}

/// Most core instances, memories and tables one component may create.
const MAX_CORE_INSTANCES: usize = 32;
const MAX_MEMORIES: usize = 8;
const MAX_TABLES: usize = 32;

/// Charges a growth from `current` to `desired` against `used`; `false`
/// (and `denied` set) when it would pass `limit`.
fn grow(used: &mut usize, limit: usize, current: usize, desired: usize, denied: &mut bool) -> bool {
    match used.checked_add(desired.saturating_sub(current)) {
        Some(total) if total <= limit => {
            *used = total;
            true
        }
        _ => {
            *denied = true;
            false
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = self.memory_limit;
        Ok(grow(
            &mut self.memory_used,
            limit,
            current,
            desired,
            &mut self.denied,
        ))
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.denied = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = self.table_limit;
        Ok(grow(
            &mut self.table_used,
            limit,
            current,
            desired,
            &mut self.denied,
        ))
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.denied = true;
        Ok(())
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_across_memories() {
        let mut l = Limiter::new(100, 10);
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 40, None).unwrap());
        assert!(!l.denied);
        assert!(!l.memory_growing(40, 41, None).unwrap());
        assert!(l.denied);
        assert!(l.table_growing(0, 10, None).unwrap());
        assert!(!l.table_growing(10, 11, None).unwrap());
    }
}
