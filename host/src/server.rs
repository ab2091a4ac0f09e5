//! Assembles a running host from a [`Config`]: store, SIP transports and
//! transactions, registrar, media engine and switch.

use crate::config::{parse_port_range, Config};
use crate::media::{MediaEngine, PortAllocator};
use crate::sip::auth::Authenticator;
use crate::sip::registrar::{Registrar, RegistrarConfig};
use crate::sip::transport::{Transport, Transports, INGRESS_QUEUE};
use crate::sip::{Endpoint, Peer};
use crate::store::Store;
use crate::switch::{trunk::Trunk, Switch, SwitchConfig, SwitchHandler};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A started host.
pub struct Running {
    pub store: Store,
    /// The outbox.
    pub mailer: crate::mail::Mailer,
    pub switch: Arc<Switch>,
    pub transports: Arc<Transports>,
    /// Where the admin API and `/metrics` listen (`None`: not served).
    pub api: Option<std::net::SocketAddr>,
}

/// Opens the store and binds every socket; the host serves from the moment
/// this returns.
pub async fn start(cfg: &Config) -> anyhow::Result<Running> {
    cfg.validate()?;
    crate::api::metrics::install();
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;
    let url = cfg.database_url();
    let store = Store::connect(&url)
        .await
        .with_context(|| format!("cannot open database {url}"))?;
    let advertise = cfg.advertise();
    let (queue_tx, queue_rx) = mpsc::channel(INGRESS_QUEUE);
    let transports = Transports::bind_with(
        &cfg.sip.udp,
        &cfg.sip.tcp,
        advertise,
        queue_tx,
        cfg.sip.tcp_limits.limits(),
    )
    .await
    .context("cannot bind the SIP listen addresses")?;
    let endpoint = Endpoint::new(transports.clone());
    let algorithms = cfg
        .sip
        .digest_algorithms
        .iter()
        .filter_map(|a| crate::sip::digest::Algorithm::parse(a).ok())
        .collect();
    let auth = Arc::new(
        Authenticator::new(
            store.clone(),
            algorithms,
            cfg.sip.auth.limits(),
            cfg.sip.auth.challenges_per_second,
            cfg.sip.auth.challenge_burst,
        )
        .with_md5_only_agents(&cfg.sip.md5_only_user_agents),
    );
    let registrar = Arc::new(Registrar::new(
        store.clone(),
        auth.clone(),
        RegistrarConfig {
            min_expires: cfg.sip.min_expires,
            max_expires: cfg.sip.max_expires,
            default_expires: cfg.sip.max_expires.min(3600),
            ..RegistrarConfig::default()
        },
    ));
    let (lo, hi) = parse_port_range(&cfg.media.rtp_ports)?;
    let bind_ip = cfg
        .sip
        .udp
        .first()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let media = Arc::new(
        MediaEngine::new(
            bind_ip,
            advertise,
            PortAllocator::new(lo, hi).with_tenant_percent(cfg.media.tenant_port_percent),
        )
        .with_latch_window(Duration::from_secs(cfg.media.latch_window_secs)),
    );
    let trunk = cfg.trunk.as_ref().map(|t| Trunk {
        peer: Peer {
            transport: if t.transport == "tcp" {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            addr: t.address,
        },
        credentials: t.username.clone().zip(t.password.clone()),
        realm: t.realm.clone(),
    });
    remove_unfinished_recordings(&cfg.data_dir.join("recordings"));
    let blobs = crate::store::BlobStore::open(cfg.data_dir.join("blobs"))
        .context("cannot open the blob store")?;
    let mailer = crate::mail::Mailer::new(
        store.clone(),
        blobs.clone(),
        cfg.mail.clone(),
        &cfg.data_dir,
    );
    mailer.spawn_worker();
    let backend = Arc::new(
        crate::tenancy::backend::DbBackend::new(store.clone())
            .await
            .context("cannot load tenant time zones")?
            .with_storage(crate::tenancy::storage::Storage::new(
                blobs.clone(),
                Some(mailer.clone()),
            )),
    );
    let runtime = crate::runtime::Runtime::new(
        crate::runtime::RuntimeConfig {
            cache_dir: Some(cfg.data_dir.join("plugin-cache")),
            max_instances: cfg.plugins.max_instances,
            tenant_instance_percent: cfg.plugins.tenant_instance_percent,
            ..crate::runtime::RuntimeConfig::default()
        },
        backend,
    )
    .map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e}"))?;
    let features = Arc::new(crate::switch::features::Features::new(
        Arc::new(runtime),
        store.clone(),
    ));
    let warmed = features.warm().await;
    tracing::info!(plugins = warmed, "plugins loaded");
    features.spawn_timers(Duration::from_secs(30));
    let api_features = features.clone();
    let features: Arc<dyn crate::switch::pipeline::HookRunner> = features;
    let switch = Switch::new(
        endpoint.clone(),
        store.clone(),
        auth,
        registrar,
        media,
        SwitchConfig {
            ring_timeout: Duration::from_secs(cfg.sip.ring_timeout_secs),
            max_call: Duration::from_secs(cfg.sip.max_call_secs),
            trunk,
            country_code: cfg.sip.country_code.clone(),
            limits: crate::switch::admission::CallLimits {
                tenant_max_calls: cfg.limits.tenant_max_calls,
                device_max_calls: cfg.limits.device_max_calls,
            },
        },
        Some(features),
        crate::switch::session::SessionServices {
            prompts: Arc::new(crate::media::prompts::PromptLibrary::new(
                cfg.media.prompts_dir(),
            )),
            recordings_dir: cfg.data_dir.join("recordings"),
            language: crate::media::prompts::Language::from_tag(&cfg.media.language)
                .unwrap_or(crate::media::prompts::Language::En),
        },
    );
    tokio::spawn(endpoint.run(queue_rx, Arc::new(SwitchHandler(switch.clone()))));
    switch.spawn_mwi_watch();
    let api = start_api(cfg, &store, blobs, &switch, api_features, &mailer).await;
    // Expired bindings are ignored by lookups; this only keeps the table small.
    let purge_store = store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            if let Err(e) = purge_store
                .purge_expired_registrations(crate::now_ms())
                .await
            {
                tracing::warn!("purging registrations: {e}");
            }
        }
    });
    tracing::info!(
        udp = ?cfg.sip.udp, tcp = ?cfg.sip.tcp, %advertise, rtp = %cfg.media.rtp_ports,
        database = %redact(&url), "centrale ready"
    );
    Ok(Running {
        store,
        mailer,
        switch,
        transports,
        api,
    })
}

