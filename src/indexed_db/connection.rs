//! One store's connection and its ordered queue of operations.
//!
//! Every call becomes an [`Op`] when it is made and joins one queue per
//! connection. Operations start in queue order, each by creating its
//! transaction; IndexedDB runs transactions whose scopes overlap in the
//! order they were created, so every call takes effect in the order it was
//! made, whether or not its caller awaits it, and a read sees every write
//! called before it.
//!
//! - **Group commit.** Appends that follow each other in the queue go into
//!   one transaction; while such a batch is being written, newly queued
//!   appends wait for it and then go together in the next one. An append
//!   never moves past another kind of call.
//! - **Ownership.** Before a write starts, the store makes sure it holds
//!   the run's Web Lock (see [`super::locks`]); a run another live store
//!   owns is refused with `Conflict` and nothing is written.
//! - **A connection that comes back.** When another tab upgrades or deletes
//!   the database, or the browser closes the connection, the next operation
//!   reopens it first; an operation whose transaction could not even start
//!   on the lost connection is retried once on the new one.
//!
//! An operation that needs nothing asynchronous before its transaction (the
//! queue is empty, the connection open, the locks held) starts at once,
//! inside the call.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;

use crate::domain::{CouncilRunEvent, CouncilRunStatus, Prune, RepositoryError};

use super::feed::{Feed, Notice};
use super::locks::{Hold, Locks};
use super::ops;
use super::raw::{watch_db, Access, Db, Scope, Tx, TxHandle};
use super::schema;

/// A call waiting for its turn.
///
/// Its fields lie in declaration order (`repr(C)`): the reply first and then
/// the run id where there are, the events and records of `AppendAll` where
/// a [`Batch`] has them, so that a match that reads one of them across
/// variants reads it at one place.
#[repr(C)]
pub(crate) enum Op {
    CreateRun {
        reply: Reply<()>,
        run_id: String,
        record: JsValue,
        /// Events written with the run, in its transaction (an import).
        events: Vec<CouncilRunEvent>,
        event_records: Vec<Option<JsValue>>,
        /// Whether this store owns the run afterwards (not for an import).
        own: bool,
    },
    Change {
        reply: Reply<()>,
        run_id: String,
        change: Change,
    },
    /// One event; without a record, the store numbers it (`append_next`)
    /// and builds the record once the seq is known.
    Append {
        reply: AppendReply,
        event: CouncilRunEvent,
        record: Option<JsValue>,
    },
    /// Appends merged by the queue (see [`Connection::take_appends`]).
    Batch(Batch),
    AppendAll {
        events: Vec<CouncilRunEvent>,
        records: Vec<Option<JsValue>>,
        reply: Reply<()>,
    },
    Read {
        reply: Reply<JsValue>,
        read: Read,
    },
    MarkInterrupted {
        reply: Reply<u64>,
    },
    /// `pruneRuns`: answered with each run it picked and the answer of the
    /// deletion it queued for it (see [`ops::prune`]).
    Prune {
        reply: Reply<Deletions>,
        prune: Prune,
    },
    Truncate {
        reply: Reply<()>,
        run_id: String,
        wave: u32,
    },
    Claim {
        reply: Reply<bool>,
        run_id: String,
    },
    NextSeq {
        reply: Reply<i64>,
        run_id: String,
    },
    DeleteRun {
        reply: Reply<()>,
        run_id: String,
        /// Refuse (as a `Conflict`) when this store owns the run.
        spare_owned: bool,
    },
    Release {
        reply: Reply<()>,
        run_id: String,
    },
    Close,
}

/// The runs a prune picked, each with the answer of its deletion.
pub(crate) type Deletions = Vec<(String, Answer<()>)>;

/// Who waits for an append: `append_event` (no value) or `append_next`
/// (the seq the store gave the event).
pub(crate) enum AppendReply {
    Done(Reply<()>),
    Numbered(Reply<i64>),
}

impl AppendReply {
    pub(crate) fn put(&mut self, outcome: Result<i64, RepositoryError>) {
        match self {
            AppendReply::Done(reply) => reply.put(outcome.map(|_| ())),
            AppendReply::Numbered(reply) => reply.put(outcome),
        }
    }
}

/// What `Op::Change` does to a run (`repr(C)`: measured smaller).
#[repr(C)]
pub(crate) enum Change {
    Status(CouncilRunStatus),
    Graph(String),
}

