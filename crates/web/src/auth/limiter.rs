//! Login throttling, per client address and per account (OWASP authentication cheat sheet:
//! protect against automated attacks). Token buckets refill continuously, so a person who
//! mistypes a few times is never locked out for long.
//!
//! In memory, per process. Several nodes behind a load balancer each allow the quota.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use mcplatform_core::user::EmailAddress;

/// Past this many tracked keys, buckets that have refilled are forgotten.
const MAX_TRACKED_KEYS: usize = 10_000;

#[derive(Debug)]
pub struct LoginLimiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
}

impl LoginLimiter {
    /// `per_ip` and `per_account` attempts per minute, each allowed in a burst.
    pub fn new(per_ip: u32, per_account: u32) -> Self {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: DefaultKeyedRateLimiter::keyed(quota(per_ip)),
            per_account: DefaultKeyedRateLimiter::keyed(quota(per_account)),
        }
    }

    /// Takes one attempt from both buckets, or says how long to wait.
    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), Duration> {
        if self.per_ip.len() > MAX_TRACKED_KEYS {
            self.per_ip.retain_recent();
        }
        if self.per_account.len() > MAX_TRACKED_KEYS {
            self.per_account.retain_recent();
        }
        let now = DefaultClock::default().now();
        self.per_ip.check_key(&ip).map_err(|not_until| not_until.wait_time_from(now))?;
        // No address is longer than this; a longer input must not hold more memory as a key.
        let account: String = account
            .trim()
            .chars()
            .take(EmailAddress::MAX_LEN)
            .flat_map(char::to_lowercase)
            .collect();
        self.per_account.check_key(&account).map_err(|not_until| not_until.wait_time_from(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_beyond_the_quota_are_refused_with_a_wait() {
        let limiter = LoginLimiter::new(100, 3);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.check(ip, "ada@example.com").is_ok());
        }
        let wait = limiter.check(ip, "ADA@example.com").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(limiter.check(ip, "bob@example.com").is_ok(), "other accounts unaffected");
    }

    #[test]
    fn one_address_cannot_try_many_accounts_quickly() {
        let limiter = LoginLimiter::new(2, 100);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(limiter.check(ip, "a@example.com").is_ok());
        assert!(limiter.check(ip, "b@example.com").is_ok());
        assert!(limiter.check(ip, "c@example.com").is_err());
        assert!(limiter.check("203.0.113.10".parse().unwrap(), "c@example.com").is_ok());
    }
}
