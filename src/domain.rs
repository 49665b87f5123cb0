//! Domain types of the council run repository. No I/O and nothing of the
//! browser here: these are the values the port speaks in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::{now_rfc3339, Instant};

/// Lifecycle status of a council run.
///
/// ```text
/// Running ─────────────────────────────► Completed
///   ├─ (approval gate) ─► AwaitingApproval ─(approved)─► Running
///   └─ (error) ─► Failed
/// Running ─(process or tab killed)─► Interrupted   (mark_interrupted_runs on boot)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouncilRunStatus {
    /// The executor is working on the run.
    Running,
    /// Paused at a human approval gate.
    AwaitingApproval,
    /// Was running when its process or tab died.
    Interrupted,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
}

impl CouncilRunStatus {
    /// Every status, in declaration order.
    pub const ALL: [CouncilRunStatus; 5] = [
        CouncilRunStatus::Running,
        CouncilRunStatus::AwaitingApproval,
        CouncilRunStatus::Interrupted,
        CouncilRunStatus::Completed,
        CouncilRunStatus::Failed,
    ];

    /// The snake_case name used in storage and in JavaScript (`"awaiting_approval"`).
    pub fn as_str(self) -> &'static str {
        match self {
            CouncilRunStatus::Running => "running",
            CouncilRunStatus::AwaitingApproval => "awaiting_approval",
            CouncilRunStatus::Interrupted => "interrupted",
            CouncilRunStatus::Completed => "completed",
            CouncilRunStatus::Failed => "failed",
        }
    }

    /// The inverse of [`as_str`](Self::as_str); `None` for any other string
    /// (never a default).
    pub fn parse(text: &str) -> Option<Self> {
        let i = position(text, &Self::name_at)?;
        Self::ALL.get(i).copied()
    }

    /// The name of the `i`th of [`ALL`](Self::ALL), if any: one function for
    /// the look-up and for the names in an error.
    pub(crate) fn name_at(i: usize) -> Option<&'static str> {
        Self::ALL.get(i).map(|s| s.as_str())
    }
}

impl fmt::Display for CouncilRunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Human-in-the-loop mode of a run, from least to most restrictive.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum HitlMode {
    /// No approvals.
    #[default]
    None,
    /// The plan needs approval before any node runs.
    ApprovePlan,
    /// Every node needs approval.
    ApproveEachNode,
    /// Every tool call needs approval.
    ApproveTools,
}

impl HitlMode {
    /// Every mode, least restrictive first.
    pub const ALL: [HitlMode; 4] = [
        HitlMode::None,
        HitlMode::ApprovePlan,
        HitlMode::ApproveEachNode,
        HitlMode::ApproveTools,
    ];

    /// The snake_case name used in storage and in JavaScript (`"approve_plan"`).
    pub fn as_str(self) -> &'static str {
        match self {
            HitlMode::None => "none",
            HitlMode::ApprovePlan => "approve_plan",
            HitlMode::ApproveEachNode => "approve_each_node",
            HitlMode::ApproveTools => "approve_tools",
        }
    }

    /// The inverse of [`as_str`](Self::as_str); `None` for any other string.
    pub fn parse(text: &str) -> Option<Self> {
        let i = position(text, &Self::name_at)?;
        Self::ALL.get(i).copied()
    }

    /// As [`CouncilRunStatus::name_at`].
    pub(crate) fn name_at(i: usize) -> Option<&'static str> {
        Self::ALL.get(i).map(|m| m.as_str())
    }
}

