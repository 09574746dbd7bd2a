//! Request budgets on the task routes and `/mcp`: one per token subject, one per client address
//! for requests without a valid token (so token guessing is throttled), each a keyed GCRA limiter
//! (`governor`). This module owns the budgets, turning a decision into the
//! `RateLimit-Policy` / `RateLimit` header values (draft-ietf-httpapi-ratelimit-headers) and
//! evicting idle keys; [`client_ip`] decides which address a request comes from; [`middleware`]
//! puts the check in front of the routes. `specs/operations.md` documents the behaviour.

pub mod client_ip;
pub mod middleware;

use std::{
    hash::Hash,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Weak},
    time::Duration,
};

use std::io::Write as _;

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use ipnet::IpNet;
use poem::http::HeaderValue;

use crate::config::{ConfigError, RateLimitSettings};

pub use middleware::RateLimit;

/// How often keys whose budget is full again (idle for at least the policy's window) are
/// dropped from memory.
pub const EVICT_IDLE_EVERY: Duration = Duration::from_secs(10);

/// The policy name of the per-subject budget, as the headers show it.
pub const USER_POLICY: &str = "user";
/// The policy name of the per-address budget for requests without a valid token.
pub const IP_POLICY: &str = "ip";

/// Keys are hashed with foldhash (randomly seeded per limiter): a budget is checked on every
/// request, and SipHash, the standard map's hasher, was a measurable part of that check.
type KeyHasher = foldhash::fast::RandomState;

type KeyedLimiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K, KeyHasher>, DefaultClock, StateInformationMiddleware>;

/// What one check of a budget decided, with the header values to send either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// `RateLimit-Policy`: `"user";q=200;w=2` (the same for every check of a budget).
    pub policy: HeaderValue,
    /// `RateLimit`: `"user";r=199;t=1`.
    pub state: HeaderValue,
    /// Whole seconds until a refused request would be admitted (at least 1); 0 when allowed.
    pub retry_after_secs: u32,
}

/// One budget: `burst` requests at once, refilled at `per_second`, tracked per key.
pub struct Budget<K: Hash + Eq + Clone> {
    name: &'static str,
    per_second: u32,
    burst: u32,
    /// `RateLimit-Policy`, built once.
    policy: HeaderValue,
    limiter: KeyedLimiter<K>,
}

impl<K: Hash + Eq + Clone> Budget<K> {
    /// `None` when `per_second` is 0 (this budget is off).
    pub fn new(name: &'static str, per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::dashmap_with_hasher(
            Quota::per_second(rate).allow_burst(burst),
            KeyHasher::default(),
        )
        .with_middleware::<StateInformationMiddleware>();
        // The window: the whole seconds an empty budget takes to fill up again, at least 1.
        let window = burst.get().div_ceil(rate.get()).max(1);
        let policy = format!("\"{name}\";q={burst};w={window}");
        Some(Self {
            name,
            per_second: rate.get(),
            burst: burst.get(),
            // A policy name is a plain word and the rest digits: always a valid header value.
            policy: HeaderValue::from_str(&policy).expect("a policy is a valid header value"),
            limiter,
        })
    }

    /// `RateLimit-Policy`: the policy name, its quota `q` (the burst) and window `w`.
    pub fn policy(&self) -> &HeaderValue {
        &self.policy
    }

    /// `RateLimit`: requests remaining `r` and whole seconds `t` until the budget is full again.
    /// Written into a stack buffer: this runs on every request of a limited route.
    fn state(&self, remaining: u32, until_full: Duration) -> HeaderValue {
        let mut buf = [0u8; 64];
        let mut out = &mut buf[..];
        // A name of a few letters and two u32s fit in 64 bytes.
        let _ = write!(
            out,
            "\"{}\";r={remaining};t={}",
            self.name,
            whole_seconds(until_full)
        );
        let len = 64 - out.len();
        HeaderValue::from_bytes(&buf[..len]).expect("a state is a valid header value")
    }

    /// Spend one request of `key`'s budget, if there is one left.
    pub fn check(&self, key: &K) -> Decision {
        let per_request = Duration::from_secs(1) / self.per_second;
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = self.burst.saturating_sub(remaining);
                Decision {
                    allowed: true,
                    policy: self.policy.clone(),
                    state: self.state(remaining, per_request * used),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                let until_full = wait + per_request * (self.burst - 1);
                Decision {
                    allowed: false,
                    policy: self.policy.clone(),
                    state: self.state(0, until_full),
                    retry_after_secs: whole_seconds(wait).max(1),
                }
            }
        }
    }

    /// Forget keys whose budget is full again: they would behave exactly like new keys.
    pub fn evict_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many keys are held in memory.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

