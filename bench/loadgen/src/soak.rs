//! Soak mode (`--scenarios soak --rate R`): mixed traffic at a fixed request rate for a long
//! time, reporting errors, latency and the server's resident memory per sampling interval, so
//! a leak or a slow degradation shows up as a trend rather than a single number.
//!
//! The rate is open-loop: each connection has its own schedule (`concurrency / rate` seconds
//! apart, staggered), and latency is measured from the scheduled send time, so a stalled
//! server is charged for the requests it delayed (no coordinated omission). A connection that
//! falls behind sends its next request at once; `late` counts requests sent more than 10 ms
//! after their slot.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hyper::{
    Method, Request,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue},
};

use crate::{Args, CLK_TCK, Ctx, Rng, cpu_now, empty, fmt_ms, full, reset_hwm, send, status_kib};

/// One kind of request in the soak mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Get,
    ListPage,
    Search,
    Create,
    Toggle,
    Update,
    Delete,
    McpList,
}

/// Share of each operation, in percent (sums to 100). Creates and deletes balance, so the
/// database keeps its size and memory growth cannot hide behind a growing table.
const MIX: [(Operation, usize); 8] = [
    (Operation::Get, 30),
    (Operation::ListPage, 15),
    (Operation::Search, 10),
    (Operation::Create, 10),
    (Operation::Delete, 10),
    (Operation::Toggle, 8),
    (Operation::Update, 7),
    (Operation::McpList, 10),
];

impl Operation {
    fn pick(rng: &mut Rng) -> Self {
        let mut roll = rng.below(100);
        for (operation, share) in MIX {
            if roll < share {
                return operation;
            }
            roll -= share;
        }
        unreachable!("MIX sums to 100")
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Get => "get one: GET /api/{u}/tasks/{id}",
            Self::ListPage => {
                "list page: GET /api/{u}/tasks?<filters, sort, limit>, then its cursor"
            }
            Self::Search => "search: GET /api/{u}/tasks?q=...&limit=20",
            Self::Create => "create: POST /api/{w}/tasks",
            Self::Delete => "delete: DELETE /api/{w}/tasks/{id} (a task this connection created)",
            Self::Toggle => "toggle: PATCH /api/{u}/tasks/{id}/complete",
            Self::Update => "update: PATCH /api/{u}/tasks/{id} priority + description",
            Self::McpList => "mcp list: POST /mcp tools/call list_tasks {limit: 20}",
        }
    }
}

/// List queries the soak walks; each page's `next_cursor` is followed by the connection's next
/// list request.
const LIST_QUERIES: [&str; 5] = [
    "limit=20&sort=-priority",
    "complete=false&sort=-created_at&limit=50",
    "priority=none,low&sort=title&limit=25",
    "complete=true&sort=-updated_at&limit=10",
    "overdue=false&sort=due&limit=30",
];

/// What one connection remembers between requests.
struct Connection {
    rng: Rng,
    sender: Option<crate::Sender>,
    /// Tasks this connection created and has not deleted: (writer index, id).
    created: Vec<(usize, i64)>,
    /// The next page of the list walk in progress: (user index, query, cursor).
    next_page: Option<(usize, &'static str, String)>,
    seq: u64,
}

/// Results gathered over one sampling interval (and, separately, over the whole soak).
#[derive(Default)]
struct Window {
    latencies_us: Vec<u32>,
    by_operation: BTreeMap<Operation, Vec<u32>>,
    errors: u64,
    late: u64,
    statuses: BTreeMap<String, u64>,
}

impl Window {
    fn record(
        &mut self,
        operation: Operation,
        latency_us: u32,
        outcome: &str,
        error: bool,
        late: bool,
    ) {
        self.latencies_us.push(latency_us);
        self.by_operation
            .entry(operation)
            .or_default()
            .push(latency_us);
        *self.statuses.entry(outcome.to_owned()).or_default() += 1;
        self.errors += u64::from(error);
        self.late += u64::from(late);
    }

