//! Prometheus metrics: every metric the service records, the registry that holds them (one per
//! application, never a global, so servers sharing a process keep their own counts), the
//! recording calls the request logger and the stores make, and the OpenMetrics text `/metrics`
//! answers with.
//!
//! The full list, with labels, is in specs/operations.md ("Metrics"). Recording is off when
//! `metrics.enabled = false`: `Metrics` is then never built and `StoreMetrics` is a no-op.

use std::{
    cell::Cell,
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use poem::http::Method;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
        info::Info,
    },
    registry::{Registry, Unit},
};

mod endpoint;

pub use endpoint::{MetricsEndpoint, PATH};

/// The `Content-Type` of the exposition (OpenMetrics 1.0 text, which Prometheus scrapes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of the per-request metrics. Every value is a `'static` string, so a request records
/// its metrics without allocating.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `POST`, ... (`other` for any method outside RFC 9110's, so clients cannot invent
    /// label values).
    pub method: &'static str,
    /// The route template (`/api/{user_id}/tasks/{task_id}`), `unmatched` for unknown paths: never
    /// a raw path, so ids never become label values.
    pub route: &'static str,
    /// The response status code.
    pub status: u16,
}

impl RequestLabels {
    /// The labels of a request answered with `status`.
    pub fn new(method: &Method, route: &'static str, status: u16) -> Self {
        let method = match *method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
            Method::CONNECT => "CONNECT",
            Method::TRACE => "TRACE",
            _ => "other",
        };
        Self {
            method,
            route,
            status,
        }
    }
}

/// The request counter and latency histogram of one label set.
#[derive(Clone)]
struct RequestInstruments {
    requests: Counter,
    duration: Histogram,
}

/// Why a request was refused by authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No bearer token (401 `AUTH_MISSING`).
    Missing,
    /// A token that did not verify or whose claims were refused (401 `AUTH_INVALID`).
    Invalid,
    /// A valid token for another user than the path names (403 `AUTH_FORBIDDEN`).
    Forbidden,
    /// The issuer's signing keys could not be fetched (503 `AUTH_UNAVAILABLE`).
    KeysUnavailable,
}

impl AuthFailure {
    fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Forbidden => "forbidden",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// A queue in front of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbQueue {
    /// SQLite reads waiting for a reader thread.
    SqliteRead,
    /// SQLite writes waiting for the writer thread.
    SqliteWrite,
    /// PostgreSQL requests waiting for a pooled connection.
    PostgresPool,
}

impl DbQueue {
    fn label(self) -> &'static str {
        match self {
            Self::SqliteRead => "sqlite_read",
            Self::SqliteWrite => "sqlite_write",
            Self::PostgresPool => "postgres_pool",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets: 0.25 ms to about 8 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The metrics of one application and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<RequestLabels>,
    /// Both instruments of each label set seen, found with one fast lookup: the families hash
    /// their keys with SipHash under their own lock, one lookup each, on every request.
    request_instruments:
        RwLock<HashMap<RequestLabels, RequestInstruments, foldhash::fast::RandomState>>,
    in_flight: Gauge,
    auth_failures: Family<ReasonLabels, Counter>,
    rate_limited: Counter,
    store: StoreMetrics,
}

impl Metrics {
    /// Every metric, registered and at zero.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("todo");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let request_duration: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from receiving a request to having its response, by method, route template and status",
            Unit::Seconds,
            request_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served right now",
            in_flight.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests refused by authentication, by reason (missing, invalid, forbidden, keys_unavailable)",
            auth_failures.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limited_requests",
            "Requests refused with 429 by rate limiting",
            rate_limited.clone(),
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "db_queue_depth",
            "Database operations waiting in a queue (sqlite_read, sqlite_write) or for a pooled connection (postgres_pool)",
            queue_depth.clone(),
        );
        let queue_wait: HistogramFamily<QueueLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "db_queue_wait",
            "Time a database operation waited for a thread or a pooled connection",
            Unit::Seconds,
            queue_wait.clone(),
        );
        let write_batch = Histogram::new(exponential_buckets(1.0, 2.0, 7));
        registry.register(
            "db_write_batch_size",
            "Writes committed together in one SQLite transaction (group commit)",
            write_batch.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        // Every family starts with its known label values, so a scrape shows zeros instead of
        // nothing before the first event.
        for reason in [
            AuthFailure::Missing,
            AuthFailure::Invalid,
            AuthFailure::Forbidden,
            AuthFailure::KeysUnavailable,
        ] {
            drop(auth_failures.get_or_create(&ReasonLabels {
                reason: reason.label(),
            }));
        }
        Arc::new(Self {
            registry,
            requests,
            request_duration,
            request_instruments: RwLock::default(),
            in_flight,
            auth_failures,
            rate_limited,
            store: StoreMetrics(Some(Arc::new(StoreInstruments {
                queue_depth,
                queue_wait,
                write_batch,
            }))),
        })
    }

    /// The handle the stores record their queues and batches with.
    pub fn store(&self) -> StoreMetrics {
        self.store.clone()
    }

    /// A request is being served until the returned guard is dropped.
    pub fn request_started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// A request was answered.
    pub fn request_finished(&self, labels: RequestLabels, elapsed: Duration) {
        let record = |instruments: &RequestInstruments| {
            instruments.requests.inc();
            instruments.duration.observe(elapsed.as_secs_f64());
        };
        let known = self
            .request_instruments
            .read()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(instruments) = known.get(&labels) {
            record(instruments);
            return;
        }
        drop(known);
        let instruments = RequestInstruments {
            requests: self.requests.get_or_create(&labels).clone(),
            duration: self.request_duration.get_or_create(&labels).clone(),
        };
        record(&instruments);
        self.request_instruments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(labels, instruments);
    }

    /// A request was refused by authentication.
    pub fn auth_failed(&self, reason: AuthFailure) {
        self.auth_failures
            .get_or_create(&ReasonLabels {
                reason: reason.label(),
            })
            .inc();
    }

    /// A request was refused by rate limiting (429).
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// Every metric in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl std::fmt::Debug for StoreMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StoreMetrics(recording)"
        } else {
            "StoreMetrics(off)"
        })
    }
}

