//! MCP analytics over a time window: calls, the error split, exact latency percentiles, top
//! tools, clients, end users and sessions. The input is every MCP operation of the window,
//! from ingested server spans and from the hosted servers' own records alike.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::ValidationError;
use crate::hosting::RequestOutcome;

/// One MCP operation a server answered.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSample {
    pub at_ns: i64,
    /// `mcp.method.name`.
    pub method: String,
    /// The tool of a `tools/call`.
    pub tool: Option<String>,
    pub outcome: RequestOutcome,
    pub duration_ns: i64,
    /// The client's name (`clientInfo.name`), when known.
    pub client: Option<String>,
    /// Who called, as a key unique within the organization: a span's user attribute, a
    /// hosted end user's address (one person whichever way they came), or `hosted:{id}`.
    pub user: Option<String>,
    pub session: Option<String>,
}

/// The preset windows of the dashboard, and a custom one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangePreset {
    Hour,
    Day,
    Week,
    Month,
}

impl RangePreset {
    pub const ALL: [Self; 4] = [Self::Hour, Self::Day, Self::Week, Self::Month];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        Self::ALL.into_iter().find(|preset| preset.as_str() == input).ok_or_else(|| {
            ValidationError::new("range", "use 1h, 24h, 7d or 30d, or give from and to")
        })
    }

    pub const fn length(self) -> Duration {
        match self {
            Self::Hour => Duration::HOUR,
            Self::Day => Duration::DAY,
            Self::Week => Duration::days(7),
            Self::Month => Duration::days(30),
        }
    }
}

/// The longest custom window.
pub const MAX_WINDOW: Duration = Duration::days(400);
/// About this many points on a chart, whatever the window.
const TARGET_BUCKETS: i64 = 60;
/// Bucket widths a chart steps through, in seconds: round numbers a reader expects.
const BUCKET_STEPS: [i64; 12] =
    [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/// A half-open window `[from, to)` cut into equal buckets for charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub bucket: Duration,
}

impl Window {
    /// The last `preset` up to `now`.
    pub fn last(preset: RangePreset, now: OffsetDateTime) -> Self {
        Self::between(now - preset.length(), now)
    }

    /// A custom window; `from` must come before `to`, and the window last at most
    /// [`MAX_WINDOW`].
    pub fn custom(from: OffsetDateTime, to: OffsetDateTime) -> Result<Self, ValidationError> {
        if from >= to {
            return Err(ValidationError::new("from", "from must be before to"));
        }
        if to - from > MAX_WINDOW {
            return Err(ValidationError::new("from", "a window lasts at most 400 days"));
        }
        Ok(Self::between(from, to))
    }

    fn between(from: OffsetDateTime, to: OffsetDateTime) -> Self {
        let wanted = (to - from).whole_seconds() / TARGET_BUCKETS;
        let step = BUCKET_STEPS.into_iter().find(|step| *step >= wanted).unwrap_or_else(|| {
            // Past a day per bucket: whole days.
            (wanted + 86_399) / 86_400 * 86_400
        });
        Self { from, to, bucket: Duration::seconds(step) }
    }

    pub fn from_ns(&self) -> i64 {
        nanos(self.from)
    }

    pub fn to_ns(&self) -> i64 {
        nanos(self.to)
    }
}

/// Nanoseconds since the Unix epoch, saturating far outside the years anyone sends.
pub fn nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// When a call was made (Unix nanoseconds) and how it ended.
type TimedOutcome = (i64, RequestOutcome);

