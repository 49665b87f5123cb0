//! The IndexedDB adapter.
//!
//! # Layout (schema version [`SCHEMA_VERSION`])
//!
//! | store | key | indexes |
//! |---|---|---|
//! | `runs` | `id` | `by_created` on `[createdKey, id]`; `by_status` on `[status, createdKey, id]` |
//! | `events` | `[runId, seq]` | `by_wave` on `[runId, waveIndex]` |
//!
//! `createdKey` is the instant of `createdAt` as a fixed-width string, so the
//! indexes give newest-first order by time whatever RFC 3339 form was stored.
//!
//! # Modules
//!
//! - `schema`: opening, upgrading and checking the layout; deleting.
//! - `raw`: the transaction and request layer (drop-safe requests,
//!   transactions that abort unless committed).
//! - `connection`: the ordered queue of operations, group commit, reopening.
//! - `ops`: the operations, one transaction each.
//! - `locks`: which live store owns a run (Web Locks).
//! - `codec`: records as stored, and their checks.

mod codec;
mod connection;
mod feed;
mod locks;
mod ops;
mod raw;
mod schema;
mod send;
mod watch;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::domain::{
    check_event, check_graph, check_import, check_new_run, CouncilRun, CouncilRunEvent,
    CouncilRunStatus, NextEvent, Prune, RepositoryError,
};
use crate::port::{CouncilRepositoryPort, RunLog, RunOwnership};

pub(crate) use self::codec::{check_event_records, check_run_records, decode_event, decode_run};
pub(crate) use self::codec::{event_record, event_record_of, run_object};
use self::codec::{run_record, with_names};
use self::connection::{reply, Answer, AppendReply, Change, Connection, Op, Read};
use self::raw::Db;
pub use self::schema::SCHEMA_VERSION;
use self::send::SingleThreaded;
pub(crate) use self::watch::{watch_events_js, watch_runs_js};
pub use self::watch::{RunChange, RunFeed, Watch};

/// [`CouncilRepositoryPort`] over the browser's IndexedDB (wasm32 only).
///
/// Works in windows and in workers. Each instance holds one connection.
///
/// - **Call order.** Every call takes effect in the order it was *made*,
///   whether or not its future is awaited: the work is queued when the
///   method is called, and the future only reports the outcome (dropping it
///   does not cancel the call). Consecutive appends share one transaction.
/// - **Ownership.** The instance owns the runs it creates or sets back to
///   `Running`, until they reach a final status or it closes; writes to a
///   run another live store owns fail with
///   [`Conflict`](RepositoryError::Conflict). See [`RunOwnership`].
/// - **Reconnection.** When another tab upgrades or deletes the database,
///   the connection closes and the next call opens it again.
///
/// ```no_run
/// # async fn demo() -> Result<(), council_idb::RepositoryError> {
/// use council_idb::{CouncilRepositoryPort, CouncilRun, HitlMode, IndexedDbCouncilRepository};
///
/// let repo = IndexedDbCouncilRepository::open("my-app-runs").await?;
/// let run = CouncilRun::new("Draft the release notes", HitlMode::None);
/// repo.create_run(run.clone()).await?;
/// assert_eq!(repo.get_run(&run.id).await?, Some(run));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct IndexedDbCouncilRepository {
    conn: SingleThreaded<Rc<Connection>>,
}

/// What the port's methods return.
type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RepositoryError>> + Send + 'a>>;

fn boxed<'a, T: 'a>(
    future: impl Future<Output = Result<T, RepositoryError>> + 'a,
) -> PortFuture<'a, T> {
    Box::pin(SingleThreaded(future))
}

/// An answer that is already known.
fn settled<T>(outcome: Result<T, RepositoryError>) -> Answer<T> {
    let (reply, answer) = reply();
    reply.send(outcome);
    answer
}

/// Records read already, as a queued read answers them (for the binding's
/// check of what a quick read found).
pub(crate) fn answered(records: JsValue) -> Answer<JsValue> {
    settled(Ok(records))
}

impl IndexedDbCouncilRepository {
    /// Opens (creating or upgrading as needed) the database `db_name`.
    ///
    /// # Errors
    /// [`Storage`](RepositoryError::Storage) naming the DOMException when
    /// IndexedDB is unavailable, the open is blocked by another connection,
    /// the database has a newer version or a layout this crate did not make
    /// (the message says what differs), or the upgrade fails.
    pub async fn open(db_name: &str) -> Result<Self, RepositoryError> {
        // The open awaited here, not in a `Connection::open` of its own: one
        // state machine less.
        let db = schema::open(db_name).await?;
        Ok(IndexedDbCouncilRepository {
            conn: SingleThreaded(Connection::new(db_name, db)),
        })
    }