/// The reads, each one request of one transaction. Fields in declaration
/// order (`repr(C)`): the run id, where there is one, at one place.
#[repr(C)]
pub(crate) enum Read {
    /// The run record, or `undefined`.
    Run(String),
    /// Run records, oldest first, optionally of one status.
    Runs(Option<CouncilRunStatus>),
    /// A run's event records in seq order.
    Events(String),
    /// At most `count` event records of a run from a seq on, in seq order.
    Page(String, i64, u32),
    /// `{run, events}`: the run record (or `undefined`) and its events from
    /// a seq on, read together for a watcher.
    Tail(String, i64),
}

/// The sending half of an operation's outcome. Dropped unsent (which only a
/// bug could do), it answers `Storage` rather than leave its caller waiting.
pub(crate) struct Reply<T>(Option<Rc<Slot<T>>>);

struct Slot<T> {
    value: RefCell<Option<Result<T, RepositoryError>>>,
    waker: RefCell<Option<Waker>>,
}

/// The caller's half: resolves to the outcome.
pub(crate) struct Answer<T>(Rc<Slot<T>>);

pub(crate) fn reply<T>() -> (Reply<T>, Answer<T>) {
    let slot = Rc::new(Slot {
        value: RefCell::new(None),
        waker: RefCell::new(None),
    });
    (Reply(Some(slot.clone())), Answer(slot))
}

impl<T> Reply<T> {
    pub(crate) fn send(mut self, outcome: Result<T, RepositoryError>) {
        self.put(outcome);
    }

    /// What `send` and `drop` share; the rest of either is not generic.
    pub(crate) fn put(&mut self, outcome: Result<T, RepositoryError>) {
        if let Some(slot) = self.0.take() {
            *slot.value.borrow_mut() = Some(outcome);
            wake(&slot.waker);
        }
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if self.0.is_some() {
            self.put(Err(dropped()));
        }
    }
}

/// Wakes the future whose waker `waker` keeps, if any.
fn wake(waker: &RefCell<Option<Waker>>) {
    let waker = waker.borrow_mut().take();
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Keeps `cx`'s waker in `waker`, for a future that is pending.
fn park(waker: &RefCell<Option<Waker>>, cx: &Context<'_>) {
    *waker.borrow_mut() = Some(cx.waker().clone());
}

/// What a `Reply` dropped unsent answers.
fn dropped() -> RepositoryError {
    RepositoryError::Storage("the operation was dropped before it finished".into())
}

impl<T> Future for Answer<T> {
    type Output = Result<T, RepositoryError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(outcome) = self.0.value.borrow_mut().take() {
            return Poll::Ready(outcome);
        }
        park(&self.0.waker, cx);
        Poll::Pending
    }
}

/// Append batches being written, and who waits for them to end.
#[derive(Default)]
pub(crate) struct Flight {
    batches: Cell<u32>,
    waker: RefCell<Option<Waker>>,
}

impl Flight {
    fn busy(&self) -> bool {
        self.batches.get() > 0
    }

    /// Marks one batch as taking off.
    pub(crate) fn begin(&self) {
        self.batches.set(self.batches.get() + 1);
    }

    /// Marks one batch as landed (committed or failed).
    pub(crate) fn landed(&self) {
        self.batches.set(self.batches.get().saturating_sub(1));
        wake(&self.waker);
    }
}

struct Idle<'a>(&'a Flight);

impl Future for Idle<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.busy() {
            park(&self.0.waker, cx);
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// What notices a connection going away: it gets the event, and is typed
/// as js-sys's task queue types its closure, so the two share one shim.
type OnLost = Closure<dyn FnMut(JsValue) -> Result<(), JsError>>;

/// The open database, if any, and the handler that notices it going away.
struct Open {
    db: Db,
    /// Which opening of the database this is (1, 2, ...).
    generation: u64,
    _on_lost: OnLost,
}

impl Drop for Open {
    fn drop(&mut self) {
        watch_db(&self.db, &JsValue::UNDEFINED);
    }
}

/// One store's connection, queue and locks.
pub(crate) struct Connection {
    pub(crate) name: String,
    /// `None` once another tab or the browser closed the connection.
    open: Rc<RefCell<Option<Open>>>,
    /// `close()` was called: every later call fails.
    closed: Cell<bool>,
    queue: RefCell<VecDeque<Queued>>,
    driving: Cell<bool>,
    /// Sequence number of the next call.
    next_seq: Cell<u64>,
    /// How many times the database was opened.
    generation: Cell<u64>,
    /// Transactions launched and not yet finished, with the call sequence
    /// number of each: a few, searched in line (a map is code of its own).
    launched: RefCell<Vec<(u64, TxHandle)>>,
    /// The queue, waiting for `launched` to empty before it reopens.
    drain_waker: RefCell<Option<Waker>>,
    pub(crate) flight: Flight,
    pub(crate) locks: Locks,
    pub(crate) feed: Feed,
}

/// A call in the queue: its place in call order, and whether it runs again
/// after its connection was lost.
pub(crate) struct Queued {
    seq: u64,
    retried: bool,
    op: Op,
}

/// What an operation's body needs to know to finish, or to run again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Launch {
    seq: u64,
    retried: bool,
    generation: u64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .field("open", &self.open.borrow().is_some())
            .field("closed", &self.closed.get())
            .field("queued", &self.queue.borrow().len())
            .finish()
    }
}

