//! `GET /metrics`: Prometheus text. On the API listener it needs an
//! operator token (it names tenants and their private plugins); on the
//! optional `[api] metrics_listen` listener (loopback, for a local
//! Prometheus) it is served without one.
//!
//! Two sources, both real values: counters the switch records as events
//! happen through the `metrics` facade (`centrale_calls_total`,
//! `centrale_sessions_total`, `centrale_sessions_active`), rendered by
//! `metrics-exporter-prometheus`; and state read when scraped (active
//! calls, registrations, message-waiting subscriptions, outbox depth,
//! plugin invocations, faults and suspensions), written here directly.

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::ApiState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder of the `metrics` facade (once; later
/// calls return the same handle). `None` when another recorder was
/// installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            // start from real zeros rather than absent series
            metrics::describe_counter!("centrale_calls_total", "Calls (INVITEs) started.");
            metrics::describe_counter!(
                "centrale_sessions_total",
                "Plugin sessions (voicemail, IVR, ...) started."
            );
            metrics::describe_gauge!("centrale_sessions_active", "Plugin sessions running.");
            metrics::counter!("centrale_calls_total").increment(0);
            metrics::counter!("centrale_sessions_total").increment(0);
            metrics::gauge!("centrale_sessions_active").increment(0.0);
            Some(handle)
        })
        .as_ref()
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The state part of the exposition.
async fn state_metrics(s: &ApiState) -> String {
    let mut out = String::new();
    if let Some(sw) = &s.switch {
        family(
            &mut out,
            "centrale_calls_active",
            "gauge",
            "Calls in progress.",
        );
        let _ = writeln!(out, "centrale_calls_active {}", sw.active_calls());
        family(
            &mut out,
            "centrale_mwi_subscriptions",
            "gauge",
            "Active message-summary subscriptions.",
        );
        let _ = writeln!(out, "centrale_mwi_subscriptions {}", sw.subs.active());
    }
    match s.store.count_registrations(crate::now_ms()).await {
        Ok(n) => {
            family(
                &mut out,
                "centrale_registrations",
                "gauge",
                "Registered contacts (unexpired bindings), all tenants.",
            );
            let _ = writeln!(out, "centrale_registrations {n}");
        }
        Err(e) => tracing::warn!("metrics: counting registrations: {e}"),
    }
    if let Some(mailer) = &s.mailer {
        match mailer.depth().await {
            Ok(n) => {
                family(
                    &mut out,
                    "centrale_outbox_depth",
                    "gauge",
                    "Mails waiting in the outbox.",
                );
                let _ = writeln!(out, "centrale_outbox_depth {n}");
            }
            Err(e) => tracing::warn!("metrics: outbox depth: {e}"),
        }
    }
    if let Some(features) = &s.features {
        let stats = features.plugin_stats();
        family(
            &mut out,
            "centrale_plugin_invocations_total",
            "counter",
            "Plugin invocations since start, per loaded plugin version.",
        );
        for (id, version, st) in &stats {
            let _ = writeln!(
                out,
                "centrale_plugin_invocations_total{{plugin=\"{}\",version=\"{}\"}} {}",
                label(id),
                label(version),
                st.invocations
            );
        }
        family(
            &mut out,
            "centrale_plugin_faults_total",
            "counter",
            "Plugin invocations that faulted, per loaded plugin version and kind.",
        );
        for (id, version, st) in &stats {
            for (kind, n) in crate::runtime::FaultKind::ALL
                .iter()
                .zip(st.faults_by_kind.iter())
            {
                let _ = writeln!(
                    out,
                    "centrale_plugin_faults_total{{plugin=\"{}\",version=\"{}\",kind=\"{}\"}} {n}",
                    label(id),
                    label(version),
                    kind.name()
                );
            }
        }
    }
    match s.store.count_suspensions_by_plugin().await {
        Ok(list) => {
            family(
                &mut out,
                "centrale_plugin_suspensions",
                "gauge",
                "Tenants that have the plugin suspended after faults.",
            );
            for (id, n) in list {
                let _ = writeln!(
                    out,
                    "centrale_plugin_suspensions{{plugin=\"{}\"}} {n}",
                    label(&id)
                );
            }
        }
        Err(e) => tracing::warn!("metrics: suspensions: {e}"),
    }
    out
}

/// `GET /metrics`.
pub async fn metrics(_: super::auth::Operator, State(s): State<ApiState>) -> impl IntoResponse {
    open_metrics(State(s)).await
}

/// `/metrics` without authentication, for the separate metrics listener.
pub async fn open_metrics(State(s): State<ApiState>) -> impl IntoResponse {
    let mut out = state_metrics(&s).await;
    if let Some(handle) = HANDLE.get().and_then(Option::as_ref) {
        out.push_str(&handle.render());
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