impl fmt::Display for HitlMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where `text` is among the names `name(0)`, `name(1)`...: one loop for
/// the statuses and the modes.
fn position(text: &str, name: &dyn Fn(usize) -> Option<&'static str>) -> Option<usize> {
    let mut i = 0;
    while let Some(name) = name(i) {
        if name == text {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// One orchestrator run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouncilRun {
    /// UUID v4 made by the caller before [`create_run`](crate::CouncilRepositoryPort::create_run).
    pub id: String,
    /// The user's goal.
    pub goal: String,
    /// Latest serialised task graph, stored as given and never parsed.
    pub graph_json: Option<String>,
    /// Lifecycle status.
    pub status: CouncilRunStatus,
    /// Human-in-the-loop mode.
    pub hitl_mode: HitlMode,
    /// Optional link to a chat session; within ±(2^53 − 1) so a JavaScript
    /// number holds it exactly.
    pub conversation_id: Option<i64>,
    /// RFC 3339 creation time, in any offset and precision.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

impl CouncilRun {
    /// A new `Running` run with a random UUID v4 id and both timestamps now.
    ///
    /// ```
    /// use council_idb::{CouncilRun, CouncilRunStatus, HitlMode};
    ///
    /// let run = CouncilRun::new("Write a haiku", HitlMode::ApprovePlan);
    /// assert_eq!(run.status, CouncilRunStatus::Running);
    /// assert_eq!(run.id.len(), 36);
    /// ```
    pub fn new(goal: impl Into<String>, hitl_mode: HitlMode) -> Self {
        let now = now_rfc3339();
        CouncilRun {
            id: uuid::Uuid::new_v4().to_string(),
            goal: goal.into(),
            graph_json: None,
            status: CouncilRunStatus::Running,
            hitl_mode,
            conversation_id: None,
            created_at: now.clone(),
            updated_at: now,
        }
    }
}

/// One entry of a run's append-only event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouncilRunEvent {
    /// The run the event belongs to.
    pub run_id: String,
    /// 0-based position in the run's log, in 0..=2^53 − 1.
    pub seq: i64,
    /// One serialised orchestrator event, stored and returned as given.
    pub event_json: String,
    /// RFC 3339 time the event was emitted.
    pub created_at: String,
    /// 0-based wave at which the event was emitted.
    pub wave_index: u32,
}

impl CouncilRunEvent {
    /// An event stamped now.
    pub fn new(
        run_id: impl Into<String>,
        seq: i64,
        wave_index: u32,
        event_json: impl Into<String>,
    ) -> Self {
        CouncilRunEvent {
            run_id: run_id.into(),
            seq,
            event_json: event_json.into(),
            created_at: now_rfc3339(),
            wave_index,
        }
    }
}

/// An event for the store to number: [`RunLog::append_next`](crate::RunLog::append_next)
/// gives it the seq after the last one of its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextEvent {
    /// The run the event belongs to.
    pub run_id: String,
    /// 0-based wave at which the event was emitted.
    pub wave_index: u32,
    /// One serialised orchestrator event, stored and returned as given.
    pub event_json: String,
    /// RFC 3339 time the event was emitted.
    pub created_at: String,
}

/// Which runs [`RunLog::prune_runs`](crate::RunLog::prune_runs) deletes: a
/// run goes when it meets every criterion given. At least one must be given
/// (an empty policy is refused rather than read as "everything").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prune {
    /// Keep the newest `n` runs (by the instant of `created_at`), whatever
    /// the other criteria say.
    pub keep_latest: Option<usize>,
    /// Only runs created before this instant (RFC 3339).
    pub older_than: Option<String>,
    /// Only runs with one of these statuses.
    pub statuses: Option<Vec<CouncilRunStatus>>,
}

impl Prune {
    /// The runs of `runs` (newest first, as `list_runs` gives them) that the
    /// policy deletes, before ownership is considered.
    ///
    /// # Errors
    /// [`Constraint`](RepositoryError::Constraint) for an empty policy or an
    /// `older_than` that is not RFC 3339.
    pub fn select<'a>(
        &self,
        runs: &'a [CouncilRun],
    ) -> Result<Vec<&'a CouncilRun>, RepositoryError> {
        if self.keep_latest.is_none() && self.older_than.is_none() && self.statuses.is_none() {
            return Err(RepositoryError::Constraint(
                "pruneRuns needs keepLatest, olderThan or statuses; refusing to delete every run"
                    .into(),
            ));
        }
        let before = match &self.older_than {
            None => None,
            Some(text) => Some(Instant::parse(text).ok_or_else(|| {
                RepositoryError::Constraint(format!("olderThan \"{text}\" is not an RFC 3339 time"))
            })?),
        };
        let kept = self.keep_latest.unwrap_or(0);
        let statuses = self.statuses.as_deref();
        // A plain index loop: the iterator chain it replaces (skip, filter,
        // collect) compiled to twice the code, and `skip` alone to more.
        let mut chosen = Vec::new();
        let mut i = kept;
        while let Some(run) = runs.get(i) {
            if statuses.is_none_or(|s| s.contains(&run.status))
                && before.is_none_or(|before| {
                    Instant::parse(&run.created_at).is_some_and(|at| at < before)
                })
            {
                chosen.push(run);
            }
            i += 1;
        }
        Ok(chosen)
    }
}