/// Serves the admin API and `/metrics` on `[api] listen` (on a task); an
/// address that cannot be bound is logged, and SIP is served without it.
async fn start_api(
    cfg: &Config,
    store: &Store,
    blobs: crate::store::BlobStore,
    switch: &Arc<Switch>,
    features: Arc<crate::switch::features::Features>,
    mailer: &crate::mail::Mailer,
) -> Option<std::net::SocketAddr> {
    if !cfg.api.enabled {
        return None;
    }
    let state = crate::api::ApiState::new(store.clone(), blobs).with_host(
        switch.clone(),
        Some(features),
        mailer.clone(),
    );
    if let Some(m) = cfg.api.metrics_listen {
        match crate::api::spawn_metrics(m, state.clone()).await {
            Ok(addr) => tracing::info!(%addr, "/metrics listening (no token)"),
            Err(e) => tracing::error!(addr = %m, "cannot serve /metrics: {e}"),
        }
    }
    match crate::api::spawn(cfg.api.listen, state).await {
        Ok(addr) => {
            tracing::info!(%addr, "admin API and /metrics (operator token) listening");
            Some(addr)
        }
        Err(e) => {
            tracing::error!(addr = %cfg.api.listen, "cannot serve the admin API: {e}");
            None
        }
    }
}

/// Recordings still in the recordings folder at start-up were cut off by a
/// crash before they became blobs (a finished one is moved into the blob
/// store before the plugin hears of it): remove them.
fn remove_unfinished_recordings(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "wav") {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!(file = %path.display(), "removed an unfinished recording"),
                Err(err) => tracing::warn!(file = %path.display(), "cannot remove: {err}"),
            }
        }
    }
}

/// Serves until SIGINT or SIGTERM.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let _running = start(&cfg).await?;
    wait_for_shutdown().await;
    tracing::info!("shutting down");
    Ok(())
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A database URL with any password hidden, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