    /// The database name this repository was opened with.
    pub fn name(&self) -> &str {
        &self.conn.name
    }

    /// What this store's watchers listen with (its feed as glue.js made
    /// it): they end when the store closes.
    pub(crate) fn feed_js(&self) -> JsValue {
        self.conn.feed.js().clone()
    }

    /// Closes the connection once the calls made before it have run, and
    /// gives up the runs this instance owns. Its watches end at once: no
    /// callback of theirs runs after this. Later calls fail with a
    /// [`Storage`](RepositoryError::Storage) error (`InvalidStateError`);
    /// open the database again to go on.
    pub fn close(&self) {
        self.conn.close();
    }

    /// Deletes the database `db_name` and everything in it.
    ///
    /// # Errors
    /// [`Storage`](RepositoryError::Storage) when IndexedDB is unavailable or
    /// another connection that does not close keeps the database open.
    pub async fn delete_database(db_name: &str) -> Result<(), RepositoryError> {
        schema::delete(db_name).await
    }

    /// Test hook, not part of the API: makes the browser lose this store's
    /// connection, as WebKit does when its IndexedDB server goes away. With
    /// `noticed`, transactions in flight abort and the loss is signalled at
    /// once; without, the connection silently stops working.
    #[doc(hidden)]
    pub fn simulate_lost_connection(&self, noticed: bool) {
        self.conn.lose_connection(noticed);
    }

    /// Queues the operation `make` builds; its answer resolves when it is done.
    fn call<T>(&self, make: impl FnOnce(connection::Reply<T>) -> Op) -> Answer<T> {
        let (reply, answer) = reply();
        self.conn.submit(make(reply));
        answer
    }

    /// Starts `read` now, in a read transaction of its own made within this
    /// call (so it follows every transaction made before, as a queued read
    /// would), and returns a promise of the checked records as the
    /// JavaScript API hands them out. `None` when the store cannot start it
    /// at once (closed, reopening, or calls queued ahead): use the queued
    /// read. Any failure of the quick read (a request error, a malformed
    /// record) settles the promise with `slow(shape, arg)`, the queued read
    /// of the same, which retries on a lost connection and names what is
    /// wrong.
    pub(crate) fn read_now(&self, read: &QuickRead, slow: &Function) -> Option<Promise> {
        let db = self.conn.idle_db()?;
        // glue.js picks the store, index and key range from the shape.
        let (shape, arg) = match read {
            QuickRead::Run(id) => (QuickRead::RUN, Some(*id)),
            QuickRead::Runs(status) => (QuickRead::RUNS, status.map(CouncilRunStatus::as_str)),
            QuickRead::Events(id) => (QuickRead::EVENTS, Some(*id)),
        };
        let promise =
            with_names(|statuses, modes| read_now_js(&db, shape, arg, statuses, modes, slow));
        if promise.is_undefined() {
            return None;
        }
        Some(promise.unchecked_into())
    }

    /// The stored run record, or `undefined`.
    pub(crate) fn run_record_raw(&self, run_id: &str) -> Answer<JsValue> {
        let run_id = run_id.to_owned();
        self.call(|reply| Op::Read {
            read: Read::Run(run_id),
            reply,
        })
    }

    /// The stored run records, oldest first (as the index holds them), as
    /// an array. (The answer itself, as `run_record_raw`'s: one type for the
    /// binding to await, and no async block of its own.)
    pub(crate) fn run_records(&self, status_filter: Option<CouncilRunStatus>) -> Answer<JsValue> {
        self.call(|reply| Op::Read {
            read: Read::Runs(status_filter),
            reply,
        })
    }

    /// For a watcher: `{run, events}`, the run record (or `undefined`) and
    /// its event records from seq `from` on, read in one transaction.
    pub(crate) fn tail(&self, run_id: &str, from: i64) -> Answer<JsValue> {
        self.conn.tail(run_id, from)
    }

    /// The run's stored event records, in seq order, as the array
    /// IndexedDB returned (the answer itself, as `run_records`).
    pub(crate) fn event_records(&self, run_id: &str) -> Answer<JsValue> {
        let run_id = run_id.to_owned();
        self.call(|reply| Op::Read {
            read: Read::Events(run_id),
            reply,
        })
    }

    /// `append_event` with the event's stored record made already (by the
    /// JavaScript binding, from the caller's own strings).
    pub(crate) fn append_record(&self, event: CouncilRunEvent, record: JsValue) -> Answer<()> {
        if let Err(e) = check_event(&event) {
            return settled(Err(e));
        }
        self.append_checked(event, record)
    }

    /// Queues one append, checked, whose record is made: for
    /// `append_record` and `append_event` alike.
    fn append_checked(&self, event: CouncilRunEvent, record: JsValue) -> Answer<()> {
        self.call(|reply| Op::Append {
            event,
            record: Some(record),
            reply: AppendReply::Done(reply),
        })
    }

