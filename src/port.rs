//! The persistence port of the council orchestrator.

use async_trait::async_trait;

use crate::domain::{
    CouncilRun, CouncilRunEvent, CouncilRunStatus, NextEvent, Prune, RepositoryError,
};

/// Where an orchestrator keeps its runs and their event logs.
///
/// The executor calls [`create_run`](Self::create_run) when a run starts,
/// [`update_run_status`](Self::update_run_status) on every state change,
/// [`update_graph`](Self::update_graph) after plan approval and after each
/// node, and [`append_event`](Self::append_event) for every event it emits
/// (best effort: a failed append is logged and the run goes on). On boot it
/// calls [`mark_interrupted_runs`](Self::mark_interrupted_runs); to rewind a
/// run to wave `W` it reads the log, calls
/// [`truncate_events_after_wave`](Self::truncate_events_after_wave), resets
/// the graph and sets the status back to `Running`.
///
/// Every method is atomic: when it returns an error, storage is as it was.
///
/// # Call order
///
/// The adapters of this crate apply calls in the order they are *made*:
/// the work is queued (or, in memory, done) when the method is called, and
/// the returned future only reports the outcome. So futures may be awaited
/// in any order, or joined, and a read sees every write called before it.
/// Dropping a future does not cancel its call.
///
/// # `Send` on wasm32
///
/// The bound is `Send + Sync + 'static` with `Send` futures on every target,
/// so one executor type serves native and browser builds. The IndexedDB
/// adapter holds browser handles that are not `Send`; it asserts `Send` only
/// on wasm32 builds without the `atomics` target feature, where there is
/// exactly one thread and the assertion cannot be wrong.
#[async_trait]
pub trait CouncilRepositoryPort: Send + Sync + 'static {
    /// Stores a new run.
    ///
    /// # Errors
    /// - [`AlreadyExists`](RepositoryError::AlreadyExists) when a run with
    ///   that id is stored (the stored run is unchanged), or another live
    ///   store owns that id.
    /// - [`Constraint`](RepositoryError::Constraint) for an empty id, a
    ///   `created_at` or `updated_at` that is not RFC 3339, or a
    ///   `conversation_id` outside ±(2^53 − 1).
    async fn create_run(&self, run: CouncilRun) -> Result<(), RepositoryError>;

    /// Sets the status of a stored run and moves its `updated_at` forward
    /// (strictly later than before, even within one clock tick).
    ///
    /// Setting `Running` makes the store the run's owner; `Completed`,
    /// `Failed` and `Interrupted` give it up (see [`RunOwnership`]).
    ///
    /// # Errors
    /// - [`NotFound`](RepositoryError::NotFound) when the run does not exist.
    /// - [`Conflict`](RepositoryError::Conflict) when another live store
    ///   owns the run.
    async fn update_run_status(
        &self,
        run_id: &str,
        status: CouncilRunStatus,
    ) -> Result<(), RepositoryError>;

    /// Replaces the serialised task graph of a stored run (kept as the string
    /// it is) and moves its `updated_at` forward.
    ///
    /// # Errors
    /// - [`NotFound`](RepositoryError::NotFound) when the run does not exist.
    /// - [`Conflict`](RepositoryError::Conflict) when another live store
    ///   owns the run.
    async fn update_graph(&self, run_id: &str, graph_json: &str) -> Result<(), RepositoryError>;

    /// Appends one event to its run's log.
    ///
    /// Appending an event whose `(run_id, seq)` is stored already is `Ok`
    /// and writes nothing when `event_json` and `wave_index` are the same (a
    /// safe retry).
    ///
    /// # Errors
    /// - [`NotFound`](RepositoryError::NotFound) when the run does not exist.
    /// - [`Constraint`](RepositoryError::Constraint) when `seq` is outside
    ///   0..=2^53 − 1, `created_at` is not RFC 3339, or the stored event with
    ///   that `seq` has different content (it stays as it was).
    /// - [`Conflict`](RepositoryError::Conflict) when another live store
    ///   owns the run.
    async fn append_event(&self, event: CouncilRunEvent) -> Result<(), RepositoryError>;

    /// Appends many events, possibly of several runs, all or nothing: each is
    /// checked by the rules of [`append_event`](Self::append_event) (also
    /// against the events before it in `events`), and if any fails nothing is
    /// written and the first failure is returned.
    ///
    /// The provided implementation appends one by one and is **not** atomic;
    /// both adapters of this crate override it with one transaction.
    async fn append_events(&self, events: Vec<CouncilRunEvent>) -> Result<(), RepositoryError> {
        for event in events {
            self.append_event(event).await?;
        }
        Ok(())
    }

    /// The run with that id, or `Ok(None)` when there is none.
    ///
    /// # Errors
    /// [`Serialization`](RepositoryError::Serialization) when the stored
    /// record cannot be decoded.
    async fn get_run(&self, run_id: &str) -> Result<Option<CouncilRun>, RepositoryError>;

    /// Runs, newest first by the instant of `created_at` (whatever RFC 3339
    /// form each was written in); runs created at the same instant come in
    /// descending `id` order. With a filter, only runs of that status.
    ///
    /// # Errors
    /// [`Serialization`](RepositoryError::Serialization) naming the first
    /// stored record that cannot be decoded.
    async fn list_runs(
        &self,
        status_filter: Option<CouncilRunStatus>,
    ) -> Result<Vec<CouncilRun>, RepositoryError>;

    /// The run's events in ascending `seq`; empty for an unknown run.
    ///
    /// # Errors
    /// [`Serialization`](RepositoryError::Serialization) naming the first
    /// stored event that cannot be decoded.
    async fn list_events(&self, run_id: &str) -> Result<Vec<CouncilRunEvent>, RepositoryError>;

    /// Turns every `Running` run into `Interrupted` and moves its
    /// `updated_at` forward; other runs are untouched. Returns how many
    /// runs changed. Called once at start-up, for runs whose process died.
    ///
    /// Runs that another live store owns are skipped: their executor is
    /// alive (see [`RunOwnership`]). Runs the calling store owns are marked
    /// and given up.
    async fn mark_interrupted_runs(&self) -> Result<u64, RepositoryError>;

    /// Deletes the run's events whose `wave_index` is strictly greater than
    /// `wave_index`; its other events and every other run's events stay.
    ///
    /// # Errors
    /// - [`NotFound`](RepositoryError::NotFound) when the run does not exist.
    /// - [`Conflict`](RepositoryError::Conflict) when another live store
    ///   owns the run.
    async fn truncate_events_after_wave(
        &self,
        run_id: &str,
        wave_index: u32,
    ) -> Result<(), RepositoryError>;
}