/// One user's sessionless calls from one client, cut into sessions at pauses longer than
/// [`SESSION_GAP`].
fn derive_sessions(
    user: &str,
    client: Option<&str>,
    mut calls: Vec<TimedOutcome>,
) -> Vec<SessionUsage> {
    calls.sort_unstable_by_key(|(at, _)| *at);
    let gap = i64::try_from(SESSION_GAP.whole_nanoseconds()).unwrap_or(i64::MAX);
    let mut derived: Vec<SessionUsage> = Vec::new();
    let mut previous: Option<i64> = None;
    for (at_ns, outcome) in calls {
        let at = at_time(at_ns);
        let continues = previous.is_some_and(|p| at_ns - p <= gap);
        match derived.last_mut() {
            Some(session) if continues => {
                session.counts.add(outcome);
                session.last_call = at;
            }
            _ => {
                let mut counts = Counts::default();
                counts.add(outcome);
                derived.push(SessionUsage {
                    id: format!("{user} · {} · {}", client.unwrap_or("unknown client"), at_ns),
                    user: Some(user.to_owned()),
                    client: client.map(str::to_owned),
                    counts,
                    first_call: at,
                    last_call: at,
                    derived: true,
                });
            }
        }
        previous = Some(at_ns);
    }
    derived
}

/// The moment `ns` nanoseconds after the Unix epoch.
pub fn at_time(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Latency percentiles in milliseconds, by the nearest-rank method over every duration (exact,
/// not interpolated from histogram buckets).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// `None` for no durations. Sorts `durations_ns` in place.
    pub fn of(durations_ns: &mut [i64]) -> Option<Self> {
        if durations_ns.is_empty() {
            return None;
        }
        durations_ns.sort_unstable();
        let ms = |ns: i64| ns as f64 / 1_000_000.0;
        let rank = |p: f64| {
            // Nearest rank: the smallest value with at least p% of the values at or below it.
            let n = durations_ns.len();
            let rank = ((p / 100.0) * n as f64).ceil() as usize;
            durations_ns[rank.clamp(1, n) - 1]
        };
        let total: i128 = durations_ns.iter().map(|d| i128::from(*d)).sum();
        Some(Self {
            p50_ms: ms(rank(50.0)),
            p95_ms: ms(rank(95.0)),
            p99_ms: ms(rank(99.0)),
            avg_ms: total as f64 / durations_ns.len() as f64 / 1_000_000.0,
            max_ms: ms(*durations_ns.last().unwrap_or(&0)),
        })
    }
}

/// Calls and their error split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
    pub calls: u64,
    /// JSON-RPC errors: the request failed.
    pub protocol_errors: u64,
    /// Tool results with `isError`: the tool ran and reported a failure.
    pub tool_errors: u64,
}

impl Counts {
    fn add(&mut self, outcome: RequestOutcome) {
        self.calls += 1;
        match outcome {
            RequestOutcome::Ok => {}
            RequestOutcome::ProtocolError => self.protocol_errors += 1,
            RequestOutcome::ToolError => self.tool_errors += 1,
        }
    }

    /// Errors of either kind per call, 0 to 1.
    pub fn error_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            (self.protocol_errors + self.tool_errors) as f64 / self.calls as f64
        }
    }
}

/// One tool's calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolUsage {
    pub name: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub error_rate: f64,
    pub latency: Option<Latency>,
}

/// Calls per MCP method (`tools/call`, `tools/list`, `initialize`…).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MethodUsage {
    pub method: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Traffic of one client application (Cursor, Claude Code, VS Code…).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientUsage {
    /// `null` for calls whose client is not known.
    pub name: Option<String>,
    pub calls: u64,
    pub users: u64,
}

/// One session of the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionUsage {
    pub id: String,
    pub user: Option<String>,
    pub client: Option<String>,
    /// The session's operations in the window.
    #[serde(flatten)]
    pub counts: Counts,
    #[serde(with = "time::serde::rfc3339")]
    pub first_call: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_call: OffsetDateTime,
    /// The calls carried no session id: the session is one user's calls from one client with
    /// no pause longer than [`SESSION_GAP`] (as for stateless MCP revisions).
    pub derived: bool,
}

/// The longest pause within a derived session.
pub const SESSION_GAP: Duration = Duration::minutes(30);

/// The sessions an overview lists: the most recently active.
pub const SESSIONS_LISTED: usize = 20;

/// One bucket of a chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesPoint {
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(flatten)]
    pub counts: Counts,
    /// p95 latency of the bucket's calls.
    pub p95_ms: Option<f64>,
}