    /// `append_events` with the events' stored records made already.
    pub(crate) fn append_records(
        &self,
        events: Vec<CouncilRunEvent>,
        records: Vec<JsValue>,
    ) -> Answer<()> {
        // Loops rather than iterator chains, which are code of their own.
        for event in &events {
            if let Err(e) = check_event(event) {
                return settled(Err(e));
            }
        }
        let mut wrapped = Vec::with_capacity(records.len());
        for record in records {
            wrapped.push(Some(record));
        }
        self.call(|reply| Op::AppendAll {
            events,
            records: wrapped,
            reply,
        })
    }

    /// Queues the creation of `run`, checked, with `events` (an import's:
    /// none for `create_run`, which owns the run afterwards), checked
    /// after it. One body for both.
    fn create(&self, run: CouncilRun, events: Vec<CouncilRunEvent>, own: bool) -> Answer<()> {
        let checked = check_new_run(&run)
            .and_then(|created| run_record(&run, created))
            .and_then(|record| {
                let mut event_records = Vec::with_capacity(events.len());
                for event in &events {
                    check_event(event)?;
                    event_records.push(Some(event_record(event)?));
                }
                Ok((record, event_records))
            });
        match checked {
            Err(e) => settled(Err(e)),
            Ok((record, event_records)) => self.call(|reply| Op::CreateRun {
                run_id: run.id,
                record,
                events,
                event_records,
                own,
                reply,
            }),
        }
    }

    fn append_all(&self, events: Vec<CouncilRunEvent>) -> Answer<()> {
        let mut records = Vec::with_capacity(events.len());
        for event in &events {
            match event_record(event) {
                Ok(record) => records.push(record),
                Err(e) => return settled(Err(e)),
            }
        }
        self.append_records(events, records)
    }
}

/// A read of one request, for [`IndexedDbCouncilRepository::read_now`] (and
/// the JavaScript binding's queued reads of the same).
pub(crate) enum QuickRead<'a> {
    /// `getRun`: the run or `undefined`.
    Run(&'a str),
    /// `listRuns`: newest first, maybe of one status.
    Runs(Option<CouncilRunStatus>),
    /// `listEvents`: the run's events in seq order.
    Events(&'a str),
}

impl QuickRead<'_> {
    /// The `shape` that `glue.js`'s `readNow` and `slow(shape, arg)` are
    /// told, one per variant.
    pub(crate) const RUN: u32 = 0;
    pub(crate) const RUNS: u32 = 1;
    pub(crate) const EVENTS: u32 = 2;
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = readNow)]
    fn read_now_js(
        db: &Db,
        shape: u32,
        arg: Option<&str>,
        statuses: &Array,
        modes: &Array,
        slow: &Function,
    ) -> JsValue;
}

/// Dropping the repository closes it as [`close`](IndexedDbCouncilRepository::close)
/// does: the calls made before still run.
impl Drop for IndexedDbCouncilRepository {
    fn drop(&mut self) {
        self.conn.close();
    }
}

impl CouncilRepositoryPort for IndexedDbCouncilRepository {
    fn create_run<'life0, 'async_trait>(
        &'life0 self,
        run: CouncilRun,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        boxed(self.create(run, Vec::new(), true))
    }

    fn update_run_status<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
        status: CouncilRunStatus,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let run_id = run_id.to_owned();
        boxed(self.call(|reply| Op::Change {
            run_id,
            change: Change::Status(status),
            reply,
        }))
    }

    fn update_graph<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
        graph_json: &'life2 str,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        if let Err(e) = check_graph(run_id, graph_json) {
            return boxed(settled(Err(e)));
        }
        let run_id = run_id.to_owned();
        let change = Change::Graph(graph_json.to_owned());
        boxed(self.call(|reply| Op::Change {
            run_id,
            change,
            reply,
        }))
    }

    fn append_event<'life0, 'async_trait>(
        &'life0 self,
        event: CouncilRunEvent,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let record = check_event(&event).and_then(|()| event_record(&event));
        boxed(match record {
            Err(e) => settled(Err(e)),
            Ok(record) => self.append_checked(event, record),
        })
    }

    fn append_events<'life0, 'async_trait>(
        &'life0 self,
        events: Vec<CouncilRunEvent>,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        boxed(self.append_all(events))
    }

    fn get_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, Option<CouncilRun>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let answer = self.run_record_raw(run_id);
        boxed(async move {
            let record = answer.await?;
            if record.is_undefined() {
                return Ok(None);
            }
            decode_run(&record).map(Some)
        })
    }

    fn list_runs<'life0, 'async_trait>(
        &'life0 self,
        status_filter: Option<CouncilRunStatus>,
    ) -> PortFuture<'async_trait, Vec<CouncilRun>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let answer = self.run_records(status_filter);
        boxed(async move { decode_runs(answer.await?.unchecked_ref()) })
    }

    fn list_events<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, Vec<CouncilRunEvent>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let answer = self.event_records(run_id);
        boxed(async move { decode_events(answer.await?.unchecked_ref()) })
    }

    fn mark_interrupted_runs<'life0, 'async_trait>(&'life0 self) -> PortFuture<'async_trait, u64>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        boxed(self.call(|reply| Op::MarkInterrupted { reply }))
    }

    fn truncate_events_after_wave<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
        wave_index: u32,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let run_id = run_id.to_owned();
        boxed(self.call(|reply| Op::Truncate {
            run_id,
            wave: wave_index,
            reply,
        }))
    }
}

