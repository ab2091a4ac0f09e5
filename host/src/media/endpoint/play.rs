//! Playing: what the send task takes its samples from, and the future
//! behind [`MediaEndpoint::play`](super::MediaEndpoint::play).

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{lock, Inner, PlayEnd};

/// The sample source of the send task.
#[derive(Default)]
pub(super) struct PlayState {
    current: Option<Playing>,
    next_id: u64,
}

struct Playing {
    id: u64,
    samples: Arc<[i16]>,
    pos: usize,
    done: Option<oneshot::Sender<()>>,
}

impl PlayState {
    /// Fills `frame` with the next samples of the current play, silence
    /// after its end or when nothing plays. The play is reported finished
    /// when its last sample is taken.
    pub(super) fn fill(&mut self, frame: &mut [i16]) {
        let Some(p) = &mut self.current else {
            frame.fill(0);
            return;
        };
        let rest = p.samples.get(p.pos..).unwrap_or_default();
        let n = rest.len().min(frame.len());
        frame[..n].copy_from_slice(&rest[..n]);
        frame[n..].fill(0);
        p.pos += n;
        if p.pos >= p.samples.len() {
            if let Some(done) = p.done.take() {
                let _ = done.send(());
            }
            self.current = None;
        }
    }

    /// True while something plays.
    #[cfg(test)]
    pub(super) fn is_playing(&self) -> bool {
        self.current.is_some()
    }
}

/// Stops the play it guards when the future ends or is dropped, unless a
/// newer play replaced it.
struct Guard<'a> {
    inner: &'a Inner,
    id: u64,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.inner.play);
        if st.current.as_ref().is_some_and(|p| p.id == self.id) {
            st.current = None;
        }
    }
}

/// Installs `samples` as the current play and waits for its end.
pub(super) async fn play(inner: &Inner, samples: Arc<[i16]>, interruptible: bool) -> PlayEnd {
    if inner.is_closed() {
        return PlayEnd::Closed;
    }
    if interruptible && !lock(&inner.digits).is_empty() {
        return PlayEnd::Digit;
    }
    if samples.is_empty() {
        return PlayEnd::Finished;
    }
    let (done, finished) = oneshot::channel();
    let id = {
        let mut st = lock(&inner.play);
        st.next_id += 1;
        let id = st.next_id;
        // A replaced play sees its sender dropped: it returns Finished.
        st.current = Some(Playing {
            id,
            samples,
            pos: 0,
            done: Some(done),
        });
        id
    };
    let _guard = Guard { inner, id };
    tokio::select! {
        biased;
        _ = inner.wait_closed() => PlayEnd::Closed,
        _ = inner.digit_buffered(), if interruptible => PlayEnd::Digit,
        _ = finished => PlayEnd::Finished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_pads_and_reports_the_end() {
        let mut st = PlayState::default();
        let (tx, mut rx) = oneshot::channel();
        st.current = Some(Playing {
            id: 1,
            samples: Arc::from(vec![7i16; 200]),
            pos: 0,
            done: Some(tx),
        });
        let mut frame = [1i16; 160];
        st.fill(&mut frame);
        assert!(frame.iter().all(|s| *s == 7));
        assert!(rx.try_recv().is_err());
        st.fill(&mut frame);
        assert!(frame[..40].iter().all(|s| *s == 7));
        assert!(frame[40..].iter().all(|s| *s == 0));
        assert!(rx.try_recv().is_ok());
        assert!(!st.is_playing());
        frame.fill(3);
        st.fill(&mut frame);
        assert!(frame.iter().all(|s| *s == 0));
    }
}