/// `d` rounded up to whole seconds.
fn whole_seconds(d: Duration) -> u32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// Both budgets and the proxies trusted to name the client, from `[rate_limit]`.
pub struct RateLimits {
    /// Per token subject; `None` when off.
    pub user: Option<Budget<String>>,
    /// Per client address (IPv6: per /64), for requests without a valid token; `None` when off.
    pub ip: Option<Budget<IpAddr>>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl RateLimits {
    /// The budgets `settings` ask for; `None` when rate limiting is off altogether.
    pub fn from_settings(settings: &RateLimitSettings) -> Result<Option<Self>, ConfigError> {
        let limits = Self {
            user: Budget::new(USER_POLICY, settings.user_per_second, settings.user_burst),
            ip: Budget::new(IP_POLICY, settings.ip_per_second, settings.ip_burst),
            trusted_proxies: settings.trusted_proxy_networks()?,
        };
        let any = limits.user.is_some() || limits.ip.is_some();
        Ok((settings.enabled && any).then_some(limits))
    }

    /// Forget idle keys of both budgets.
    pub fn evict_idle(&self) {
        if let Some(user) = &self.user {
            user.evict_idle();
        }
        if let Some(ip) = &self.ip {
            ip.evict_idle();
        }
    }
}

/// Every `every`, forget idle keys (on the blocking pool: sweeping locks the maps' shards), for
/// as long as `limits` lives. Without a runtime nothing is spawned and keys are never evicted.
pub fn spawn_eviction(limits: &Arc<RateLimits>, every: Duration) {
    let limits: Weak<RateLimits> = Arc::downgrade(limits);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::error!("no async runtime: idle rate-limit keys will never be evicted");
        return;
    };
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(limits) = limits.upgrade() else {
                return;
            };
            let _ = tokio::task::spawn_blocking(move || limits.evict_idle()).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_admits_its_burst_then_refuses_with_the_time_to_wait() {
        let budget = Budget::<String>::new(USER_POLICY, 2, 3).unwrap();
        let key = "alice".to_owned();
        assert_eq!(budget.policy(), r#""user";q=3;w=2"#);

        let first = budget.check(&key);
        assert!(first.allowed);
        assert_eq!(first.state, r#""user";r=2;t=1"#);
        assert_eq!(first.retry_after_secs, 0);
        assert_eq!(budget.check(&key).state, r#""user";r=1;t=1"#);
        assert_eq!(budget.check(&key).state, r#""user";r=0;t=2"#);

        let refused = budget.check(&key);
        assert!(!refused.allowed);
        assert_eq!(refused.policy, r#""user";q=3;w=2"#);
        assert_eq!(refused.state, r#""user";r=0;t=2"#);
        assert_eq!(refused.retry_after_secs, 1);

        // Another key has its own budget.
        assert!(budget.check(&"bob".to_owned()).allowed);
    }

    #[test]
    fn a_rate_of_zero_turns_a_budget_off() {
        assert!(Budget::<String>::new(USER_POLICY, 0, 10).is_none());
        let off = RateLimitSettings {
            enabled: false,
            ..RateLimitSettings::default()
        };
        assert!(RateLimits::from_settings(&off).unwrap().is_none());
        let both_zero = RateLimitSettings {
            user_per_second: 0,
            ip_per_second: 0,
            ..RateLimitSettings::default()
        };
        assert!(RateLimits::from_settings(&both_zero).unwrap().is_none());
        let limits = RateLimits::from_settings(&RateLimitSettings::default())
            .unwrap()
            .unwrap();
        assert_eq!(limits.user.unwrap().policy(), r#""user";q=200;w=2"#);
        assert_eq!(limits.ip.unwrap().policy(), r#""ip";q=40;w=2"#);
    }

    #[test]
    fn keys_idle_long_enough_to_be_full_again_are_evicted() {
        // 1000/s with a burst of 2: a key is full again 2 ms after its last request.
        let budget = Budget::<u32>::new(IP_POLICY, 1000, 2).unwrap();
        for key in 0..100 {
            budget.check(&key);
        }
        assert_eq!(budget.len(), 100);
        budget.evict_idle();
        std::thread::sleep(Duration::from_millis(20));
        budget.check(&7);
        budget.evict_idle();
        assert_eq!(budget.len(), 1, "only the key used just now is kept");
    }
}