    fn absorb(&mut self, other: Window) {
        self.latencies_us.extend(other.latencies_us);
        for (operation, latencies) in other.by_operation {
            self.by_operation
                .entry(operation)
                .or_default()
                .extend(latencies);
        }
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.errors += other.errors;
        self.late += other.late;
    }
}

/// p-th percentile in milliseconds of `latencies` (sorted in place).
fn percentile(latencies: &mut [u32], p: f64) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    latencies.sort_unstable();
    let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
    latencies[i] as f64 / 1000.0
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

/// Build the next request of `operation` for this connection; the status that counts as success.
fn make_request(
    ctx: &Ctx,
    connection: &mut Connection,
    mut operation: Operation,
) -> (Operation, Request<crate::Body>, u16) {
    connection.seq += 1;
    let seq = connection.seq;
    let rng = &mut connection.rng;
    if operation == Operation::Delete && connection.created.is_empty() {
        operation = Operation::Create;
    }
    let seeded = |rng: &mut Rng| {
        let u = rng.below(ctx.users.len());
        let ids = &ctx.tasks[u];
        (u, ids[rng.below(ids.len())])
    };
    let (method, uri, auth, body, expect) = match operation {
        Operation::Get => {
            let (u, id) = seeded(rng);
            let user = &ctx.users[u];
            let uri = format!("/api/{}/tasks/{id}", user.id);
            (Method::GET, uri, &user.auth, None, 200)
        }
        Operation::ListPage => {
            let (u, query, cursor) = match connection.next_page.take() {
                Some((u, query, cursor)) => (u, query, Some(cursor)),
                None => (
                    rng.below(ctx.users.len()),
                    LIST_QUERIES[rng.below(LIST_QUERIES.len())],
                    None,
                ),
            };
            let user = &ctx.users[u];
            let uri = match cursor {
                Some(cursor) => format!("/api/{}/tasks?{query}&cursor={cursor}", user.id),
                None => format!("/api/{}/tasks?{query}", user.id),
            };
            (Method::GET, uri, &user.auth, None, 200)
        }
        Operation::Search => {
            let user = &ctx.users[rng.below(ctx.users.len())];
            // Seeded titles are "seed task N of USER": "task 7" matches 7 and 70..79.
            let uri = format!(
                "/api/{}/tasks?q=task%20{}&limit=20",
                user.id,
                rng.below(100)
            );
            (Method::GET, uri, &user.auth, None, 200)
        }
        Operation::Create => {
            let user = &ctx.writers[rng.below(ctx.writers.len())];
            let uri = format!("/api/{}/tasks", user.id);
            let body = format!("{{\"title\":\"soak task {seq}\",\"description\":null}}");
            (Method::POST, uri, &user.auth, Some(body), 201)
        }
        Operation::Delete => {
            let (w, id) = connection.created.pop().expect("checked above");
            let user = &ctx.writers[w];
            let uri = format!("/api/{}/tasks/{id}", user.id);
            (Method::DELETE, uri, &user.auth, None, 204)
        }
        Operation::Toggle => {
            let (u, id) = seeded(rng);
            let user = &ctx.users[u];
            let uri = format!("/api/{}/tasks/{id}/complete", user.id);
            (Method::PATCH, uri, &user.auth, None, 200)
        }
        Operation::Update => {
            let (u, id) = seeded(rng);
            let user = &ctx.users[u];
            let priority = ["none", "low", "medium", "high"][rng.below(4)];
            let uri = format!("/api/{}/tasks/{id}", user.id);
            let body =
                format!("{{\"priority\":\"{priority}\",\"description\":\"soak update {seq}\"}}");
            (Method::PATCH, uri, &user.auth, Some(body), 200)
        }
        Operation::McpList => {
            let user = &ctx.users[rng.below(ctx.users.len())];
            let body = format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{seq},\"method\":\"tools/call\",\"params\":{{\"name\":\"list_tasks\",\"arguments\":{{\"limit\":20}}}}}}"
            );
            (Method::POST, "/mcp".to_owned(), &user.auth, Some(body), 200)
        }
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(HOST, ctx.host.clone())
        .header(AUTHORIZATION, auth.clone());
    if operation == Operation::McpList {
        builder = builder.header(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
    }
    let request = match body {
        Some(body) => builder
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(full(body)),
        None => builder.body(empty()),
    }
    .expect("valid request");
    (operation, request, expect)
}

/// Remember what a successful answer tells the connection (a created id, a next cursor).
fn follow_up(connection: &mut Connection, operation: Operation, request_uri: &str, body: &[u8]) {
    match operation {
        Operation::Create => {
            let Ok(task) = serde_json::from_slice::<serde_json::Value>(body) else {
                return;
            };
            // The writer is the user in the path: /api/bench-wNNN/tasks.
            let writer = request_uri
                .split('/')
                .nth(2)
                .and_then(|u| u.strip_prefix("bench-w"))
                .and_then(|n| n.parse::<usize>().ok());
            if let (Some(w), Some(id)) = (writer, task["id"].as_i64()) {
                connection.created.push((w, id));
            }
        }
        Operation::ListPage => {
            let Ok(page) = serde_json::from_slice::<serde_json::Value>(body) else {
                return;
            };
            if let Some(cursor) = page["next_cursor"].as_str() {
                // /api/USER/tasks?QUERY[&cursor=...]: keep the user and the query.
                let user = request_uri.split('/').nth(2).unwrap_or_default();
                let query = request_uri
                    .split_once('?')
                    .map(|(_, q)| q.split("&cursor=").next().unwrap_or(q))
                    .unwrap_or_default();
                let u = user
                    .strip_prefix("bench-u")
                    .and_then(|n| n.parse::<usize>().ok());
                let q = LIST_QUERIES.iter().find(|known| **known == query);
                if let (Some(u), Some(q)) = (u, q) {
                    connection.next_page = Some((u, q, cursor.to_owned()));
                }
            }
        }
        _ => {}
    }
}

async fn connection_loop(
    ctx: Arc<Ctx>,
    wid: usize,
    slot: Duration,
    first: Instant,
    measure_from: Instant,
    end: Instant,
    window: Arc<Mutex<Window>>,
) {
    let mut connection = Connection {
        rng: Rng(0x9E37_79B9_7F4A_7C15 ^ ((wid as u64 + 1) * 0x1000_0001)),
        sender: None,
        created: Vec::new(),
        next_page: None,
        seq: (wid as u64) << 32,
    };
    let mut scheduled = first;
    while scheduled < end {
        tokio::time::sleep_until(scheduled.into()).await;
        let picked = Operation::pick(&mut connection.rng);
        let (operation, request, expect) = make_request(&ctx, &mut connection, picked);
        let uri = request.uri().to_string();
        let started = Instant::now();
        let result = send(ctx.addr, &mut connection.sender, request).await;
        let done = Instant::now();
        let (outcome, ok) = match &result {
            Ok((status, body)) => {
                if *status == expect {
                    follow_up(&mut connection, operation, &uri, body);
                }
                (status.to_string(), *status == expect)
            }
            Err(e) => (
                format!("io: {}", e.chars().take(60).collect::<String>()),
                false,
            ),
        };
        if scheduled >= measure_from {
            let latency = (done - scheduled).as_micros().min(u32::MAX as u128) as u32;
            let late = started - scheduled > Duration::from_millis(10);
            window
                .lock()
                .expect("window lock")
                .record(operation, latency, &outcome, !ok, late);
        }
        if result.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        scheduled += slot;
    }
}

/// One printed sample: the interval's numbers and the server's memory at its end.
struct Sample {
    at: Duration,
    requests: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    late: u64,
    /// Server CPU time per request in the interval, in µs (rises if the server degrades).
    server_us_per_request: f64,
    /// Busy cores of the machine besides the server and the load generator.
    other_cores: f64,
    rss_kib: Option<u64>,
}

/// Run the soak: `args.warmup` unmeasured, then `args.duration` measured, sampling every
/// `sample_every`; prints the per-interval table, the per-operation table and a verdict.
pub(crate) async fn run(ctx: Arc<Ctx>, args: &Args, rate: f64, sample_every: Duration) {
    let slot = Duration::from_secs_f64(args.concurrency as f64 / rate);
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;
    let window = Arc::new(Mutex::new(Window::default()));
    eprintln!(
        "soak: {rate:.0} req/s over {} connections ({} ms apart each), {:?} warm-up + {:?} measured, sampling every {:?}",
        args.concurrency,
        slot.as_millis(),
        args.warmup,
        args.duration,
        sample_every
    );
    let handles: Vec<_> = (0..args.concurrency)
        .map(|wid| {
            let first = start + slot.mul_f64(wid as f64 / args.concurrency as f64);
            tokio::spawn(connection_loop(
                ctx.clone(),
                wid,
                slot,
                first,
                measure_from,
                end,
                window.clone(),
            ))
        })
        .collect();

    tokio::time::sleep_until(measure_from.into()).await;
    let rss = |field| args.pid.and_then(|p| status_kib(p, field));
    let hwm_before = rss("VmHWM:");
    let rss_start = rss("VmRSS:");
    let hwm_reset = reset_hwm(args.pid);
    eprintln!(
        "soak: measuring; server VmRSS {} MiB (peak so far, with seeding: {} MiB)",
        mib(rss_start),
        mib(hwm_before)
    );
    let mut total = Window::default();
    let mut samples = Vec::new();
    let mut tick = measure_from;
    let mut cpu_before = cpu_now(args.pid);
    while tick < end {
        let next = (tick + sample_every).min(end);
        tokio::time::sleep_until(next.into()).await;
        let mut w = std::mem::take(&mut *window.lock().expect("window lock"));
        let requests = w.latencies_us.len();
        let secs = (next - tick).as_secs_f64();
        let cpu = cpu_now(args.pid);
        let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / CLK_TCK / secs;
        let server_cores = cores(cpu_before.server_ticks, cpu.server_ticks);
        let other_cores = (cores(cpu_before.machine_busy, cpu.machine_busy)
            - server_cores
            - cores(cpu_before.self_ticks, cpu.self_ticks))
        .max(0.0);
        cpu_before = cpu;
        let sample = Sample {
            at: next - measure_from,
            requests,
            rps: requests as f64 / secs,
            p50_ms: percentile(&mut w.latencies_us, 0.50),
            p99_ms: percentile(&mut w.latencies_us, 0.99),
            errors: w.errors,
            late: w.late,
            server_us_per_request: server_cores * 1e6 * secs / requests.max(1) as f64,
            other_cores,
            rss_kib: rss("VmRSS:"),
        };
        eprintln!(
            "  {:>5.0} s: {:.0} req/s, p50 {} ms, p99 {} ms, errors {}, late {}, server {:.0} µs/req, other load {:.2} cores, VmRSS {} MiB",
            sample.at.as_secs_f64(),
            sample.rps,
            fmt_ms(sample.p50_ms),
            fmt_ms(sample.p99_ms),
            sample.errors,
            sample.late,
            sample.server_us_per_request,
            sample.other_cores,
            mib(sample.rss_kib)
        );
        samples.push(sample);
        total.absorb(w);
        tick = next;
    }
    for h in handles {
        let _ = h.await;
    }
    // Requests scheduled before `end` that finished after the last sample.
    total.absorb(std::mem::take(&mut *window.lock().expect("window lock")));
    let rss_end = rss("VmRSS:");
    let hwm = if hwm_reset { rss("VmHWM:") } else { None };

    println!(
        "| at s | requests | req/s | p50 ms | p99 ms | errors | late | server CPU µs/req | other load (cores) | server VmRSS MiB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in &samples {
        println!(
            "| {:.0} | {} | {:.0} | {} | {} | {} | {} | {:.0} | {:.2} | {} |",
            s.at.as_secs_f64(),
            s.requests,
            s.rps,
            fmt_ms(s.p50_ms),
            fmt_ms(s.p99_ms),
            s.errors,
            s.late,
            s.server_us_per_request,
            s.other_cores,
            mib(s.rss_kib)
        );
    }
    println!();
    println!("| operation | requests | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for (operation, latencies) in &mut total.by_operation {
        let max = latencies
            .iter()
            .max()
            .map_or(f64::NAN, |v| *v as f64 / 1000.0);
        println!(
            "| {} | {} | {} | {} | {} |",
            operation.describe(),
            latencies.len(),
            fmt_ms(percentile(latencies, 0.50)),
            fmt_ms(percentile(latencies, 0.99)),
            fmt_ms(max)
        );
    }
    let requests = total.latencies_us.len();
    let p50 = percentile(&mut total.latencies_us, 0.50);
    let p99 = percentile(&mut total.latencies_us, 0.99);
    let max = total
        .latencies_us
        .last()
        .map_or(f64::NAN, |v| *v as f64 / 1000.0);
    println!();
    println!(
        "Overall: {requests} requests in {:.0} s ({:.0} req/s, target {rate:.0}), p50 {} ms, p99 {} ms, max {} ms, errors {}, late {}; statuses {:?}.",
        args.duration.as_secs_f64(),
        requests as f64 / args.duration.as_secs_f64(),
        fmt_ms(p50),
        fmt_ms(p99),
        fmt_ms(max),
        total.errors,
        total.late,
        total.statuses
    );
    println!(
        "Server memory: VmRSS {} MiB at the start of the measured window, {} MiB at its end; peak (VmHWM) {} MiB during it, {} MiB before it (start-up, seeding, warm-up).",
        mib(rss_start),
        mib(rss_end),
        mib(hwm),
        mib(hwm_before)
    );

    // Growth: the end against the highest sample of the first third (caches fill early, and
    // that is not a leak); noise allowance max(2 MiB, 5%).
    println!();
    println!("Verdict:");
    println!(
        "- errors: {} -> {}",
        total.errors,
        if total.errors == 0 { "MET" } else { "MISSED" }
    );
    let early = samples
        .iter()
        .take(samples.len().div_ceil(3))
        .filter_map(|s| s.rss_kib)
        .max();
    if let (Some(early), Some(end_kib)) = (early, rss_end) {
        let allowance = (early / 20).max(2048);
        let growth = end_kib as i64 - early as i64;
        println!(
            "- memory growth after the first third: {:+.1} MiB (end {} vs {} MiB; allowance {:.1} MiB) -> {}",
            growth as f64 / 1024.0,
            mib(Some(end_kib)),
            mib(Some(early)),
            allowance as f64 / 1024.0,
            if growth <= allowance as i64 {
                "no growth beyond noise"
            } else {
                "GROWTH"
            }
        );
    } else {
        println!("- memory: not measured (no --pid, or /proc not readable)");
    }
}
