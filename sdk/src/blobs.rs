//! Durable binary objects of the (tenant, plugin, subject) scope:
//! recordings and greetings (capability `blobs`, WIT 0.2).

use alloc::vec::Vec;

use crate::bindings::centrale::plugin::blobs as wit;

pub use wit::{BlobError, BlobInfo};

/// Stores `data` under `name`.
pub fn put(name: &str, data: &[u8]) -> Result<(), BlobError> {
    wit::put(name, data)
}

/// Reads a blob.
pub fn get(name: &str) -> Result<Vec<u8>, BlobError> {
    wit::get(name)
}

/// Copies a blob.
pub fn copy(source: &str, destination: &str) -> Result<(), BlobError> {
    wit::copy(source, destination)
}

/// Removes a blob.
pub fn delete(name: &str) -> Result<(), BlobError> {
    wit::delete(name)
}

/// Blobs whose names start with `prefix`, sorted.
pub fn list(prefix: &str) -> Vec<BlobInfo> {
    wit::list(prefix)
}

/// Bytes used by the scope.
pub fn usage() -> u64 {
    wit::usage()
}