/// Takes `db` as the connection in `slot`, closing it (and emptying the
/// slot) when another tab upgrades or deletes the database or the browser
/// closes it.
fn install(slot: &Rc<RefCell<Option<Open>>>, db: Db, generation: u64) {
    let weak = Rc::downgrade(slot);
    let on_lost = OnLost::new(move |_event| {
        let Some(slot) = weak.upgrade() else {
            return Ok(());
        };
        let mut slot = slot.borrow_mut();
        // Only if it is still this connection (not a newer one).
        if slot
            .as_ref()
            .is_some_and(|open| open.generation == generation)
        {
            // Dropping `Open` closes the connection; the closure itself is
            // dropped later, outside its own call.
            let lost = slot.take();
            spawn(Box::pin(async move { drop(lost) }));
        }
        Ok(())
    });
    watch_db(&db, on_lost.as_ref());
    *slot.borrow_mut() = Some(Open {
        db,
        generation,
        _on_lost: on_lost,
    });
}

/// Polls `work` once now, so that it starts its transaction inside the
/// current call, and leaves the rest to the event loop. Boxed by the
/// caller, as a dyn future: one instance of this (and of `spawn_local`) for
/// every kind of work.
pub(crate) fn launch(mut work: Pin<Box<dyn Future<Output = ()>>>) {
    let mut cx = Context::from_waker(Waker::noop());
    if work.as_mut().poll(&mut cx).is_pending() {
        spawn(work);
    }
}

/// `spawn_local`, one instance of it for every kind of future (the rare
/// ones boxed twice).
fn spawn(work: Pin<Box<dyn Future<Output = ()>>>) {
    wasm_bindgen_futures::spawn_local(work);
}

fn closed_error(name: &str) -> RepositoryError {
    RepositoryError::Storage(format!(
        "InvalidStateError: the store of database \"{name}\" is closed"
    ))
}

pub(crate) fn conflict(run_id: &str) -> RepositoryError {
    RepositoryError::Conflict(format!(
        "run \"{run_id}\" is owned by another live store (another tab, worker or store \
         instance is executing it); reads are allowed, writes are not"
    ))
}

impl Connection {
    /// The connection to `name`, over `db` just opened ([`schema::open`]).
    pub(crate) fn new(name: &str, db: Db) -> Rc<Connection> {
        // For the imports that take it, as a JavaScript string.
        let js_name = JsValue::from_str(name);
        let conn = Rc::new(Connection {
            name: name.to_owned(),
            open: Rc::default(),
            closed: Cell::new(false),
            queue: RefCell::default(),
            driving: Cell::new(false),
            next_seq: Cell::new(0),
            generation: Cell::new(1),
            launched: RefCell::default(),
            drain_waker: RefCell::default(),
            flight: Flight::default(),
            feed: Feed::new(&js_name),
            locks: Locks::new(js_name),
        });
        install(&conn.open, db, 1);
        conn
    }

    fn db(&self) -> Option<Db> {
        self.open.borrow().as_ref().map(|open| open.db.clone())
    }

    /// The open database, when an operation submitted now would start its
    /// transaction at once (open, not closed, nothing queued): a transaction
    /// created on it now keeps the call order.
    pub(crate) fn idle_db(&self) -> Option<Db> {
        if self.closed.get() || !self.idle() {
            return None;
        }
        self.db()
    }

