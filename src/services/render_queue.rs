//! The render queue: documents and digests are the expensive reads (a
//! 30,000-event PDF holds tens of megabytes while it is laid out), so only
//! `limits.renders` run at once and at most `limits.render_queue` wait for a
//! turn. Past that a render is refused with `503` and a `Retry-After`
//! estimated from how long renders take, and memory stays bounded whatever
//! clients ask for.
//!
//! Identical document requests share one render ([`Flights`]): a request
//! first reads what its document would be made from and takes its
//! fingerprint; a render of the same fingerprint that was not done yet when
//! the request arrived answers it too, instead of a turn of its own. Eight
//! clients asking for one PDF at once cost one render.

use std::{
    collections::{BTreeSet, HashMap},
    future::Future,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use prometheus::IntGauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::{ServiceError, postmortems::RenderedDocument};
use crate::{config::LimitSettings, metrics::Metrics};

pub struct RenderQueue {
    /// Renders running at once.
    slots: Arc<Semaphore>,
    /// Renders running or waiting.
    admitted: Arc<Semaphore>,
    /// Look-ups of what a document is made from, at once (as many as
    /// renders: each holds a record in memory).
    lookups: Arc<Semaphore>,
    renders: usize,
    /// `renders + render_queue`.
    capacity: usize,
    /// Moving average of a render's duration, in milliseconds.
    average_ms: Arc<AtomicU64>,
    metrics: Metrics,
    /// Post-mortem document renders in flight.
    pub documents: DocumentFlights,
}

/// Post-mortem document renders in flight: their documents, or why they
/// failed.
pub type DocumentFlights = Flights<Result<RenderedDocument, Arc<ServiceError>>>;

/// A place in the queue: a render admitted, not running yet.
pub struct RenderTicket {
    admitted: OwnedSemaphorePermit,
    slots: Arc<Semaphore>,
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
            lookups: Arc::new(Semaphore::new(limits.renders)),
            renders: limits.renders,
            capacity: limits.renders + limits.render_queue,
            average_ms: Arc::new(AtomicU64::new(0)),
            documents: Flights::new(metrics.clone()),
            metrics,
        }
    }

    /// Wait for a turn to render, or fail at once with
    /// [`ServiceError::Busy`] when the queue is full.
    pub async fn admit(&self) -> Result<RenderPermit, ServiceError> {
        Ok(self.enter()?.turn().await)
    }

    /// A place in the queue, or [`ServiceError::Busy`] at once when it is
    /// full.
    pub fn enter(&self) -> Result<RenderTicket, ServiceError> {
        let Ok(admitted) = self.admitted.clone().try_acquire_owned() else {
            return Err(ServiceError::Busy {
                detail: "too many documents and digests are being rendered; retry later".into(),
                retry_after_seconds: self.retry_after_seconds(),
            });
        };
        Ok(RenderTicket {
            admitted,
            slots: self.slots.clone(),
            average_ms: self.average_ms.clone(),
            metrics: self.metrics.clone(),
        })
    }

    /// A turn to look up what a document is made from (see the module
    /// documentation); given back when dropped.
    pub async fn look_up(&self) -> OwnedSemaphorePermit {
        self.lookups
            .clone()
            .acquire_owned()
            .await
            .expect("the look-up semaphore is never closed")
    }

    /// When the renders queued now should be done: every queued render
    /// takes about the average, `renders` at a time.
    fn retry_after_seconds(&self) -> u64 {
        let average = self.average_ms.load(Ordering::Relaxed).max(1000);
        let in_line = (self.capacity - self.admitted.available_permits()).max(1) as u64;
        (average * in_line / self.renders as u64 / 1000).clamp(1, 300)
    }
}

impl RenderTicket {
    /// Wait for a slot.
    pub async fn turn(self) -> RenderPermit {
        let waiting = self.metrics.renders.with_label_values(&["waiting"]);
        waiting.inc();
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the render semaphore is never closed");
        waiting.dec();
        self.running(slot)
    }

    /// A slot if one is free now; the ticket back if not.
    pub fn try_turn(self) -> Result<RenderPermit, Self> {
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => Ok(self.running(slot)),
            Err(_) => Err(self),
        }
    }

    fn running(self, slot: OwnedSemaphorePermit) -> RenderPermit {
        self.metrics.renders.with_label_values(&["running"]).inc();
        RenderPermit {
            _slot: slot,
            _admitted: self.admitted,
            started: Instant::now(),
            average_ms: self.average_ms,
            metrics: self.metrics,
        }
    }
}

/// The SHA-256 of everything a render's output depends on.
pub type Fingerprint = [u8; 32];