impl NextEvent {
    /// An event stamped now.
    pub fn new(run_id: impl Into<String>, wave_index: u32, event_json: impl Into<String>) -> Self {
        NextEvent {
            run_id: run_id.into(),
            wave_index,
            event_json: event_json.into(),
            created_at: now_rfc3339(),
        }
    }

    /// The event with `seq`.
    pub(crate) fn numbered(self, seq: i64) -> CouncilRunEvent {
        CouncilRunEvent {
            run_id: self.run_id,
            seq,
            event_json: self.event_json,
            created_at: self.created_at,
            wave_index: self.wave_index,
        }
    }
}

/// Why a repository call failed.
///
/// Each variant carries a message naming the run, event or field concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryError {
    /// The run (or record) does not exist.
    NotFound(String),
    /// A run with that id exists already.
    AlreadyExists(String),
    /// The storage failed: IndexedDB missing, quota exceeded, open blocked,
    /// transaction aborted. When a DOMException caused it, the message names
    /// it as `<DOMException name>: <browser's message>`, and
    /// [`dom_name`](RepositoryError::dom_name) reads the name back.
    Storage(String),
    /// A stored record could not be decoded, or a value could not be encoded.
    Serialization(String),
    /// The input breaks a rule of the contract (bad id, `seq` out of range,
    /// conflicting event...).
    Constraint(String),
    /// The run is owned by another live store (another tab, worker or store
    /// instance is executing it): writes to it are refused, reads are not.
    Conflict(String),
}

impl RepositoryError {
    /// The variant's name: `"NotFound"`, `"AlreadyExists"`, `"Storage"`,
    /// `"Serialization"`, `"Constraint"` or `"Conflict"`.
    pub fn kind(&self) -> &'static str {
        match self {
            RepositoryError::NotFound(_) => "NotFound",
            RepositoryError::AlreadyExists(_) => "AlreadyExists",
            RepositoryError::Storage(_) => "Storage",
            RepositoryError::Serialization(_) => "Serialization",
            RepositoryError::Constraint(_) => "Constraint",
            RepositoryError::Conflict(_) => "Conflict",
        }
    }

    /// The message without the kind.
    pub fn message(&self) -> &str {
        match self {
            RepositoryError::NotFound(m)
            | RepositoryError::AlreadyExists(m)
            | RepositoryError::Storage(m)
            | RepositoryError::Serialization(m)
            | RepositoryError::Constraint(m)
            | RepositoryError::Conflict(m) => m,
        }
    }
}

impl RepositoryError {
    /// The name of the DOMException behind a [`Storage`](Self::Storage)
    /// error (`"QuotaExceededError"`, `"AbortError"`, `"InvalidStateError"`...),
    /// if a DOMException caused it.
    pub fn dom_name(&self) -> Option<&str> {
        let RepositoryError::Storage(message) = self else {
            return None;
        };
        // Split at ':' and trim, not at ": ": a string pattern brings a
        // substring searcher (~2 KB of wasm) that nothing else needs. The
        // JavaScript binding finds the name the same way in JavaScript
        // (`councilStoreError` in src/glue.js): change both together.
        message
            .split(':')
            .map(|part| part.trim_start_matches(' '))
            .find(|part| is_dom_name(part))
    }
}