    /// Closes the connection once the calls made before have run; later
    /// calls fail with `Storage`. Owned runs are released.
    pub(crate) fn close(self: &Rc<Self>) {
        if self.closed.replace(true) {
            return;
        }
        // No watch of this store calls back after `close()`: a closed store
        // can read no more.
        self.feed.end_watches();
        // With nothing queued, close inside the call: a worker that closes
        // its store and is terminated at once must not leave the connection
        // open (WebKit then blocks other opens and deletes without a
        // `blocked` event).
        if self.idle() {
            return self.shut();
        }
        let seq = self.take_seq();
        self.enqueue(Queued {
            seq,
            retried: false,
            op: Op::Close,
        });
    }

    /// Gives up every owned run and closes the connection (running
    /// transactions still finish).
    fn shut(&self) {
        for (run_id, lock) in self.locks.disown_all() {
            // A run's lock is let go before its notice goes out.
            drop(lock);
            self.feed.post(&run_id, Notice::OWNER);
        }
        self.close_db();
    }

    /// Nothing queued, nothing being driven: a call made now goes first.
    fn idle(&self) -> bool {
        self.queue.borrow().is_empty() && !self.driving.get()
    }

    fn take_seq(&self) -> u64 {
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        seq
    }

    /// Closes the connection, if open (dropping `Open` closes it).
    fn close_db(&self) {
        self.open.borrow_mut().take();
    }

    /// Whether `generation` is the connection open now.
    fn is_current(&self, generation: u64) -> bool {
        self.open
            .borrow()
            .as_ref()
            .is_some_and(|open| open.generation == generation)
    }

    /// Gives up connection `generation` as lost (if it is still the open one).
    fn lose(&self, generation: u64) {
        let lost = {
            let mut open = self.open.borrow_mut();
            if open.as_ref().is_some_and(|o| o.generation == generation) {
                open.take()
            } else {
                None
            }
        };
        drop(lost);
    }