/// Renders by fingerprint. A request for a fingerprint shares the render
/// of an earlier request when it arrived before that render was done:
/// while the render runs, and after, for a request that was still reading
/// what its document is made from when the render finished. A render is
/// forgotten once no request that arrived before it finished is still
/// reading; a request that arrives after that renders again.
pub struct Flights<V> {
    state: Arc<Mutex<FlightState<V>>>,
    metrics: Metrics,
}

struct FlightState<V> {
    /// The number the next request to arrive gets.
    next: u64,
    /// Requests that arrived and have not decided yet whether to share a
    /// render, by number.
    deciding: BTreeSet<u64>,
    flights: HashMap<Fingerprint, Flight<V>>,
}

struct Flight<V> {
    result: watch::Receiver<Option<V>>,
    /// Once done: the number of the first request that arrived after.
    done_before: Option<u64>,
}

impl<V> FlightState<V> {
    fn lock(state: &Mutex<Self>) -> MutexGuard<'_, Self> {
        state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forget the renders no deciding request arrived before.
    fn prune(&mut self) {
        let oldest = self.deciding.first().copied().unwrap_or(u64::MAX);
        self.flights
            .retain(|_, flight| flight.done_before.is_none_or(|done| oldest < done));
    }
}

/// A request that arrived, until it decides whether to share a render.
pub struct Arrival<V> {
    state: Arc<Mutex<FlightState<V>>>,
    number: u64,
    reading: IntGauge,
}

impl<V> Drop for Arrival<V> {
    fn drop(&mut self) {
        self.reading.dec();
        let mut state = FlightState::lock(&self.state);
        state.deciding.remove(&self.number);
        state.prune();
    }
}

/// Marks a render done when its task ends, even if its work panicked.
struct Landing<V> {
    state: Arc<Mutex<FlightState<V>>>,
    key: Fingerprint,
}

impl<V> Drop for Landing<V> {
    fn drop(&mut self) {
        let mut state = FlightState::lock(&self.state);
        let next = state.next;
        if let Some(flight) = state.flights.get_mut(&self.key) {
            flight.done_before = Some(next);
        }
        state.prune();
    }
}

impl<V: Clone + Send + Sync + 'static> Flights<V> {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            state: Arc::new(Mutex::new(FlightState {
                next: 0,
                deciding: BTreeSet::new(),
                flights: HashMap::new(),
            })),
            metrics,
        }
    }

    /// A request arrives: from now on it may share the renders not done
    /// yet.
    pub fn arrive(&self) -> Arrival<V> {
        let mut state = FlightState::lock(&self.state);
        let number = state.next;
        state.next += 1;
        state.deciding.insert(number);
        let reading = self.metrics.renders.with_label_values(&["reading"]);
        reading.inc();
        Arrival {
            state: self.state.clone(),
            number,
            reading,
        }
    }

    /// The result of the render of `key`: shared when `arrival` may share
    /// one (see [`Flights`]), else `start()`ed now on a task of its own,
    /// which finishes even when every request waiting for it has gone.
    /// Also whether it was shared; `None` when the work panicked.
    pub async fn run<F>(
        &self,
        arrival: Arrival<V>,
        key: Fingerprint,
        start: impl FnOnce() -> F,
    ) -> Option<(V, bool)>
    where
        F: Future<Output = V> + Send + 'static,
    {
        let (mut receiver, shared) = {
            let mut state = FlightState::lock(&self.state);
            let shareable = state
                .flights
                .get(&key)
                .filter(|flight| flight.done_before.is_none_or(|done| arrival.number < done));
            match shareable {
                Some(flight) => {
                    // What the work would have held (a place in the queue,
                    // a record) goes now, not when the result comes.
                    drop(start);
                    (flight.result.clone(), true)
                }
                None => {
                    let (sender, receiver) = watch::channel(None);
                    state.flights.insert(
                        key,
                        Flight {
                            result: receiver.clone(),
                            done_before: None,
                        },
                    );
                    let landing = Landing {
                        state: self.state.clone(),
                        key,
                    };
                    let work = start();
                    tokio::spawn(async move {
                        let value = work.await;
                        sender.send_replace(Some(value));
                        drop(landing);
                    });
                    (receiver, false)
                }
            }
        };
        // Decided: the request no longer keeps done renders.
        drop(arrival);
        let sharing = self.metrics.renders.with_label_values(&["sharing"]);
        if shared {
            sharing.inc();
        }
        let value = receiver
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|value| value.clone());
        if shared {
            sharing.dec();
        }
        value.map(|value| (value, shared))
    }
}