/// Whether `text` has the form of a DOMException name: `QuotaExceededError`.
fn is_dom_name(text: &str) -> bool {
    text.len() > 5
        && text.ends_with("Error")
        && text.starts_with(|c: char| c.is_ascii_uppercase())
        && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl fmt::Display for RepositoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for RepositoryError {}

/// The largest integer a JavaScript number holds exactly, 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Size limits, in UTF-8 bytes, past which a write is a
/// [`Constraint`](RepositoryError::Constraint) error. They keep one runaway
/// value from filling the origin's quota or the wasm heap.
pub mod limits {
    /// A run id (UUIDs take 36).
    pub const ID_BYTES: usize = 256;
    /// A run's goal.
    pub const GOAL_BYTES: usize = 1 << 20;
    /// A serialised task graph, and one serialised event.
    pub const JSON_BYTES: usize = 16 << 20;
}

/// `what` names the value as format arguments, formatted only when the
/// check fails: these checks run for every event written, and a `format!`
/// each would cost more than the check. (Arguments rather than a closure
/// also keep this one function, not one per caller.)
fn check_size(what: fmt::Arguments<'_>, value: &str, max: usize) -> Result<(), RepositoryError> {
    if value.len() > max {
        return Err(RepositoryError::Constraint(format!(
            "{what} is {} bytes, more than the limit of {max}",
            value.len()
        )));
    }
    Ok(())
}

/// The rule for a graph given to `update_graph`.
pub(crate) fn check_graph(run_id: &str, graph_json: &str) -> Result<(), RepositoryError> {
    check_size(
        format_args!("graph_json of run \"{run_id}\""),
        graph_json,
        limits::JSON_BYTES,
    )
}

/// The rules every adapter applies before it writes a run.
pub(crate) fn check_new_run(run: &CouncilRun) -> Result<Instant, RepositoryError> {
    if run.id.is_empty() {
        return Err(RepositoryError::Constraint(
            "run id must not be empty".into(),
        ));
    }
    check_size(format_args!("run id"), &run.id, limits::ID_BYTES)?;
    check_size(
        format_args!("goal of run \"{}\"", run.id),
        &run.goal,
        limits::GOAL_BYTES,
    )?;
    if let Some(graph) = &run.graph_json {
        check_graph(&run.id, graph)?;
    }
    if let Some(c) = run.conversation_id {
        if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&c) {
            return Err(RepositoryError::Constraint(format!(
                "run {}: conversation_id {c} is outside ±(2^53 − 1)",
                run.id
            )));
        }
    }
    if Instant::parse(&run.updated_at).is_none() {
        return Err(RepositoryError::Constraint(format!(
            "run {}: updated_at \"{}\" is not an RFC 3339 timestamp",
            run.id, run.updated_at
        )));
    }
    Instant::parse(&run.created_at).ok_or_else(|| {
        RepositoryError::Constraint(format!(
            "run {}: created_at \"{}\" is not an RFC 3339 timestamp",
            run.id, run.created_at
        ))
    })
}

/// The rules every adapter applies to an event before it looks at storage.
pub(crate) fn check_event(event: &CouncilRunEvent) -> Result<(), RepositoryError> {
    check_size(
        format_args!(
            "event_json of event {} of run \"{}\"",
            event.seq, event.run_id
        ),
        &event.event_json,
        limits::JSON_BYTES,
    )?;
    if !(0..=MAX_SAFE_INTEGER).contains(&event.seq) {
        return Err(RepositoryError::Constraint(format!(
            "event seq {} of run {} is outside 0..=2^53 − 1",
            event.seq, event.run_id
        )));
    }
    if Instant::parse(&event.created_at).is_none() {
        return Err(RepositoryError::Constraint(format!(
            "event {} of run {}: created_at \"{}\" is not an RFC 3339 timestamp",
            event.seq, event.run_id, event.created_at
        )));
    }
    Ok(())
}

/// Whether `incoming` repeats the stored `existing` event (same run and seq):
/// `Ok` for a faithful retry, `Constraint` when the content differs.
pub(crate) fn check_duplicate(
    existing: &CouncilRunEvent,
    incoming: &CouncilRunEvent,
) -> Result<(), RepositoryError> {
    if existing.event_json == incoming.event_json && existing.wave_index == incoming.wave_index {
        Ok(())
    } else {
        Err(RepositoryError::Constraint(format!(
            "run {} already has an event with seq {} and different content \
             (a rewound executor must continue after the last surviving seq)",
            incoming.run_id, incoming.seq
        )))
    }
}

/// Every event of an import belongs to its run.
pub(crate) fn check_import(
    run: &CouncilRun,
    events: &[CouncilRunEvent],
) -> Result<(), RepositoryError> {
    match events.iter().find(|e| e.run_id != run.id) {
        Some(e) => Err(RepositoryError::Constraint(format!(
            "an event of run \"{}\" among the events of run \"{}\"",
            e.run_id, run.id
        ))),
        None => Ok(()),
    }
}

pub(crate) fn run_not_found(run_id: &str) -> RepositoryError {
    RepositoryError::NotFound(format!("run \"{run_id}\" does not exist"))
}