impl RunOwnership for IndexedDbCouncilRepository {
    fn claim_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let run_id = run_id.to_owned();
        boxed(self.call(|reply| Op::Claim { run_id, reply }))
    }

    fn release_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let run_id = run_id.to_owned();
        boxed(self.call(|reply| Op::Release { run_id, reply }))
    }

    fn runs_owned_elsewhere<'life0, 'async_trait>(
        &'life0 self,
    ) -> PortFuture<'async_trait, Vec<String>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        boxed(self.conn.locks.owned_elsewhere())
    }
}

impl RunLog for IndexedDbCouncilRepository {
    fn next_seq<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, i64>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let run_id = run_id.to_owned();
        boxed(self.call(|reply| Op::NextSeq { run_id, reply }))
    }

    fn append_next<'life0, 'async_trait>(
        &'life0 self,
        event: NextEvent,
    ) -> PortFuture<'async_trait, i64>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let event = event.numbered(0);
        // The seq is not known yet: check the rest with a seq that passes.
        if let Err(e) = check_event(&event) {
            return boxed(settled(Err(e)));
        }
        boxed(self.call(|reply| Op::Append {
            event,
            record: None,
            reply: AppendReply::Numbered(reply),
        }))
    }

    fn delete_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let run_id = run_id.to_owned();
        boxed(self.call(|reply| Op::DeleteRun {
            run_id,
            spare_owned: false,
            reply,
        }))
    }

    fn import_run<'life0, 'async_trait>(
        &'life0 self,
        run: CouncilRun,
        events: Vec<CouncilRunEvent>,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        boxed(match check_import(&run, &events) {
            Err(e) => settled(Err(e)),
            Ok(()) => self.create(run, events, false),
        })
    }

    fn list_events_page<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
        from_seq: i64,
        limit: u32,
    ) -> PortFuture<'async_trait, Vec<CouncilRunEvent>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let answer = self.call(|reply| Op::Read {
            read: Read::Page(run_id.to_owned(), from_seq, limit),
            reply,
        });
        boxed(async move { decode_events(answer.await?.unchecked_ref()) })
    }

    fn prune_runs<'life0, 'life1, 'async_trait>(
        &'life0 self,
        prune: &'life1 Prune,
    ) -> PortFuture<'async_trait, Vec<String>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let prune = prune.clone();
        let answer = self.call(|reply| Op::Prune { reply, prune });
        boxed(async move {
            // The deletions, queued by the queue in the place of this call
            // (see `ops::prune`); each spares a run that is owned when its
            // turn comes.
            let mut deletions = answer.await?;
            let mut deleted = Vec::new();
            let mut failure = None;
            // Walked by reference: no iterator that owns the rest kept
            // across the awaits.
            for (run, answer) in &mut deletions {
                match answer.await {
                    Ok(()) => deleted.push(std::mem::take(run)),
                    Err(RepositoryError::Conflict(_) | RepositoryError::NotFound(_)) => {}
                    Err(e) => failure = failure.or(Some(e)),
                }
            }
            failure.map_or(Ok(deleted), Err)
        })
    }
}

/// Run records decoded, newest first: the index is oldest first, so this
/// walks it backwards.
pub(crate) fn decode_runs(records: &Array) -> Result<Vec<CouncilRun>, RepositoryError> {
    let mut runs = Vec::with_capacity(records.length() as usize);
    for i in (0..records.length()).rev() {
        runs.push(decode_run(&records.get(i))?);
    }
    Ok(runs)
}

/// Event records decoded, in their order. A loop rather than a `collect`
/// of `Result`s, which is code of its own per closure that calls it.
pub(crate) fn decode_events(records: &Array) -> Result<Vec<CouncilRunEvent>, RepositoryError> {
    let count = records.length();
    let mut events = Vec::with_capacity(count as usize);
    for i in 0..count {
        events.push(decode_event(&records.get(i))?);
    }
    Ok(events)
}
