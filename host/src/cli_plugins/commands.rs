//! The implementations of the plugin, licence and schedule commands.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context};

use super::Target;
use crate::runtime::{LicenceScope, Manifest};
use crate::store::Store;
use crate::tenancy::plugins::{merge_settings, Assignment};
use crate::tenancy::Tenant;

async fn tenant(store: &Store, domain: &str) -> anyhow::Result<Tenant> {
    store
        .tenant_by_domain(domain)
        .await?
        .ok_or_else(|| anyhow!("no tenant with domain {domain:?} (see `centrale tenant list`)"))
}

async fn user_id(store: &Store, t: &Tenant, ext: &str) -> anyhow::Result<i64> {
    Ok(store
        .user_by_extension(t.id, ext)
        .await?
        .ok_or_else(|| anyhow!("no user with extension {ext} in {}", t.domain))?
        .id)
}

/// The manifest of the newest version of `plugin` the tenant can see.
async fn visible_manifest(store: &Store, t: &Tenant, plugin: &str) -> anyhow::Result<Manifest> {
    let p = store.plugin(Some(t.id), plugin).await?.ok_or_else(|| {
        anyhow!(
            "plugin {plugin} is not installed for {} (see `centrale plugin list`)",
            t.domain
        )
    })?;
    let mut m = Manifest::from_toml(&p.manifest).map_err(|e| {
        anyhow!(
            "the stored manifest of {plugin} {} is not valid: {e}",
            p.version
        )
    })?;
    // A private plugin's catalogue id is in its tenant's namespace.
    m.id = p.id;
    Ok(m)
}

/// `plugin install`: validates the manifest, checks the component's imports
/// against its capabilities by loading it in a runtime, stores both, and
/// reports the capabilities the plugin asks for.
pub async fn plugin_install(
    store: &Store,
    manifest_path: &Path,
    component_path: &Path,
    tenant_domain: Option<&str>,
) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest =
        Manifest::from_toml(&text).map_err(|e| anyhow!("{}: {e}", manifest_path.display()))?;
    let wasm = std::fs::read(component_path)
        .with_context(|| format!("cannot read {}", component_path.display()))?;
    let (manifest, wasm) = tokio::task::spawn_blocking(move || {
        check_component(&manifest, &wasm).map(|()| (manifest, wasm))
    })
    .await?
    .map_err(|e| anyhow!("{} cannot be installed: {e:#}", component_path.display()))?;
    let owner = match tenant_domain {
        Some(d) => Some(tenant(store, d).await?),
        None => None,
    };
    // The operator installs: approved. A private plugin lives in its
    // tenant's namespace.
    let id = match &owner {
        Some(t) => crate::tenancy::plugins::private_plugin_id(&manifest.id, &t.domain),
        None => manifest.id.clone(),
    };
    let p = store
        .install_plugin(
            owner.as_ref().map(|t| t.id),
            &id,
            &manifest.version,
            &text,
            &wasm,
            true,
        )
        .await?;
    let mut out = format!(
        "plugin {} {} installed {} (component sha256 {})\n",
        p.id,
        p.version,
        match &owner {
            Some(t) => format!("privately for {}", t.domain),
            None => "for every tenant".into(),
        },
        p.wasm_sha256
    );
    let caps: Vec<&str> = manifest.granted().iter().map(|c| c.name()).collect();
    let _ = writeln!(out, "capabilities: {}", caps.join(", "));
    let hooks: Vec<String> = manifest
        .hooks
        .iter()
        .map(|(h, p)| format!("{} ({p})", h.name()))
        .collect();
    let _ = writeln!(out, "hooks: {}", hooks.join(", "));
    let _ = writeln!(out, "licensed per {}", scope_name(manifest.licence_scope));
    let prompts_dir = manifest_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("prompts");
    let n = install_prompts(store, owner.as_ref().map(|t| t.id), &p.id, &prompts_dir).await?;
    if n > 0 {
        let _ = writeln!(out, "prompts: {n}");
    }
    Ok(out)
}

