//! The render queue: documents and digests are the expensive reads (a
//! 30,000-event PDF holds hundreds of megabytes while it is laid out), so
//! only `limits.renders` run at once and at most `limits.render_queue` wait
//! for a turn. Past that a render is refused with `503` and a `Retry-After`
//! estimated from how long renders take, and memory stays bounded whatever
//! clients ask for.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{config::LimitSettings, error::ServiceError, metrics::Metrics};

pub struct RenderQueue {
    /// Renders running at once.
    slots: Arc<Semaphore>,
    /// Renders running or waiting.
    admitted: Arc<Semaphore>,
    renders: usize,
    /// `renders + render_queue`.
    capacity: usize,
    /// Moving average of a render's duration, in milliseconds.
    average_ms: Arc<AtomicU64>,
    metrics: Metrics,
}

/// A turn to render; the slot is given back when it is dropped.
pub struct RenderPermit {
    _slot: OwnedSemaphorePermit,
    _admitted: OwnedSemaphorePermit,
    started: Instant,
    average_ms: Arc<AtomicU64>,
    metrics: Metrics,
}

impl Drop for RenderPermit {
    fn drop(&mut self) {
        self.metrics.renders.with_label_values(&["running"]).dec();
        let took = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let before = self.average_ms.load(Ordering::Relaxed);
        let average = if before == 0 {
            took
        } else {
            (before * 7 + took) / 8
        };
        self.average_ms.store(average, Ordering::Relaxed);
    }
}

impl RenderQueue {
    pub fn new(limits: &LimitSettings, metrics: Metrics) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.renders)),
            admitted: Arc::new(Semaphore::new(limits.renders + limits.render_queue)),
            renders: limits.renders,
            capacity: limits.renders + limits.render_queue,
            average_ms: Arc::new(AtomicU64::new(0)),
            metrics,
        }
    }

    /// Wait for a turn to render, or fail at once with
    /// [`ServiceError::Busy`] when the queue is full.
    pub async fn admit(&self) -> Result<RenderPermit, ServiceError> {
        let Ok(admitted) = self.admitted.clone().try_acquire_owned() else {
            return Err(ServiceError::Busy {
                detail: "too many documents and digests are being rendered; retry later".into(),
                retry_after_seconds: self.retry_after_seconds(),
            });
        };
        let waiting = self.metrics.renders.with_label_values(&["waiting"]);
        waiting.inc();
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the render semaphore is never closed");
        waiting.dec();
        self.metrics.renders.with_label_values(&["running"]).inc();
        Ok(RenderPermit {
            _slot: slot,
            _admitted: admitted,
            started: Instant::now(),
            average_ms: self.average_ms.clone(),
            metrics: self.metrics.clone(),
        })
    }

    /// When the renders queued now should be done: every queued render
    /// takes about the average, `renders` at a time.
    fn retry_after_seconds(&self) -> u64 {
        let average = self.average_ms.load(Ordering::Relaxed).max(1000);
        let in_line = (self.capacity - self.admitted.available_permits()).max(1) as u64;
        (average * in_line / self.renders as u64 / 1000).clamp(1, 300)
    }
}
