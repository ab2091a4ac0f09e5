//! `centrale number-range add|list|remove`: the operator allocates blocks
//! of public numbers to tenants; a tenant's users get numbers from its
//! ranges only.

use std::fmt::Write as _;

use clap::Subcommand;

use crate::store::Store;

/// `centrale number-range ...`
#[derive(Subcommand, Debug)]
pub enum NumberRangeCmd {
    /// Allocate numbers FIRST..=LAST (any spelling, e.g. 020 555 2000) to a
    /// tenant; ranges of different tenants never overlap.
    Add {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
        /// First number.
        #[arg(long)]
        first: String,
        /// Last number (same number of digits); default: FIRST alone.
        #[arg(long)]
        last: Option<String>,
    },
    /// List a tenant's ranges.
    List {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
    },
    /// Take a range back (none of its numbers may be assigned).
    Remove {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
        /// Range id (see `number-range list`).
        id: i64,
    },
}

/// Runs a `number-range` subcommand; returns what to print.
pub async fn number_range(store: &Store, cmd: NumberRangeCmd) -> anyhow::Result<String> {
    match cmd {
        NumberRangeCmd::Add {
            tenant,
            first,
            last,
        } => {
            let t = crate::cli::tenant(store, &tenant).await?;
            let last = last.unwrap_or_else(|| first.clone());
            let r = store.add_number_range(&t, &first, &last).await?;
            Ok(format!(
                "range {} {}..{} allocated to {}\n",
                r.id, r.first, r.last, t.domain
            ))
        }
        NumberRangeCmd::List { tenant } => {
            let t = crate::cli::tenant(store, &tenant).await?;
            let mut out = String::new();
            for r in store.list_number_ranges(t.id).await? {
                let _ = writeln!(out, "{}\t{}\t{}", r.id, r.first, r.last);
            }
            Ok(out)
        }
        NumberRangeCmd::Remove { tenant, id } => {
            let t = crate::cli::tenant(store, &tenant).await?;
            store.remove_number_range(t.id, id).await?;
            Ok(format!("range {id} taken back from {}\n", t.domain))
        }
    }
}
