//! The plugin, licence and schedule commands of the `centrale` CLI:
//! `plugin install|list|enable|disable|settings`, `licence grant|list`,
//! `schedule set|list`.
//!
//! Each command is a `pub async fn` over an open [`Store`] that returns the
//! text to print, so that it can be tested without a terminal; [`plugin`],
//! [`licence`] and [`schedule`] dispatch the clap subcommands.

use std::path::PathBuf;

use clap::Subcommand;

use crate::store::Store;

mod commands;

pub use commands::{
    licence_grant, licence_list, plugin_disable, plugin_enable, plugin_install, plugin_list,
    plugin_settings, schedule_list, schedule_set,
};

/// `centrale plugin ...`
#[derive(Subcommand, Debug)]
pub enum PluginCmd {
    /// Install a plugin version (for every tenant, or privately for one).
    Install {
        /// The manifest, plugin.toml.
        manifest: PathBuf,
        /// The component, a .wasm file.
        component: PathBuf,
        /// Install as a private plugin of this tenant (domain).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List the plugins a tenant can use (default: those for every tenant).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Enable a plugin for a user, or tenant-wide, within the licence.
    Enable {
        #[command(flatten)]
        target: Target,
        /// Settings, a JSON object (validated against the manifest's schema).
        #[arg(long)]
        settings: Option<String>,
    },
    /// Disable a plugin for a user, or tenant-wide (settings are kept).
    Disable {
        #[command(flatten)]
        target: Target,
    },
    /// Lift a tenant's suspension of a plugin (after faults); applies to
    /// the next call.
    Resume {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
        /// Plugin id.
        #[arg(long)]
        plugin: String,
    },
    /// Approve a private plugin version of a tenant (what it asks for):
    /// new calls use it from now on.
    Approve {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
        /// Private plugin id (`<id>@<tenant domain>`, or just `<id>`).
        #[arg(long)]
        plugin: String,
        /// Version.
        #[arg(long)]
        version: String,
    },
    /// Store settings for a user (or tenant-wide without --user).
    Settings {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
        /// Plugin id.
        #[arg(long)]
        plugin: String,
        /// Extension of the user; tenant-wide settings without it.
        #[arg(long)]
        user: Option<String>,
        /// The settings, a JSON object.
        json: String,
    },
}

/// Which assignment `plugin enable|disable` changes.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// Tenant domain.
    #[arg(long)]
    pub tenant: String,
    /// Plugin id.
    #[arg(long)]
    pub plugin: String,
    /// Extension of the user.
    #[arg(
        long,
        required_unless_present = "tenant_wide",
        conflicts_with = "tenant_wide"
    )]
    pub user: Option<String>,
    /// The whole tenant (plugins licensed per tenant).
    #[arg(long)]
    pub tenant_wide: bool,
}

/// `centrale licence ...`
#[derive(Subcommand, Debug)]
pub enum LicenceCmd {
    /// Grant (or change) a tenant's licence for a plugin; quantity 0 revokes.
    Grant {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        plugin: String,
        /// How many subjects may have it enabled.
        #[arg(long)]
        quantity: i64,
    },
    /// A tenant's licences with how many are in use.
    List {
        #[arg(long)]
        tenant: String,
    },
}

/// `centrale schedule ...`
#[derive(Subcommand, Debug)]
pub enum ScheduleCmd {
    /// Create or replace a schedule from a JSON file.
    Set {
        #[arg(long)]
        tenant: String,
        /// Schedule name, e.g. business-hours.
        name: String,
        /// JSON: {"time_zone_offset_minutes": 60, "periods": [{"weekday": 1,
        /// "from": "09:00", "to": "17:00"}], "holidays": ["2026-12-25"]}
        file: PathBuf,
    },
    /// A tenant's schedules and whether they are open now.
    List {
        #[arg(long)]
        tenant: String,
    },
}

/// Runs a `plugin` subcommand; returns what to print.
pub async fn plugin(store: &Store, cmd: PluginCmd) -> anyhow::Result<String> {
    match cmd {
        PluginCmd::Install {
            manifest,
            component,
            tenant,
        } => plugin_install(store, &manifest, &component, tenant.as_deref()).await,
        PluginCmd::List { tenant } => plugin_list(store, tenant.as_deref()).await,
        PluginCmd::Enable { target, settings } => {
            plugin_enable(store, &target, settings.as_deref()).await
        }
        PluginCmd::Disable { target } => plugin_disable(store, &target).await,
        PluginCmd::Resume { tenant, plugin } => {
            commands::plugin_resume(store, &tenant, &plugin).await
        }
        PluginCmd::Approve {
            tenant,
            plugin,
            version,
        } => commands::plugin_approve(store, &tenant, &plugin, &version).await,
        PluginCmd::Settings {
            tenant,
            plugin,
            user,
            json,
        } => plugin_settings(store, &tenant, &plugin, user.as_deref(), &json).await,
    }
}

/// Runs a `licence` subcommand; returns what to print.
pub async fn licence(store: &Store, cmd: LicenceCmd) -> anyhow::Result<String> {
    match cmd {
        LicenceCmd::Grant {
            tenant,
            plugin,
            quantity,
        } => licence_grant(store, &tenant, &plugin, quantity).await,
        LicenceCmd::List { tenant } => licence_list(store, &tenant).await,
    }
}

/// Runs a `schedule` subcommand; returns what to print.
pub async fn schedule(store: &Store, cmd: ScheduleCmd) -> anyhow::Result<String> {
    match cmd {
        ScheduleCmd::Set { tenant, name, file } => schedule_set(store, &tenant, &name, &file).await,
        ScheduleCmd::List { tenant } => schedule_list(store, &tenant).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// The commands as `cli.rs` mounts them.
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: Top,
    }

    #[derive(Subcommand, Debug)]
    enum Top {
        Plugin {
            #[command(subcommand)]
            cmd: PluginCmd,
        },
        Licence {
            #[command(subcommand)]
            cmd: LicenceCmd,
        },
        Schedule {
            #[command(subcommand)]
            cmd: ScheduleCmd,
        },
    }

    fn parse(args: &str) -> Result<Top, clap::Error> {
        Cli::try_parse_from(std::iter::once("centrale").chain(args.split(' '))).map(|c| c.cmd)
    }

    #[test]
    fn command_lines() {
        Cli::command().debug_assert();
        let enable = "plugin enable --tenant a.test --plugin dnd";
        match parse(&format!("{enable} --user 201 --settings {{}}")).unwrap() {
            Top::Plugin {
                cmd: PluginCmd::Enable { target, settings },
            } => {
                assert_eq!(target.user.as_deref(), Some("201"));
                assert!(!target.tenant_wide);
                assert_eq!(settings.as_deref(), Some("{}"));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&format!("{enable} --tenant-wide")).is_ok());
        assert!(
            parse(enable).is_err(),
            "--user or --tenant-wide is required"
        );
        assert!(parse(&format!("{enable} --user 201 --tenant-wide")).is_err());
        assert!(parse("plugin install p.toml c.wasm --tenant a.test").is_ok());
        assert!(parse("plugin list").is_ok());
        assert!(parse("plugin settings --tenant a --plugin dnd {}").is_ok());
        assert!(parse("licence grant --tenant a --plugin dnd --quantity 5").is_ok());
        assert!(parse("licence list --tenant a").is_ok());
        assert!(parse("schedule set --tenant a business-hours h.json").is_ok());
    }
}
