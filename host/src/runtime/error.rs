//! Why a plugin could not be loaded.

use super::manifest::ManifestError;

/// A plugin the runtime refuses to load, with a message for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The manifest is invalid.
    #[error("invalid manifest: {0}")]
    InvalidManifest(#[from] ManifestError),
    /// The bytes are not a WebAssembly component (e.g. a core module).
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// The component does not export `centrale:plugin/hooks@0.1.x`.
    #[error("not a Centrale plugin: {0}")]
    NotAPlugin(String),
    /// The component imports `centrale:plugin` interfaces its manifest does
    /// not declare as capabilities (the interface names, sorted).
    #[error("imports undeclared capabilities: {} (add them to `capabilities` in plugin.toml)", .0.join(", "))]
    UndeclaredImports(Vec<String>),
    /// The component was built against a `centrale:plugin` version this host
    /// does not serve, or imports an interface this host does not have.
    #[error("incompatible WIT: {0}")]
    IncompatibleWit(String),
    /// Compiling the component failed.
    #[error("compilation failed: {0}")]
    Compile(String),
    /// Linking the component against the host interfaces failed.
    #[error("linking failed: {0}")]
    Link(String),
    /// The engine could not be configured (bad `RuntimeConfig`).
    #[error("runtime configuration: {0}")]
    Config(String),
}
