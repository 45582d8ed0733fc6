//! Walkthrough analytics, computed from progress events (the original product planned these and
//! never built them, `reference/seeds.md`): starts, completions, completion rate, median time to
//! complete, a funnel of how far people got, the flow of step transitions for a Sankey
//! diagram, and completions per day.
//!
//! An *attempt* is one way through: it begins with `started` or `restarted` and ends with
//! `completed`, the next restart, or nothing more — dropped off once idle for longer than the
//! abandon window, still in progress before that.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};

use super::{EventKind, ProgressEvent, WalkthroughStep};
use crate::ids::{EndUserId, WalkthroughStepId};

/// How long an unfinished attempt may sit idle before it counts as dropped off.
pub const ABANDON_AFTER: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    /// Attempts begun: first starts and restarts.
    pub starts: u64,
    pub restarts: u64,
    /// People who started at least once.
    pub users: u64,
    pub completions: u64,
    /// Of the attempts begun in the range, the share finished in it, 0 to 1; null without
    /// starts. (`completions` also counts attempts begun before the range.)
    pub completion_rate: Option<f64>,
    /// Of attempts begun and finished in the range.
    pub median_seconds_to_complete: Option<i64>,
    pub funnel: Vec<FunnelStep>,
    pub flow: Flow,
    pub completions_by_day: Vec<DayCount>,
}

/// How many people got how far: `reached` had every earlier step done (so were shown this one),
/// `completed` did it, `dropped_off` stopped here for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelStep {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub step_id: WalkthroughStepId,
    pub title: String,
    pub reached: u64,
    pub completed: u64,
    pub dropped_off: u64,
}

/// Step transitions as a Sankey diagram's nodes and links (always acyclic: links only go
/// forward in display order, from an entry to an exit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flow {
    pub nodes: Vec<String>,
    pub links: Vec<FlowLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowLink {
    pub source: String,
    pub target: String,
    pub value: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub count: u64,
}

pub const START: &str = "Start";
pub const RESTART: &str = "Restart";
pub const COMPLETED: &str = "Completed";
pub const RESTARTED: &str = "Restarted";
pub const DROPPED_OFF: &str = "Dropped off";
pub const IN_PROGRESS: &str = "In progress";

/// The Sankey node of the step at `position` (from 0).
pub fn step_node(position: usize, step: &WalkthroughStep) -> String {
    format!("{}. {}", position + 1, step.title)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Completed,
    Restarted,
    DroppedOff,
    InProgress,
}

#[derive(Debug)]
struct Attempt {
    /// When it began, if that is in the range.
    began: Option<(OffsetDateTime, bool)>,
    /// Positions of the steps completed, in the order they were.
    completed: Vec<usize>,
    finished_at: Option<OffsetDateTime>,
    last_at: OffsetDateTime,
    exit: Exit,
}