/// Which live store executes a run, when several share one database (tabs,
/// workers, store instances).
///
/// A store owns the runs it creates or sets back to
/// [`Running`](CouncilRunStatus::Running), until they reach `Completed`,
/// `Failed` or `Interrupted`, or the store closes, or its page or worker
/// goes away. Writes to a run another live store owns fail with
/// [`Conflict`](RepositoryError::Conflict); reads never do, and
/// [`mark_interrupted_runs`](CouncilRepositoryPort::mark_interrupted_runs)
/// leaves such runs alone, since their owner is alive. Where there is
/// nothing to share (the in-memory adapter, a browser without Web Locks)
/// every store may write every run and these methods say so.
#[async_trait]
pub trait RunOwnership: CouncilRepositoryPort {
    /// Makes this store the owner of a stored run: `Ok(true)` when it owns
    /// it now (or already did), `Ok(false)` when another live store does.
    ///
    /// # Errors
    /// [`NotFound`](RepositoryError::NotFound) when the run does not exist.
    async fn claim_run(&self, run_id: &str) -> Result<bool, RepositoryError>;

    /// Gives up ownership of the run (nothing if this store did not own
    /// it), so that another store may claim it.
    async fn release_run(&self, run_id: &str) -> Result<(), RepositoryError>;

    /// Ids of the runs another live store owns, sorted.
    async fn runs_owned_elsewhere(&self) -> Result<Vec<String>, RepositoryError>;
}

/// What a store adds beside the port for a run's log: it numbers events
/// itself, and deletes runs.
///
/// An executor that resumes or rewinds a run goes on with
/// [`append_next`](Self::append_next) and never computes a seq: the SQLite
/// original restarted its counter at 0 and silently lost every new event
/// below the old maximum.
#[async_trait]
pub trait RunLog: CouncilRepositoryPort {
    /// The seq after the last stored event of the run (0 for an empty log),
    /// read from the last key, not from the log.
    ///
    /// # Errors
    /// [`NotFound`](RepositoryError::NotFound) when the run does not exist.
    async fn next_seq(&self, run_id: &str) -> Result<i64, RepositoryError>;

    /// Appends `event` with the seq after the last one of its run, assigned
    /// in the transaction that writes it, and returns that seq. Calls not
    /// awaited get consecutive seqs in call order (and share transactions
    /// with the appends around them). After
    /// [`truncate_events_after_wave`](CouncilRepositoryPort::truncate_events_after_wave)
    /// numbering goes on after the last kept event.
    ///
    /// # Errors
    /// As [`append_event`](CouncilRepositoryPort::append_event): `NotFound`,
    /// `Constraint` for a bad `created_at` or an oversized `event_json`,
    /// `Conflict`.
    async fn append_next(&self, event: NextEvent) -> Result<i64, RepositoryError>;

    /// Stores a run that does not exist yet together with its events, in one
    /// transaction, all or nothing: what an import writes. The events are
    /// checked as by `append_events`; unlike `create_run`, the store does
    /// not own the run afterwards.
    ///
    /// # Errors
    /// - [`AlreadyExists`](RepositoryError::AlreadyExists) when the run exists.
    /// - [`Constraint`](RepositoryError::Constraint) for a bad run, a bad
    ///   event, an event of another run or two different events at one seq.
    async fn import_run(
        &self,
        run: CouncilRun,
        events: Vec<CouncilRunEvent>,
    ) -> Result<(), RepositoryError>;

    /// At most `limit` events of the run with `seq >= from_seq`, in `seq`
    /// order (empty for an unknown run): a long log read a page at a time,
    /// each page in one transaction.
    ///
    /// # Errors
    /// [`Serialization`](RepositoryError::Serialization) naming the first
    /// stored event that cannot be decoded.
    async fn list_events_page(
        &self,
        run_id: &str,
        from_seq: i64,
        limit: u32,
    ) -> Result<Vec<CouncilRunEvent>, RepositoryError>;

    /// Deletes the run and all its events, in one transaction.
    ///
    /// # Errors
    /// - [`NotFound`](RepositoryError::NotFound) when the run does not exist.
    /// - [`Conflict`](RepositoryError::Conflict) when another live store
    ///   owns the run.
    async fn delete_run(&self, run_id: &str) -> Result<(), RepositoryError>;

    /// Deletes the runs `prune` selects with their events, each run in one
    /// transaction, and returns their ids. A run that a live store owns
    /// (another tab or worker, or this store itself) is never deleted.
    ///
    /// # Errors
    /// [`Constraint`](RepositoryError::Constraint) for an empty policy or a
    /// bad `older_than`; a storage failure of a deletion (the runs deleted
    /// before it stay deleted).
    async fn prune_runs(&self, prune: &Prune) -> Result<Vec<String>, RepositoryError>;
}