    /// Test hook: the browser drops the connection under the store, as
    /// WebKit does when its IndexedDB server goes away. With `noticed`, the
    /// transactions in flight abort and the store learns of the loss at once
    /// (a `close` event); without, the connection just stops working and the
    /// next transaction fails to start.
    pub(crate) fn lose_connection(&self, noticed: bool) {
        if noticed {
            for (_, tx) in self.launched.borrow().iter() {
                tx.abort();
            }
            // The store learns of the loss now; the connection itself closes
            // once the aborts have been delivered, as when the browser drops
            // it.
            let lost = self.open.borrow_mut().take();
            spawn(Box::pin(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(schema::sleep(20)).await;
                drop(lost);
            }));
        } else if let Some(db) = self.db() {
            db.close();
        }
    }

    /// An operation launched with `launch` has ended: its outcome is known,
    /// or it went back to the queue.
    pub(crate) fn settled(&self, launch: Launch) {
        let mut launched = self.launched.borrow_mut();
        let mut at = 0;
        while at < launched.len() {
            if launched[at].0 == launch.seq {
                launched.swap_remove(at);
                break;
            }
            at += 1;
        }
        let drained = launched.is_empty();
        drop(launched);
        if drained {
            wake(&self.drain_waker);
        }
    }

    /// Whether a failed operation runs again: once, when it failed because
    /// its connection was lost (the connection is gone, or the browser says
    /// `UnknownError` or `InvalidStateError`). A failed transaction wrote
    /// nothing, so running it again on a new connection is safe.
    pub(crate) fn should_retry<T>(
        &self,
        launch: Launch,
        outcome: &Result<T, RepositoryError>,
    ) -> bool {
        let Err(RepositoryError::Storage(message)) = outcome else {
            return false;
        };
        if launch.retried || self.closed.get() && self.open.borrow().is_none() {
            return false;
        }
        let lost = !self.is_current(launch.generation)
            // Split as bytes: a byte of a non-ASCII char is no ASCII
            // letter either, and there are no chars to decode.
            || message
                .as_bytes()
                .split(|b| !b.is_ascii_alphanumeric())
                .any(|word| word == b"UnknownError" || word == b"InvalidStateError");
        if lost {
            self.lose(launch.generation);
        }
        lost
    }

    /// Puts an operation whose connection was lost back in the queue, in
    /// its place in call order.
    pub(crate) fn retry(self: &Rc<Self>, launch: Launch, op: Op) {
        self.requeue(Queued {
            seq: launch.seq,
            retried: true,
            op,
        });
    }

    /// Puts `item` in the queue in its place in call order.
    fn requeue(self: &Rc<Self>, item: Queued) {
        {
            // In front, then past the calls made before it (other calls that
            // came back): less code than `VecDeque::insert`.
            let mut queue = self.queue.borrow_mut();
            let seq = item.seq;
            queue.push_front(item);
            let mut at = 1;
            while queue.get(at).is_some_and(|q| q.seq < seq) {
                queue.swap(at - 1, at);
                at += 1;
            }
        }
        self.run_queue();
    }

    /// Puts `ops` at the head of the queue, in their order, as calls made
    /// at `seq` (the deletions of the `pruneRuns` made then).
    pub(crate) fn queue_first(&self, seq: u64, ops: Vec<Op>) {
        let mut queue = self.queue.borrow_mut();
        for op in ops.into_iter().rev() {
            queue.push_front(Queued {
                seq,
                retried: false,
                op,
            });
        }
    }

    /// For a watcher: `{run, events}`, the run record (or `undefined`) and
    /// its event records from seq `from` on, read in one transaction.
    pub(crate) fn tail(self: &Rc<Self>, run_id: &str, from: i64) -> Answer<JsValue> {
        let (reply, answer) = reply();
        self.submit(Op::Read {
            read: Read::Tail(run_id.to_owned(), from),
            reply,
        });
        answer
    }

    /// Takes a call: starts it now if nothing is ahead of it, else queues it.
    pub(crate) fn submit(self: &Rc<Self>, op: Op) {
        if self.closed.get() {
            return fail(op, closed_error(&self.name));
        }
        let item = Queued {
            seq: self.take_seq(),
            retried: false,
            op,
        };
        if self.idle() {
            if let Some(item) = self.start_now(item) {
                self.enqueue(item);
            }
        } else {
            self.enqueue(item);
        }
    }

    fn enqueue(self: &Rc<Self>, item: Queued) {
        self.queue.borrow_mut().push_back(item);
        self.run_queue();
    }

    /// Starts the queue's driver, unless it is running.
    fn run_queue(self: &Rc<Self>) {
        if !self.driving.replace(true) {
            wasm_bindgen_futures::spawn_local(drive(self.clone()));
        }
    }

    /// Starts `op` within this call if it needs nothing asynchronous first;
    /// otherwise hands it back.
    fn start_now(self: &Rc<Self>, item: Queued) -> Option<Queued> {
        let Some(db) = self.db() else {
            return Some(item);
        };
        let Some(holds) = self.holds_now(&item.op) else {
            return Some(item);
        };
        match self.begin(&db, item, holds) {
            Ok(()) => None,
            // The connection went away under us: the queue reopens it.
            Err(item) => {
                self.close_db();
                Some(item)
            }
        }
    }

    /// The locks `op` needs, if this store holds them all already (or needs
    /// none); `None` when some must be asked for, or `op` must wait.
    fn holds_now(&self, op: &Op) -> Option<Vec<Hold>> {
        // One `vec!` for the operations on one run.
        let hold = match op {
            Op::Read { .. } | Op::NextSeq { .. } => return Some(Vec::new()),
            Op::Append { event, .. } if !self.flight.busy() => self.locks.current(&event.run_id)?,
            Op::Change { run_id, .. }
            | Op::Truncate { run_id, .. }
            | Op::DeleteRun { run_id, .. } => self.locks.current(run_id)?,
            Op::CreateRun { .. } if !self.locks.enabled() => Hold::Unsupported,
            Op::AppendAll { events, .. } => {
                let mut holds = Vec::with_capacity(events.len());
                for event in events {
                    holds.push(self.locks.current(&event.run_id)?);
                }
                return Some(holds);
            }
            _ => return None,
        };
        Some(vec![hold])
    }

    /// Creates `op`'s transaction and launches it. Gives the operation back
    /// when the transaction cannot start because the connection is lost.
    fn begin(self: &Rc<Self>, db: &Db, item: Queued, holds: Vec<Hold>) -> Result<(), Queued> {
        let (scope, access) = scope_of(&item.op);
        let tx = match Tx::start(db, scope, access) {
            Ok(tx) => tx,
            Err(failure) if failure.connection_lost() => return Err(item),
            Err(failure) => {
                fail(item.op, failure.into_error(&self.name));
                return Ok(());
            }
        };
        let launch = Launch {
            seq: item.seq,
            retried: item.retried,
            generation: self.generation.get(),
        };
        self.launched.borrow_mut().push((item.seq, tx.handle()));
        ops::launch_op(self.clone(), tx, launch, item.op, holds);
        Ok(())
    }

    /// Takes `db`, just opened again, as the connection.
    fn reopened(&self, db: Db) -> Db {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        install(&self.open, db.clone(), generation);
        db
    }

    /// The runs whose locks `op` needs before it may write. The queue takes
    /// them with one `hold_all` for every kind of operation: each place that
    /// awaits it would be code of its own in the queue's state machine.
    fn lock_ids(op: &Op) -> Vec<&str> {
        match op {
            Op::CreateRun { run_id, .. }
            | Op::Change { run_id, .. }
            | Op::Truncate { run_id, .. }
            | Op::DeleteRun { run_id, .. }
            | Op::Claim { run_id, .. } => vec![run_id],
            Op::Append { event, .. } => vec![&event.run_id],
            Op::Batch(Batch { events, .. }) | Op::AppendAll { events, .. } => {
                let mut ids = Vec::with_capacity(events.len());
                for event in events {
                    ids.push(event.run_id.as_str());
                }
                ids
            }
            _ => Vec::new(),
        }
    }

    /// Appends queued right behind the first one, merged into one batch.
    fn take_appends(&self, first: Op) -> Op {
        let more = |queue: &VecDeque<Queued>| {
            matches!(
                queue.front(),
                Some(Queued {
                    op: Op::Append { .. },
                    retried: false,
                    ..
                })
            )
        };
        let Op::Append {
            event,
            record,
            reply,
        } = first
        else {
            return first;
        };
        let mut batch = Batch::of(event, record, reply);
        let mut queue = self.queue.borrow_mut();
        while more(&queue) {
            if let Some(Queued {
                op:
                    Op::Append {
                        event,
                        record,
                        reply,
                    },
                ..
            }) = queue.pop_front()
            {
                batch.events.push(event);
                batch.records.push(record);
                batch.replies.push(reply);
            }
        }
        Op::Batch(batch)
    }
}