/// Stores the prompts a plugin ships (`prompts/<en|nl>/<name>.wav` beside
/// its plugin.toml): each must be an 8 kHz mono 16-bit WAV with a prompt
/// name (`[a-z0-9-]`). Returns how many; none when the folder is absent.
async fn install_prompts(
    store: &Store,
    owner: Option<i64>,
    plugin_id: &str,
    dir: &Path,
) -> anyhow::Result<usize> {
    use crate::media::prompts::{valid_name, Language};
    let mut n = 0;
    for lang in Language::ALL {
        let Ok(entries) = std::fs::read_dir(dir.join(lang.tag())) else {
            continue;
        };
        let mut files: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .collect();
        files.sort();
        for path in files {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| valid_name(s))
                .ok_or_else(|| anyhow!("{}: not a prompt name ([a-z0-9-])", path.display()))?;
            let wav =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            crate::media::wav::load_wav_bytes(&wav)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            store
                .put_plugin_prompt(owner, plugin_id, lang.tag(), name, &wav)
                .await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Loads the component in a runtime (default limits, one instance, an
/// in-memory backend): refuses imports the manifest does not declare and
/// components that are not plugins of this WIT line. Compiles: blocking.
fn check_component(manifest: &Manifest, wasm: &[u8]) -> anyhow::Result<()> {
    let loaded = crate::runtime::validate_component(manifest, wasm)?;
    if !loaded.foreign_imports().is_empty() {
        tracing::info!(
            "{} imports interfaces outside centrale:plugin, stubbed: {}",
            manifest.id,
            loaded.foreign_imports().join(", ")
        );
    }
    Ok(())
}

fn scope_name(s: LicenceScope) -> &'static str {
    match s {
        LicenceScope::Tenant => "tenant",
        LicenceScope::User => "user",
        LicenceScope::Service => "service",
    }
}

/// `plugin list`: the newest version of every plugin the tenant (or every
/// tenant) can use.
pub async fn plugin_list(store: &Store, tenant_domain: Option<&str>) -> anyhow::Result<String> {
    let t = match tenant_domain {
        Some(d) => Some(tenant(store, d).await?),
        None => None,
    };
    let mut out = String::new();
    for p in store.list_plugins(t.as_ref().map(|t| t.id)).await? {
        let (name, caps) = match Manifest::from_toml(&p.manifest) {
            Ok(m) => (
                m.name.clone(),
                m.granted()
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Err(e) => (format!("(manifest not valid: {e})"), String::new()),
        };
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            p.id,
            p.version,
            match (p.tenant_id.is_some(), p.approved) {
                (false, _) => "public",
                (true, true) => "private",
                (true, false) => "private (awaiting approval: centrale plugin approve)",
            },
            name,
            caps
        );
    }
    Ok(out)
}

/// `licence grant`.
pub async fn licence_grant(
    store: &Store,
    tenant_domain: &str,
    plugin: &str,
    quantity: i64,
) -> anyhow::Result<String> {
    let t = tenant(store, tenant_domain).await?;
    let l = store.grant_licence(t.id, plugin, quantity).await?;
    Ok(if quantity == 0 {
        format!(
            "licence for {plugin} revoked in {} ({} assignments kept)\n",
            t.domain, l.used
        )
    } else {
        format!(
            "licence for {plugin} in {}: {} ({} in use)\n",
            t.domain, l.quantity, l.used
        )
    })
}

/// `licence list`.
pub async fn licence_list(store: &Store, tenant_domain: &str) -> anyhow::Result<String> {
    let t = tenant(store, tenant_domain).await?;
    let mut out = String::new();
    for l in store.list_licences(t.id).await? {
        let suspended = match store.plugin_suspension(t.id, &l.plugin_id).await? {
            Some(s) => format!("\tsuspended: {}", s.reason),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{}\t{} of {} in use{suspended}",
            l.plugin_id, l.used, l.quantity
        );
    }
    Ok(out)
}

/// Checks that the target fits the plugin's licence scope; returns the subject.
async fn subject_of(
    store: &Store,
    t: &Tenant,
    m: &Manifest,
    target: &Target,
) -> anyhow::Result<Option<i64>> {
    match (m.licence_scope, &target.user) {
        (LicenceScope::Tenant, None) => Ok(None),
        (LicenceScope::Tenant, Some(_)) => bail!(
            "{} is licensed per tenant: enable it with --tenant-wide",
            m.id
        ),
        (LicenceScope::User, Some(ext)) => Ok(Some(user_id(store, t, ext).await?)),
        (LicenceScope::User, None) => bail!(
            "{} is licensed per user: enable it with --user EXTENSION",
            m.id
        ),
        (LicenceScope::Service, _) => bail!(
            "{} is licensed per service subject; services are not supported by this host yet",
            m.id
        ),
    }
}

/// Validates `settings` (the document to store for `subject`) against the
/// manifest: the settings in effect after storing it must match the schema.
async fn check_settings(
    store: &Store,
    t: &Tenant,
    m: &Manifest,
    subject: Option<i64>,
    settings: &str,
) -> anyhow::Result<()> {
    let doc: serde_json::Value =
        serde_json::from_str(settings).map_err(|e| anyhow!("settings are not valid JSON: {e}"))?;
    let effective = match subject {
        None => doc,
        Some(_) => {
            let tenant_wide = store.effective_plugin_settings(t.id, &m.id, None).await?;
            let base: serde_json::Value = serde_json::from_str(&tenant_wide)?;
            merge_settings(&base, &doc)
        }
    };
    m.validate_settings(&effective)
        .map_err(|e| anyhow!("settings for {} are not valid: {e}", m.id))
}

fn describe(t: &Tenant, target: &Target) -> String {
    match &target.user {
        Some(ext) => format!("user {ext} of {}", t.domain),
        None => format!("all of {}", t.domain),
    }
}

/// `plugin enable`: within the licence (a clear error beyond it).
pub async fn plugin_enable(
    store: &Store,
    target: &Target,
    settings: Option<&str>,
) -> anyhow::Result<String> {
    let t = tenant(store, &target.tenant).await?;
    let m = visible_manifest(store, &t, &target.plugin).await?;
    let subject = subject_of(store, &t, &m, target).await?;
    if let Some(s) = settings {
        check_settings(store, &t, &m, subject, s).await?;
    }
    store.enable_plugin(t.id, &m.id, subject, settings).await?;
    Ok(format!("{} enabled for {}\n", m.id, describe(&t, target)))
}

/// `plugin disable`.
pub async fn plugin_disable(store: &Store, target: &Target) -> anyhow::Result<String> {
    let t = tenant(store, &target.tenant).await?;
    let subject = match &target.user {
        Some(ext) => Some(user_id(store, &t, ext).await?),
        None => None,
    };
    let was = store.disable_plugin(t.id, &target.plugin, subject).await?;
    Ok(if was {
        format!("{} disabled for {}\n", target.plugin, describe(&t, target))
    } else {
        format!(
            "{} was not enabled for {}\n",
            target.plugin,
            describe(&t, target)
        )
    })
}

/// `plugin settings`: stores settings for a user or tenant-wide.
pub async fn plugin_settings(
    store: &Store,
    tenant_domain: &str,
    plugin: &str,
    user: Option<&str>,
    json: &str,
) -> anyhow::Result<String> {
    let t = tenant(store, tenant_domain).await?;
    let m = visible_manifest(store, &t, plugin).await?;
    let subject = match user {
        Some(ext) => Some(user_id(store, &t, ext).await?),
        None => None,
    };
    check_settings(store, &t, &m, subject, json).await?;
    let a: Assignment = store
        .set_plugin_settings(t.id, plugin, subject, json)
        .await?;
    Ok(format!(
        "settings of {plugin} stored for {}: {}\n",
        match user {
            Some(ext) => format!("user {ext}"),
            None => "the whole tenant".into(),
        },
        a.settings_json
    ))
}

/// `schedule set`.
pub async fn schedule_set(
    store: &Store,
    tenant_domain: &str,
    name: &str,
    file: &Path,
) -> anyhow::Result<String> {
    let t = tenant(store, tenant_domain).await?;
    let json =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let s = store.set_schedule(t.id, name, &json).await?;
    Ok(format!(
        "schedule {name} of {} stored: {} periods, {} holidays; open now: {}\n",
        t.domain,
        s.periods.len(),
        s.holidays.len(),
        if s.is_open(crate::now_ms()) {
            "yes"
        } else {
            "no"
        }
    ))
}

/// `schedule list`.
pub async fn schedule_list(store: &Store, tenant_domain: &str) -> anyhow::Result<String> {
    let t = tenant(store, tenant_domain).await?;
    let now = crate::now_ms();
    let mut out = String::new();
    for (name, s) in store.list_schedules(t.id).await? {
        let _ = writeln!(
            out,
            "{name}\t{}\t{}",
            if s.is_open(now) { "open" } else { "closed" },
            serde_json::to_string(&s)?
        );
    }
    Ok(out)
}

/// `plugin resume`: lifts the tenant's suspension of a plugin.
pub async fn plugin_resume(
    store: &Store,
    tenant_domain: &str,
    plugin: &str,
) -> anyhow::Result<String> {
    let t = tenant(store, tenant_domain).await?;
    Ok(if store.unsuspend_plugin(t.id, plugin).await? {
        format!("{plugin} resumed for {}\n", t.domain)
    } else {
        format!("{plugin} was not suspended for {}\n", t.domain)
    })
}

/// `centrale plugin approve`: the operator approves a private version.
pub async fn plugin_approve(
    store: &Store,
    tenant_domain: &str,
    plugin: &str,
    version: &str,
) -> anyhow::Result<String> {
    let t = tenant(store, tenant_domain).await?;
    let id = if plugin.contains('@') {
        plugin.to_string()
    } else {
        crate::tenancy::plugins::private_plugin_id(plugin, &t.domain)
    };
    store.approve_plugin_version(t.id, &id, version).await?;
    Ok(format!("{id} {version} approved for {}\n", t.domain))
}
