//! The send task: one 20 ms packet every 20 ms.
//!
//! Timestamps advance by 160 per packet (the sample count), not by wall
//! time; a tick missed by more than a period is skipped, never burst.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::{lock, Inner};
use crate::media::rtp::{build_into, RtpHeader, HEADER_LEN};

/// Samples per packet (20 ms at 8 kHz).
pub(super) const FRAME: usize = 160;
/// The packet interval.
const PTIME: Duration = Duration::from_millis(20);

/// Runs until aborted (close) or the endpoint is closed.
pub(super) async fn run(inner: Arc<Inner>) {
    let mut frame = [0i16; FRAME];
    let mut payload = Vec::with_capacity(FRAME);
    let mut packet = Vec::with_capacity(HEADER_LEN + FRAME);
    let mut tick = tokio::time::interval(PTIME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if inner.is_closed() {
            return;
        }
        if lock(&inner.link).is_some() {
            // Bridged: the other party's packets continue the stream.
            continue;
        }
        lock(&inner.play).fill(&mut frame);
        let Some(dest) = inner.destination() else {
            // Nobody to send to yet: time passes all the same.
            let mut clock = lock(&inner.clock);
            clock.timestamp = clock.timestamp.wrapping_add(FRAME as u32);
            continue;
        };
        let codec = inner.codec();
        payload.clear();
        codec.encode_into(&frame, &mut payload);
        let header = {
            let mut clock = lock(&inner.clock);
            let h = RtpHeader {
                marker: std::mem::take(&mut clock.marker),
                payload_type: codec.payload_type(),
                sequence: clock.sequence,
                timestamp: clock.timestamp,
                ssrc: clock.ssrc,
            };
            clock.sequence = clock.sequence.wrapping_add(1);
            clock.timestamp = clock.timestamp.wrapping_add(FRAME as u32);
            h
        };
        build_into(&header, &payload, &mut packet);
        match inner.pair.rtp.send_to(&packet, dest).await {
            Ok(_) => {
                inner.packets_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::trace!(%dest, "endpoint send: {e}"),
        }
    }
}