/// Consecutive single appends, written together. Its events and records
/// lie where `Op::AppendAll` has them (`repr(C)`).
#[repr(C)]
pub(crate) struct Batch {
    pub(crate) events: Vec<CouncilRunEvent>,
    pub(crate) records: Vec<Option<JsValue>>,
    pub(crate) replies: Vec<AppendReply>,
}

impl Batch {
    /// A batch of one append (the queue and `launch_op` make them).
    pub(crate) fn of(event: CouncilRunEvent, record: Option<JsValue>, reply: AppendReply) -> Batch {
        Batch {
            events: vec![event],
            records: vec![record],
            replies: vec![reply],
        }
    }
}

/// Answers `op` with `err` without running it. The replies are answered
/// in place and `op` dropped whole: less code than taking it apart.
pub(crate) fn fail(mut op: Op, err: RepositoryError) {
    match &mut op {
        Op::CreateRun { reply, .. }
        | Op::Change { reply, .. }
        | Op::AppendAll { reply, .. }
        | Op::Truncate { reply, .. }
        | Op::Release { reply, .. }
        | Op::DeleteRun { reply, .. } => reply.put(Err(err)),
        Op::Append { reply, .. } => reply.put(Err(err)),
        Op::NextSeq { reply, .. } => reply.put(Err(err)),
        Op::Batch(batch) => {
            for reply in &mut batch.replies {
                reply.put(Err(err.clone()));
            }
        }
        Op::Read { reply, .. } => reply.put(Err(err)),
        Op::MarkInterrupted { reply } => reply.put(Err(err)),
        Op::Prune { reply, .. } => reply.put(Err(err)),
        Op::Claim { reply, .. } => reply.put(Err(err)),
        Op::Close => {}
    }
}