/// Everything the overview page shows for a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    pub bucket_seconds: i64,
    /// Every MCP operation.
    #[serde(flatten)]
    pub counts: Counts,
    pub error_rate: f64,
    /// Latency of every MCP operation.
    pub latency: Option<Latency>,
    /// `tools/call` operations only.
    pub tool_calls: Counts,
    pub tool_latency: Option<Latency>,
    /// End users who made at least one call.
    pub active_users: u64,
    pub sessions: u64,
    /// The most recently active sessions, at most [`SESSIONS_LISTED`].
    pub recent_sessions: Vec<SessionUsage>,
    /// Tools by calls, most called first.
    pub tools: Vec<ToolUsage>,
    pub methods: Vec<MethodUsage>,
    pub clients: Vec<ClientUsage>,
    pub series: Vec<SeriesPoint>,
}

impl Overview {
    pub fn compute(window: Window, samples: &[CallSample]) -> Self {
        let from_ns = window.from_ns();
        let bucket_ns = (window.bucket.whole_nanoseconds() as i64).max(1);
        let bucket_count =
            usize::try_from((window.to_ns() - from_ns + bucket_ns - 1) / bucket_ns).unwrap_or(0);
        let mut series: Vec<(Counts, Vec<i64>)> =
            vec![(Counts::default(), Vec::new()); bucket_count];

        let mut counts = Counts::default();
        let mut tool_calls = Counts::default();
        let mut all_durations = Vec::with_capacity(samples.len());
        let mut tool_durations = Vec::new();
        let mut tools: HashMap<&str, (Counts, Vec<i64>)> = HashMap::new();
        let mut methods: HashMap<&str, Counts> = HashMap::new();
        let mut clients: HashMap<Option<&str>, (u64, HashSet<&str>)> = HashMap::new();
        let mut users = HashSet::new();
        let mut sessions: HashMap<&str, SessionUsage> = HashMap::new();
        // Calls of a known user without a session id, by user and client.
        let mut sessionless: HashMap<(&str, Option<&str>), Vec<TimedOutcome>> = HashMap::new();

        for sample in samples {
            counts.add(sample.outcome);
            all_durations.push(sample.duration_ns);
            methods.entry(sample.method.as_str()).or_default().add(sample.outcome);
            if sample.method == "tools/call" {
                tool_calls.add(sample.outcome);
                tool_durations.push(sample.duration_ns);
                let tool = sample.tool.as_deref().unwrap_or("(unnamed)");
                let (tool_counts, durations) = tools.entry(tool).or_default();
                tool_counts.add(sample.outcome);
                durations.push(sample.duration_ns);
            }
            let client = clients.entry(sample.client.as_deref()).or_default();
            client.0 += 1;
            if let Some(user) = &sample.user {
                users.insert(user.as_str());
                client.1.insert(user.as_str());
            }
            if let Some(session) = &sample.session {
                let at = at_time(sample.at_ns);
                let usage = sessions.entry(session.as_str()).or_insert_with(|| SessionUsage {
                    id: session.clone(),
                    user: None,
                    client: None,
                    counts: Counts::default(),
                    first_call: at,
                    last_call: at,
                    derived: false,
                });
                usage.counts.add(sample.outcome);
                usage.first_call = usage.first_call.min(at);
                usage.last_call = usage.last_call.max(at);
                if usage.user.is_none() {
                    usage.user.clone_from(&sample.user);
                }
                if usage.client.is_none() {
                    usage.client.clone_from(&sample.client);
                }
            } else if let Some(user) = &sample.user {
                sessionless
                    .entry((user.as_str(), sample.client.as_deref()))
                    .or_default()
                    .push((sample.at_ns, sample.outcome));
            }
            let index = usize::try_from((sample.at_ns - from_ns) / bucket_ns).ok();
            if let Some((bucket, durations)) = index.and_then(|i| series.get_mut(i)) {
                bucket.add(sample.outcome);
                durations.push(sample.duration_ns);
            }
        }

        let mut tools: Vec<ToolUsage> = tools
            .into_iter()
            .map(|(name, (counts, mut durations))| ToolUsage {
                name: name.to_owned(),
                counts,
                error_rate: counts.error_rate(),
                latency: Latency::of(&mut durations),
            })
            .collect();
        tools.sort_by(|a, b| b.counts.calls.cmp(&a.counts.calls).then(a.name.cmp(&b.name)));
        let mut methods: Vec<MethodUsage> = methods
            .into_iter()
            .map(|(method, counts)| MethodUsage { method: method.to_owned(), counts })
            .collect();
        methods.sort_by(|a, b| b.counts.calls.cmp(&a.counts.calls).then(a.method.cmp(&b.method)));
        let mut clients: Vec<ClientUsage> = clients
            .into_iter()
            .map(|(name, (calls, users))| ClientUsage {
                name: name.map(str::to_owned),
                calls,
                users: users.len() as u64,
            })
            .collect();
        clients.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.name.cmp(&b.name)));
        let series = series
            .into_iter()
            .enumerate()
            .map(|(i, (counts, mut durations))| SeriesPoint {
                start: window.from + window.bucket * i as u32,
                counts,
                p95_ms: Latency::of(&mut durations).map(|l| l.p95_ms),
            })
            .collect();

        let mut recent_sessions: Vec<SessionUsage> = sessions.into_values().collect();
        for ((user, client), calls) in sessionless {
            recent_sessions.extend(derive_sessions(user, client, calls));
        }
        let session_count = recent_sessions.len() as u64;
        recent_sessions.sort_by(|a, b| b.last_call.cmp(&a.last_call).then(a.id.cmp(&b.id)));
        recent_sessions.truncate(SESSIONS_LISTED);

        Self {
            from: window.from,
            to: window.to,
            bucket_seconds: window.bucket.whole_seconds(),
            counts,
            error_rate: counts.error_rate(),
            latency: Latency::of(&mut all_durations),
            tool_calls,
            tool_latency: Latency::of(&mut tool_durations),
            active_users: users.len() as u64,
            sessions: session_count,
            recent_sessions,
            tools,
            methods,
            clients,
            series,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22 12:00 UTC.
    fn noon() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_348_800).unwrap()
    }

    fn call(at: OffsetDateTime, tool: &str, outcome: RequestOutcome, ms: i64) -> CallSample {
        CallSample {
            at_ns: nanos(at),
            method: "tools/call".into(),
            tool: Some(tool.into()),
            outcome,
            duration_ns: ms * 1_000_000,
            client: Some("cursor".into()),
            user: Some("u1".into()),
            session: Some("s1".into()),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_over_every_duration() {
        let mut durations: Vec<i64> = (1..=100).rev().map(|ms| ms * 1_000_000).collect();
        let latency = Latency::of(&mut durations).unwrap();
        assert_eq!((latency.p50_ms, latency.p95_ms, latency.p99_ms), (50.0, 95.0, 99.0));
        assert_eq!((latency.avg_ms, latency.max_ms), (50.5, 100.0));
        let mut one = vec![7_000_000];
        let latency = Latency::of(&mut one).unwrap();
        assert_eq!((latency.p50_ms, latency.p99_ms), (7.0, 7.0));
        assert_eq!(Latency::of(&mut []), None);
    }

    #[test]
    fn calls_without_a_session_id_make_sessions_per_user_and_client_cut_at_long_pauses() {
        let start = noon() - Duration::HOUR * 3;
        let window = Window::custom(start, noon()).unwrap();
        let sessionless = |at: OffsetDateTime, user: &str, client: &str| CallSample {
            session: None,
            user: Some(user.into()),
            client: Some(client.into()),
            ..call(at, "search", RequestOutcome::Ok, 1)
        };
        let samples = vec![
            sessionless(start, "ada", "cursor"),
            sessionless(start + Duration::minutes(29), "ada", "cursor"),
            // A 31-minute pause: a new session.
            sessionless(start + Duration::minutes(60), "ada", "cursor"),
            // Another client of hers, and another person: sessions of their own.
            sessionless(start + Duration::minutes(10), "ada", "claude-code"),
            sessionless(start + Duration::minutes(10), "bob", "cursor"),
            // Anonymous calls without a session make none.
            CallSample {
                user: None,
                session: None,
                ..call(start, "search", RequestOutcome::Ok, 1)
            },
            call(start, "search", RequestOutcome::Ok, 1),
        ];
        let overview = Overview::compute(window, &samples);
        assert_eq!(overview.sessions, 5, "s1 and four derived");
        let mut derived: Vec<(String, u64)> = overview
            .recent_sessions
            .iter()
            .filter(|s| s.derived)
            .map(|s| {
                (
                    format!("{}/{}", s.user.as_deref().unwrap(), s.client.as_deref().unwrap()),
                    s.counts.calls,
                )
            })
            .collect();
        derived.sort();
        let expected =
            [("ada/claude-code", 1), ("ada/cursor", 1), ("ada/cursor", 2), ("bob/cursor", 1)];
        assert_eq!(derived, expected.map(|(k, n)| (k.to_owned(), n)));
    }

    #[test]
    fn windows_pick_round_buckets() {
        let now = noon();
        assert_eq!(Window::last(RangePreset::Hour, now).bucket, Duration::minutes(1));
        assert_eq!(Window::last(RangePreset::Day, now).bucket, Duration::minutes(30));
        assert_eq!(Window::last(RangePreset::Week, now).bucket, Duration::hours(3));
        assert_eq!(Window::last(RangePreset::Month, now).bucket, Duration::hours(12));
        let long = Window::custom(now - Duration::days(300), now).unwrap();
        assert_eq!(long.bucket, Duration::days(5));
        assert!(Window::custom(now, now).is_err());
        assert!(Window::custom(now - Duration::days(401), now).is_err());
        assert!(RangePreset::parse("2h").is_err());
    }

    #[test]
    fn overview_splits_errors_and_ranks_tools() {
        let from = noon() - Duration::HOUR;
        let window = Window::last(RangePreset::Hour, from + Duration::HOUR);
        let mut samples = vec![
            call(from, "search", RequestOutcome::Ok, 10),
            call(from + Duration::minutes(5), "search", RequestOutcome::ToolError, 30),
            call(from + Duration::minutes(5), "search", RequestOutcome::Ok, 20),
            call(from + Duration::minutes(59), "fetch", RequestOutcome::ProtocolError, 5),
        ];
        samples.push(CallSample {
            method: "tools/list".into(),
            tool: None,
            client: None,
            user: Some("u2".into()),
            session: Some("s2".into()),
            ..call(from, "", RequestOutcome::Ok, 1)
        });
        let overview = Overview::compute(window, &samples);
        assert_eq!(overview.counts, Counts { calls: 5, protocol_errors: 1, tool_errors: 1 });
        assert_eq!(overview.tool_calls.calls, 4);
        assert_eq!(overview.error_rate, 0.4);
        assert_eq!((overview.active_users, overview.sessions), (2, 2));
        assert_eq!(overview.tools[0].name, "search");
        assert_eq!(overview.tools[0].counts.calls, 3);
        assert_eq!(overview.tools[0].latency.unwrap().p50_ms, 20.0);
        assert_eq!(overview.tools[1].counts.protocol_errors, 1);
        assert_eq!(overview.methods[0].method, "tools/call");
        assert_eq!(overview.clients[0].name.as_deref(), Some("cursor"));
        assert_eq!((overview.clients[0].calls, overview.clients[0].users), (4, 1));
        assert_eq!(overview.clients[1].name, None);
        assert_eq!(overview.series.len(), 60);
        assert_eq!(overview.series[0].counts.calls, 2);
        assert_eq!(
            overview.series[5].counts,
            Counts { calls: 2, protocol_errors: 0, tool_errors: 1 }
        );
        assert_eq!(overview.series[59].counts.protocol_errors, 1);
        assert_eq!(overview.tool_latency.unwrap().max_ms, 30.0);
    }
}