/// Decrements the in-flight gauge when the request is over, however it ended.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

struct StoreInstruments {
    queue_depth: Family<QueueLabels, Gauge>,
    queue_wait: HistogramFamily<QueueLabels>,
    write_batch: Histogram,
}

/// What the stores record: queue depth and wait, and SQLite write batch sizes. Cheap to clone;
/// the default records nothing (metrics off, or a command-line tool).
#[derive(Clone, Default)]
pub struct StoreMetrics(Option<Arc<StoreInstruments>>);

impl StoreMetrics {
    /// Show `queue` in the exposition (at zero) before its first operation.
    pub fn register_queue(&self, queue: DbQueue) {
        if let Some(m) = &self.0 {
            let labels = QueueLabels {
                queue: queue.label(),
            };
            drop(m.queue_depth.get_or_create(&labels));
            drop(m.queue_wait.get_or_create(&labels));
        }
    }

    /// An operation joined `queue`.
    pub fn enqueued(&self, queue: DbQueue) {
        if let Some(m) = &self.0 {
            m.queue_depth
                .get_or_create(&QueueLabels {
                    queue: queue.label(),
                })
                .inc();
        }
    }

    /// An operation left `queue` after waiting `waited`.
    pub fn dequeued(&self, queue: DbQueue, waited: Duration) {
        if let Some(m) = &self.0 {
            let labels = QueueLabels {
                queue: queue.label(),
            };
            m.queue_depth.get_or_create(&labels).dec();
            m.queue_wait
                .get_or_create(&labels)
                .observe(waited.as_secs_f64());
        }
    }

    /// An operation waits in `queue` until the returned guard is dropped (even if its caller
    /// gives up half-way).
    pub fn waiting(&self, queue: DbQueue) -> QueueWait {
        self.enqueued(queue);
        QueueWait {
            metrics: self.clone(),
            queue,
            since: std::time::Instant::now(),
        }
    }

    /// `size` writes were committed in one transaction.
    pub fn write_batch(&self, size: usize) {
        if let Some(m) = &self.0 {
            m.write_batch.observe(size as f64);
        }
    }
}

/// An operation waiting in a queue; see [`StoreMetrics::waiting`].
pub struct QueueWait {
    metrics: StoreMetrics,
    queue: DbQueue,
    since: std::time::Instant,
}

impl Drop for QueueWait {
    fn drop(&mut self) {
        self.metrics.dequeued(self.queue, self.since.elapsed());
    }
}

tokio::task_local! {
    static AUTH_FAILURE: Cell<Option<AuthFailure>>;
}

/// Run `f` (one request) and return its output with the authentication failure, if any, that
/// [`note_auth_failure`] recorded inside it.
pub async fn watch_auth<F: Future>(f: F) -> (F::Output, Option<AuthFailure>) {
    AUTH_FAILURE
        .scope(Cell::new(None), async {
            let output = f.await;
            (output, AUTH_FAILURE.with(Cell::get))
        })
        .await
}

/// Record that the request being served is refused by authentication for `reason`. Called
/// where the refusal is built (`ApiError`), whichever front door refused; a no-op outside
/// [`watch_auth`].
pub fn note_auth_failure(reason: AuthFailure) {
    let _ = AUTH_FAILURE.try_with(|cell| cell.set(Some(reason)));
}