/// An operation's stores and access. A status change, a rewind, a delete
/// and marking runs interrupted are flushed to disk before they resolve
/// (`durability: "strict"`): they are few, and losing one to an
/// operating-system crash would resume a finished run or bring back events
/// a rewind removed. Appends, graphs and new runs keep the engine's default,
/// which a crash of the browser cannot undo either.
fn scope_of(op: &Op) -> (Scope, Access) {
    match op {
        Op::Change {
            change: Change::Status(_),
            ..
        }
        | Op::MarkInterrupted { .. } => (Scope::Runs, Access::Durable),
        Op::Truncate { .. } | Op::DeleteRun { .. } => (Scope::Both, Access::Durable),
        Op::CreateRun { events, .. } if !events.is_empty() => (Scope::Both, Access::Write),
        Op::CreateRun { .. } | Op::Change { .. } => (Scope::Runs, Access::Write),
        Op::Append { .. } | Op::Batch(_) | Op::AppendAll { .. } => (Scope::Both, Access::Write),
        Op::NextSeq { .. } => (Scope::Both, Access::Read),
        Op::Read {
            read: Read::Events(_) | Read::Page(..),
            ..
        } => (Scope::Events, Access::Read),
        Op::Read {
            read: Read::Tail(..),
            ..
        } => (Scope::Both, Access::Read),
        Op::Read { .. } | Op::Prune { .. } | Op::Claim { .. } | Op::Release { .. } | Op::Close => {
            (Scope::Runs, Access::Read)
        }
    }
}

/// Waits until no launched operation is left.
struct Drained<'a>(&'a Connection);

impl Future for Drained<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.launched.borrow().is_empty() {
            Poll::Ready(())
        } else {
            park(&self.0.drain_waker, cx);
            Poll::Pending
        }
    }
}

/// Runs the queue until it is empty: starts each queued operation (or
/// batch), after whatever it waits for. (One async fn: a `step` awaited
/// here would be one more state machine.)
async fn drive(conn: Rc<Connection>) {
    'queue: loop {
        let next = conn.queue.borrow_mut().pop_front();
        let Some(Queued { seq, retried, op }) = next else {
            conn.driving.set(false);
            return;
        };
        let op = match op {
            Op::Close => {
                conn.shut();
                continue;
            }
            Op::Release { run_id, reply } => {
                if conn.locks.disown(&run_id) {
                    conn.feed.post(&run_id, Notice::OWNER);
                }
                reply.send(Ok(()));
                continue;
            }
            Op::Append { .. } if !retried => {
                // Let the batch in flight land, gathering what queues meanwhile.
                Idle(&conn.flight).await;
                conn.take_appends(op)
            }
            op => op,
        };
        let mut item = Queued { seq, retried, op };
        for attempt in 0..2 {
            // Make sure the connection is open. A lost one is reopened once
            // every operation launched on it has ended (or come back to the
            // queue), so that the queue goes on in call order.
            let db = match conn.db() {
                Some(db) => db,
                None => {
                    Drained(&conn).await;
                    match schema::open(&conn.name).await {
                        Ok(db) => conn.reopened(db),
                        Err(e) => {
                            fail(item.op, e);
                            continue 'queue;
                        }
                    }
                }
            };
            if let Op::MarkInterrupted { reply } = item.op {
                let marking: Pin<Box<dyn Future<Output = ()>>> =
                    Box::pin(ops::mark_interrupted(conn.clone(), db, reply));
                marking.await;
                continue 'queue;
            }
            // The queue waits until the prune's deletions are queued ahead
            // of every call made after it.
            if let Op::Prune { reply, prune } = item.op {
                let pruning: Pin<Box<dyn Future<Output = Option<Op>>>> = Box::pin(ops::prune(
                    conn.clone(),
                    db,
                    item.seq,
                    prune,
                    reply,
                    attempt == 0,
                ));
                match pruning.await {
                    None => continue 'queue,
                    // Its read could not start on the lost connection.
                    Some(back) => {
                        conn.close_db();
                        item.op = back;
                        continue;
                    }
                }
            }
            let ids = Connection::lock_ids(&item.op);
            let holds = conn.locks.hold_all(&ids).await;
            drop(ids);
            // While this waited, an earlier call may have come back to the
            // queue (its connection was lost): it goes first.
            if conn
                .queue
                .borrow()
                .front()
                .is_some_and(|q| q.seq < item.seq)
            {
                conn.requeue(item);
                continue 'queue;
            }
            match conn.begin(&db, item, holds) {
                Ok(()) => continue 'queue,
                Err(back) => {
                    // The connection was lost before the transaction started:
                    // nothing was written, so reopen and try once more.
                    conn.close_db();
                    item = back;
                    if attempt == 1 {
                        fail(
                            item.op,
                            RepositoryError::Storage(format!(
                                "InvalidStateError: the connection to database \"{}\" was lost twice",
                                conn.name
                            )),
                        );
                        continue 'queue;
                    }
                }
            }
        }
    }
}