/// The report of `events` (any order), against the walkthrough's `steps` as they are now (in
/// display order). Completions of steps deleted since are left out of the funnel and flow.
pub fn report(events: &[ProgressEvent], steps: &[WalkthroughStep], now: OffsetDateTime) -> Report {
    let position: HashMap<WalkthroughStepId, usize> =
        steps.iter().enumerate().map(|(i, step)| (step.id, i)).collect();
    let mut by_user: BTreeMap<EndUserId, Vec<&ProgressEvent>> = BTreeMap::new();
    for event in events {
        by_user.entry(event.end_user_id).or_default().push(event);
    }
    let mut report = Report {
        starts: 0,
        restarts: 0,
        users: 0,
        completions: 0,
        completion_rate: None,
        median_seconds_to_complete: None,
        funnel: Vec::new(),
        flow: Flow::default(),
        completions_by_day: Vec::new(),
    };
    let mut durations = Vec::new();
    // Attempts both begun and finished in the range: the rate's numerator, so that the rate
    // stays within 0 to 1 when attempts begun earlier finish in the range.
    let mut finished_starts = 0u64;
    let mut by_day: BTreeMap<Date, u64> = BTreeMap::new();
    let mut best_prefix: Vec<usize> = Vec::new();
    let mut dropped_at: Vec<usize> = Vec::new();
    let mut completed_counts = vec![0u64; steps.len()];
    let mut links: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (_, mut timeline) in by_user {
        timeline.sort_by_key(|event| (event.at, event.id));
        let attempts = attempts(&timeline, &position, now);
        if timeline.iter().any(|e| matches!(e.kind, EventKind::Started | EventKind::Restarted)) {
            report.users += 1;
        }
        let mut user_best = 0;
        let mut user_done: Vec<bool> = vec![false; steps.len()];
        for attempt in &attempts {
            if let Some((began, restart)) = attempt.began {
                if restart {
                    report.restarts += 1;
                }
                report.starts += 1;
                if let Some(finished) = attempt.finished_at {
                    durations.push((finished - began).whole_seconds());
                    finished_starts += 1;
                }
            }
            if let Some(finished) = attempt.finished_at {
                report.completions += 1;
                *by_day.entry(finished.date()).or_default() += 1;
            }
            let mut done = vec![false; steps.len()];
            for &p in &attempt.completed {
                done[p] = true;
                user_done[p] = true;
            }
            let prefix = done.iter().take_while(|d| **d).count();
            user_best = user_best.max(prefix);
            flow_links(attempt, steps, &mut links);
        }
        for (p, done) in user_done.iter().enumerate() {
            if *done {
                completed_counts[p] += 1;
            }
        }
        best_prefix.push(user_best);
        if let Some(last) = attempts.last()
            && last.exit == Exit::DroppedOff
            && user_best < steps.len()
            && attempts.iter().all(|a| a.exit != Exit::Completed)
        {
            dropped_at.push(user_best);
        }
    }
    report.completion_rate =
        (report.starts > 0).then(|| finished_starts as f64 / report.starts as f64);
    report.median_seconds_to_complete = median(&mut durations);
    report.funnel = steps
        .iter()
        .enumerate()
        .map(|(i, step)| FunnelStep {
            step_id: step.id,
            title: step.title.clone(),
            reached: best_prefix.iter().filter(|p| **p >= i).count() as u64,
            completed: completed_counts[i],
            dropped_off: dropped_at.iter().filter(|p| **p == i).count() as u64,
        })
        .collect();
    report.flow = flow(steps, links);
    report.completions_by_day =
        by_day.into_iter().map(|(day, count)| DayCount { day: day.to_string(), count }).collect();
    report
}

/// Splits one person's events (in time order) into attempts.
fn attempts(
    timeline: &[&ProgressEvent],
    position: &HashMap<WalkthroughStepId, usize>,
    now: OffsetDateTime,
) -> Vec<Attempt> {
    let mut attempts: Vec<Attempt> = Vec::new();
    for event in timeline {
        let begins = matches!(event.kind, EventKind::Started | EventKind::Restarted);
        let open =
            attempts.last().is_some_and(|a| a.finished_at.is_none() && a.exit != Exit::Restarted);
        if begins || !open {
            if let Some(last) = attempts.last_mut()
                && last.finished_at.is_none()
                && event.kind == EventKind::Restarted
            {
                last.exit = Exit::Restarted;
            }
            attempts.push(Attempt {
                // An attempt whose beginning is before the range has none.
                began: begins.then_some((event.at, event.kind == EventKind::Restarted)),
                completed: Vec::new(),
                finished_at: None,
                last_at: event.at,
                exit: Exit::InProgress,
            });
        }
        let Some(attempt) = attempts.last_mut() else { continue };
        attempt.last_at = event.at;
        match event.kind {
            EventKind::StepCompleted => {
                if let Some(p) = event.step_id.and_then(|step| position.get(&step))
                    && !attempt.completed.contains(p)
                {
                    attempt.completed.push(*p);
                }
            }
            EventKind::Completed => {
                attempt.finished_at = Some(event.at);
                attempt.exit = Exit::Completed;
            }
            EventKind::Started | EventKind::Restarted => {}
        }
    }
    for attempt in &mut attempts {
        if attempt.exit == Exit::InProgress && now - attempt.last_at > ABANDON_AFTER {
            attempt.exit = Exit::DroppedOff;
        }
    }
    attempts
}

