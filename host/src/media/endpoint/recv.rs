//! The receive task: RTP on the even port (latching, digits, recording,
//! or forwarding while bridged), RTCP on the odd port drained and ignored.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::recorder::Pushed;
use super::{lock, Inner};
use crate::media::dtmf::{DtmfDetector, TelephoneEvent};
use crate::media::g711::Codec;
use crate::media::rtp;

/// Receive buffer size; RTP over a 1500-byte MTU always fits.
const BUF_LEN: usize = 2048;

/// Per-task receive state.
struct Receiver {
    inner: Arc<Inner>,
    detector: DtmfDetector,
    ssrc: Option<u32>,
}

/// Runs until aborted (close).
pub(super) async fn run(inner: Arc<Inner>) {
    let mut buf = vec![0u8; BUF_LEN];
    let mut rtcp = vec![0u8; BUF_LEN];
    let mut rx = Receiver {
        inner,
        detector: DtmfDetector::new(),
        ssrc: None,
    };
    loop {
        let failed = tokio::select! {
            r = rx.inner.pair.rtp.recv_from(&mut buf) => match r {
                Ok((n, src)) => {
                    rx.handle(buf.get(..n).unwrap_or_default(), src);
                    false
                }
                Err(e) => {
                    tracing::trace!("endpoint recv: {e}");
                    true
                }
            },
            r = rx.inner.pair.rtcp.recv_from(&mut rtcp) => r.is_err(),
        };
        if failed {
            // E.g. ICMP errors reported on the socket: do not spin.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Receiver {
    fn handle(&mut self, datagram: &[u8], src: SocketAddr) {
        let Some(pkt) = rtp::parse(datagram) else {
            return;
        };
        let h = pkt.header;
        let event = self.inner.te_pt() == Some(h.payload_type);
        if !event && Codec::from_payload_type(h.payload_type).is_none() {
            return; // comfort noise, RTCP multiplexed, other codecs
        }
        if !lock(&self.inner.remote).admit_rtp(src, h.ssrc).accepted() {
            return;
        }
        self.inner.packets_in.fetch_add(1, Ordering::Relaxed);
        let link = lock(&self.inner.link).clone();
        if let Some(link) = link {
            // Bridged: everything goes to the other party as it is.
            link.forward_to_party(datagram, h.payload_type);
            return;
        }
        if self.ssrc != Some(h.ssrc) {
            self.ssrc = Some(h.ssrc);
            self.detector.reset();
        }
        if event {
            let digit = TelephoneEvent::parse(pkt.payload)
                .and_then(|ev| self.detector.push(h.timestamp, &ev));
            if let Some(d) = digit {
                self.inner.on_digit(d, Some(h.timestamp));
            }
            return;
        }
        let mut rec = lock(&self.inner.recording);
        let Some(r) = rec.as_mut() else {
            return;
        };
        let was_over = r.end().is_some();
        let pushed = r.push(h.ssrc, h.timestamp, h.payload_type, pkt.payload);
        let now_over = r.end().is_some();
        drop(rec);
        if pushed == Pushed::Late {
            self.inner.late_dropped.fetch_add(1, Ordering::Relaxed);
        }
        if now_over && !was_over {
            self.inner.record_notify.notify_one();
        }
    }
}