/// An attempt's path: its entry, each step completed further along than the last, its exit.
fn flow_links(
    attempt: &Attempt,
    steps: &[WalkthroughStep],
    links: &mut BTreeMap<(String, String), u64>,
) {
    let entry = match attempt.began {
        Some((_, true)) => RESTART,
        _ => START,
    };
    let mut from = entry.to_owned();
    let mut furthest: Option<usize> = None;
    for &p in &attempt.completed {
        if furthest.is_some_and(|f| p <= f) {
            continue;
        }
        let node = step_node(p, &steps[p]);
        *links.entry((from, node.clone())).or_default() += 1;
        from = node;
        furthest = Some(p);
    }
    let exit = match attempt.exit {
        Exit::Completed => COMPLETED,
        Exit::Restarted => RESTARTED,
        Exit::DroppedOff => DROPPED_OFF,
        Exit::InProgress => IN_PROGRESS,
    };
    *links.entry((from, exit.to_owned())).or_default() += 1;
}

/// Nodes in a stable order (entries, steps, exits), only those a link touches.
fn flow(steps: &[WalkthroughStep], links: BTreeMap<(String, String), u64>) -> Flow {
    let all = [START.to_owned(), RESTART.to_owned()]
        .into_iter()
        .chain(steps.iter().enumerate().map(|(i, step)| step_node(i, step)))
        .chain([COMPLETED, RESTARTED, DROPPED_OFF, IN_PROGRESS].map(str::to_owned));
    let nodes = all.filter(|node| links.keys().any(|(s, t)| s == node || t == node)).collect();
    let links = links
        .into_iter()
        .map(|((source, target), value)| FlowLink { source, target, value })
        .collect();
    Flow { nodes, links }
}

fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{McpServerId, OrgId, WalkthroughEventId, WalkthroughId};
    use crate::walkthrough::tests::step;

    struct Log {
        events: Vec<ProgressEvent>,
        start: OffsetDateTime,
    }

    impl Log {
        fn new() -> Self {
            Self { events: Vec::new(), start: OffsetDateTime::UNIX_EPOCH + Duration::days(100) }
        }

        fn at(
            &mut self,
            user: EndUserId,
            minutes: i64,
            kind: EventKind,
            step: Option<&WalkthroughStep>,
        ) {
            self.events.push(ProgressEvent {
                id: WalkthroughEventId::new(),
                organization_id: OrgId::from_uuid(uuid::Uuid::nil()),
                walkthrough_id: WalkthroughId::from_uuid(uuid::Uuid::nil()),
                end_user_id: user,
                mcp_server_id: McpServerId::from_uuid(uuid::Uuid::nil()),
                session_id: None,
                kind,
                step_id: step.map(|s| s.id),
                at: self.start + Duration::minutes(minutes),
            });
        }
    }

    fn link(flow: &Flow, source: &str, target: &str) -> u64 {
        flow.links.iter().find(|l| l.source == source && l.target == target).map_or(0, |l| l.value)
    }

    #[test]
    fn funnel_flow_and_times_follow_each_attempt() {
        let steps: Vec<_> = (0..3).map(step).collect();
        let (ada, bob, cy) = (EndUserId::new(), EndUserId::new(), EndUserId::new());
        let mut log = Log::new();
        // Ada finishes in 30 minutes.
        log.at(ada, 0, EventKind::Started, None);
        log.at(ada, 10, EventKind::StepCompleted, Some(&steps[0]));
        log.at(ada, 20, EventKind::StepCompleted, Some(&steps[1]));
        log.at(ada, 30, EventKind::StepCompleted, Some(&steps[2]));
        log.at(ada, 30, EventKind::Completed, None);
        // Bob does one step, restarts, and then stops after another, long ago.
        log.at(bob, 0, EventKind::Started, None);
        log.at(bob, 5, EventKind::StepCompleted, Some(&steps[0]));
        log.at(bob, 6, EventKind::Restarted, None);
        log.at(bob, 7, EventKind::StepCompleted, Some(&steps[0]));
        // Cy started a moment ago and is still on the first step.
        let now = log.start + ABANDON_AFTER + Duration::days(1);
        let cy_minutes = (now - log.start).whole_minutes() - 5;
        log.at(cy, cy_minutes, EventKind::Started, None);

        let report = report(&log.events, &steps, now);
        assert_eq!(
            (report.users, report.starts, report.restarts, report.completions),
            (3, 4, 1, 1)
        );
        assert_eq!(report.completion_rate, Some(0.25));
        assert_eq!(report.median_seconds_to_complete, Some(30 * 60));
        let funnel: Vec<_> =
            report.funnel.iter().map(|s| (s.reached, s.completed, s.dropped_off)).collect();
        // Everyone reached step 1; Ada and Bob did it; Bob dropped off at step 2.
        assert_eq!(funnel, [(3, 2, 0), (2, 1, 1), (1, 1, 0)]);
        let flow = &report.flow;
        assert_eq!(link(flow, START, "1. Step 0"), 2);
        assert_eq!(link(flow, "1. Step 0", "2. Step 1"), 1);
        assert_eq!(link(flow, "3. Step 2", COMPLETED), 1);
        assert_eq!(link(flow, "1. Step 0", RESTARTED), 1);
        assert_eq!(link(flow, RESTART, "1. Step 0"), 1);
        assert_eq!(link(flow, "1. Step 0", DROPPED_OFF), 1);
        assert_eq!(link(flow, START, IN_PROGRESS), 1);
        assert_eq!(flow.nodes.first().map(String::as_str), Some(START));
        assert_eq!(report.completions_by_day.len(), 1);
        assert_eq!(report.completions_by_day[0].count, 1);
    }

    #[test]
    fn the_flow_never_loops_back_and_ignores_deleted_steps() {
        let steps: Vec<_> = (0..3).map(step).collect();
        let gone = step(9);
        let user = EndUserId::new();
        let mut log = Log::new();
        log.at(user, 0, EventKind::Started, None);
        log.at(user, 1, EventKind::StepCompleted, Some(&steps[2]));
        log.at(user, 2, EventKind::StepCompleted, Some(&steps[0]));
        log.at(user, 3, EventKind::StepCompleted, Some(&gone));
        let report = report(&log.events, &steps, log.start + Duration::minutes(4));
        assert_eq!(link(&report.flow, START, "3. Step 2"), 1);
        assert_eq!(link(&report.flow, "3. Step 2", IN_PROGRESS), 1);
        assert!(report.flow.links.iter().all(|l| l.target != "1. Step 0"));
        // Step 1 done, step 2 not: reached steps 1 and 2, completed 1 and 3.
        let funnel: Vec<_> = report.funnel.iter().map(|s| (s.reached, s.completed)).collect();
        assert_eq!(funnel, [(1, 1), (1, 0), (0, 1)]);
    }

    #[test]
    fn events_from_before_the_range_count_without_a_start() {
        let steps: Vec<_> = (0..1).map(step).collect();
        let user = EndUserId::new();
        let mut log = Log::new();
        log.at(user, 0, EventKind::StepCompleted, Some(&steps[0]));
        log.at(user, 0, EventKind::Completed, None);
        let report = report(&log.events, &steps, log.start);
        assert_eq!((report.starts, report.completions, report.users), (0, 1, 0));
        assert_eq!(report.completion_rate, None);
        assert_eq!(report.median_seconds_to_complete, None);
    }

    #[test]
    fn the_completion_rate_never_passes_one() {
        // One attempt begun before the range finishes in it; another begins and finishes.
        let steps: Vec<_> = (0..1).map(step).collect();
        let (ada, bob) = (EndUserId::new(), EndUserId::new());
        let mut log = Log::new();
        log.at(ada, 0, EventKind::StepCompleted, Some(&steps[0]));
        log.at(ada, 0, EventKind::Completed, None);
        log.at(bob, 1, EventKind::Started, None);
        log.at(bob, 2, EventKind::StepCompleted, Some(&steps[0]));
        log.at(bob, 2, EventKind::Completed, None);
        let report = report(&log.events, &steps, log.start + Duration::minutes(3));
        assert_eq!((report.starts, report.completions), (1, 2));
        assert_eq!(report.completion_rate, Some(1.0));
    }
}
