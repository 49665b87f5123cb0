//! The operations, each one transaction.
//!
//! Every body below receives its transaction already started (in queue
//! order, by [`super::connection`]) and issues its first requests before its
//! first `await`: [`launch`] polls it once inside the call, so the requests
//! are made while the transaction is active. Inside a transaction nothing
//! but its own requests is awaited: a promise of glue.js's `opBody`, which
//! makes the requests of the plainer bodies (see [`in_glue`]), or of its
//! `appendReads` (the reads of [`write_events`]) counts as one, as it
//! settles from a request's handler and the microtasks that follow run
//! while the transaction is still active. An early return drops
//! the `Tx`, which aborts it: nothing is half-written.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::domain::{
    check_duplicate, check_event, check_new_run, run_not_found, CouncilRunEvent, CouncilRunStatus,
    Prune, RepositoryError,
};
use crate::time::timestamp_after;
use crate::vec_map::sort_unique;

use super::codec::{check_run_records, decode_run, event_record, run_record, with_keys};
use super::connection::{
    conflict, fail, launch, reply, Batch, Change, Connection, Deletions, Launch, Op, Read, Reply,
};
use super::decode_runs;
use super::feed::Notice;
use super::locks::Hold;
use super::raw::{error_name, write_record, Access, Db, Scope, Tx};

/// A status after which nobody executes the run any more.
fn is_final(status: CouncilRunStatus) -> bool {
    matches!(
        status,
        CouncilRunStatus::Completed | CouncilRunStatus::Failed | CouncilRunStatus::Interrupted
    )
}

/// What an operation's body gives back, before it goes to the caller.
enum Outcome {
    /// A seq (`nextSeq`), the next free seq after a rewind, or for a
    /// claim, whether it took the run (0) or not (-1). An operation with
    /// no value to give (a change, a delete) gives 0, unread.
    Seq(i64),
    Value(JsValue),
    /// Per event of a batch (or of a new run), its seq or why it was
    /// refused.
    Verdicts(Vec<Result<i64, RepositoryError>>),
}

/// What an operation knew when it launched, for its end.
struct Start {
    holds: Vec<Hold>,
    /// The store owned the run before (ownership moved at launch).
    was_owned: bool,
}

/// Launches `op` in `tx`, with the locks the queue took for it. When the
/// transaction fails because the connection was lost, the operation goes
/// back to the queue once (see [`Connection::should_retry`]).
///
/// Every operation goes through the same three steps: [`begin`] (inside
/// the call: refuse it, or move ownership so that calls queued behind see
/// it), its body (its transaction, in the async block below rather than an
/// async fn of its own: one state machine less) and [`end`] (notices,
/// ownership put back after a failure); then the outcome is retried or
/// answered.
pub(crate) fn launch_op(conn: Rc<Connection>, tx: Tx, launch: Launch, op: Op, holds: Vec<Hold>) {
    // A single append is a batch of one.
    let op = match op {
        Op::Append {
            event,
            record,
            reply,
        } => Op::Batch(Batch::of(event, record, reply)),
        op => op,
    };
    let start = match begin(&conn, &op, holds) {
        Ok(start) => start,
        Err(refusal) => {
            conn.settled(launch);
            return answer(op, refusal);
        }
    };
    self::launch(Box::pin(async move {
        // The body: the transaction of `op`.
        let out = 'body: {
            match &op {
                Op::CreateRun {
                    run_id,
                    record,
                    events,
                    event_records,
                    ..
                } => {
                    // Boxed, as a dyn future: smaller than its states
                    // inlined into this one's (createRun is no hot path: one
                    // allocation more).
                    let creating: Pin<Box<dyn Future<Output = _>>> =
                        Box::pin(create_run(tx, run_id, record, events, event_records));
                    creating.await.map(Outcome::Verdicts)
                }
                // One call of `write_events` for both: each call site of a
                // future is code of its own in this state machine.
                Op::Batch(Batch {
                    events, records, ..
                })
                | Op::AppendAll {
                    events, records, ..
                } => {
                    // `begin` refused an `appendEvents` with a run owned
                    // elsewhere: its holds all allow.
                    let all_or_nothing = matches!(&op, Op::AppendAll { .. });
                    write_events(tx, events, records, &start.holds, all_or_nothing, false)
                        .await
                        .map(Outcome::Verdicts)
                }
                // One awaited call for these: see `write_events` above.
                Op::Read { .. }
                | Op::Change { .. }
                | Op::Claim { .. }
                | Op::NextSeq { .. }
                | Op::DeleteRun { .. }
                | Op::Truncate { .. } => {
                    let mut tx = tx;
                    let (done, writes) = in_glue(&mut tx, &op);
                    let mut value = match JsFuture::from(done).await {
                        Ok(value) => value,
                        Err(e) => break 'body Err(glue_failure(e)),
                    };
                    if let Op::Change { change, .. } = &op {
                        value = match change_run(&tx, change, value) {
                            Ok(value) => value,
                            Err(e) => break 'body Err(e),
                        };
                    }
                    // Bar a read's records, -1 says the run is missing.
                    let seq = value.as_f64().unwrap_or(-1.0);
                    if writes && seq >= 0.0 {
                        if let Err(e) = tx.commit().await {
                            break 'body Err(e);
                        }
                    }
                    match &op {
                        Op::Read { .. } => Ok(Outcome::Value(value)),
                        Op::Change { run_id, .. }
                        | Op::Claim { run_id, .. }
                        | Op::NextSeq { run_id, .. }
                        | Op::DeleteRun { run_id, .. }
                        | Op::Truncate { run_id, .. }
                            if seq < 0.0 =>
                        {
                            Err(run_not_found(run_id))
                        }
                        // A claim's 0: the run exists, the claim takes it. A
                        // change or a delete gives 0 too.
                        _ => Ok(Outcome::Seq(seq as i64)),
                    }
                }
                // Single appends became batches; the queue handles the rest.
                Op::Append { .. }
                | Op::MarkInterrupted { .. }
                | Op::Prune { .. }
                | Op::Release { .. }
                | Op::Close => Ok(Outcome::Seq(0)),
            }
        };
        end(&conn, &op, &start, &out);
        drop(start);
        if conn.should_retry(launch, &out) {
            conn.retry(launch, op);
        } else {
            answer(op, out);
        }
        conn.settled(launch);
    }));
}

/// The first hold of `holds` (operations on one run have one).
fn first(holds: &[Hold]) -> &Hold {
    holds.first().unwrap_or(&Hold::Unsupported)
}

/// The synchronous start of `op`: a refusal, or what its end needs.
fn begin(
    conn: &Connection,
    op: &Op,
    holds: Vec<Hold>,
) -> Result<Start, Result<Outcome, RepositoryError>> {
    let hold = first(&holds);
    let mut was_owned = false;
    // The run another live store owns, if the op is refused for it: one
    // `conflict` call for every kind of op.
    let mut refused = None;
    match op {
        Op::CreateRun { run_id, own, .. } => {
            if !hold.allowed() {
                return Err(Err(RepositoryError::AlreadyExists(format!(
                    "run \"{run_id}\" exists already (another live store owns it)"
                ))));
            }
            // A new run is this store's to execute; an imported one is not.
            if let (Hold::Mine(lock), true) = (hold, own) {
                conn.locks.own(run_id, lock);
            }
        }
        Op::Change { run_id, change, .. } => {
            // Ownership moves now, so calls queued behind see it.
            was_owned = conn.locks.owns(run_id);
            if !hold.allowed() {
                refused = Some(run_id);
            } else if let (Hold::Mine(lock), Change::Status(status)) = (hold, change) {
                match status {
                    CouncilRunStatus::Running => conn.locks.own(run_id, lock),
                    s if is_final(*s) => {
                        conn.locks.disown(run_id);
                    }
                    _ => {}
                }
            }
        }
        Op::Batch(_) => conn.flight.begin(),
        Op::AppendAll { events, .. } => {
            for (event, hold) in events.iter().zip(&holds) {
                if !hold.allowed() {
                    refused = Some(&event.run_id);
                    break;
                }
            }
        }
        Op::Truncate { run_id, .. } if !hold.allowed() => refused = Some(run_id),
        Op::Claim { .. } if !hold.allowed() => return Err(Ok(Outcome::Seq(-1))),
        Op::DeleteRun {
            run_id,
            spare_owned,
            ..
        } => {
            was_owned = conn.locks.owns(run_id);
            if !hold.allowed() || (*spare_owned && was_owned) {
                refused = Some(run_id);
            } else {
                // A deleted run has no owner; calls queued behind see that now.
                conn.locks.disown(run_id);
            }
        }
        _ => {}
    }
    if let Some(run_id) = refused {
        return Err(Err(conflict(run_id)));
    }
    Ok(Start { holds, was_owned })
}

/// What follows `op`'s transaction, before its caller hears: notices of
/// what changed, and ownership as it was when nothing changed.
fn end(conn: &Connection, op: &Op, start: &Start, out: &Result<Outcome, RepositoryError>) {
    let hold = first(&start.holds);
    let lock = match hold {
        Hold::Mine(lock) => Some(lock),
        _ => None,
    };
    match (op, out) {
        (Op::CreateRun { run_id, events, .. }, Ok(_)) => {
            conn.feed.post(run_id, Notice::CREATED);
            if !events.is_empty() {
                conn.feed.post(run_id, Notice::APPENDED);
            }
        }
        (Op::Change { run_id, change, .. }, Ok(_)) => {
            conn.feed.post(
                run_id,
                match change {
                    Change::Status(status) => Notice::Status(status.as_str()),
                    Change::Graph(_) => Notice::GRAPH,
                },
            );
            // A run this store owned and now gave up (its lock goes once
            // the op ends; glue.js tells of it after that).
            if start.was_owned && !conn.locks.owns(run_id) {
                conn.feed.post(run_id, Notice::OWNER);
            }
        }
        // Nothing changed: neither does ownership. A run owned before is
        // owned again; a new run, or one its change made owned, is let go
        // (if still by this lock); a delete took nothing else.
        (
            Op::CreateRun { run_id, .. } | Op::Change { run_id, .. } | Op::DeleteRun { run_id, .. },
            Err(_),
        ) => {
            if let Some(lock) = lock {
                if start.was_owned {
                    conn.locks.own(run_id, lock);
                } else if !matches!(op, Op::DeleteRun { .. }) {
                    conn.locks.disown_if(run_id, lock);
                }
            }
        }
        (
            Op::Batch(Batch { events, .. }) | Op::AppendAll { events, .. },
            Ok(Outcome::Verdicts(verdicts)),
        ) => announce_appends(conn, events, verdicts),
        (Op::Truncate { run_id, wave, .. }, Ok(Outcome::Seq(next))) => {
            let rewound = Notice::Rewound {
                after_wave: *wave,
                next_seq: *next,
            };
            conn.feed.post(run_id, rewound);
        }
        (Op::Claim { run_id, .. }, Ok(_)) => {
            if let Some(lock) = lock {
                conn.locks.own(run_id, lock);
                conn.feed.post(run_id, Notice::OWNER);
            }
        }
        (Op::DeleteRun { run_id, .. }, Ok(_)) => conn.feed.post(run_id, Notice::DELETED),
        _ => {}
    }
    if let Op::Batch(_) = op {
        conn.flight.landed();
    }
}

/// Answers `op`'s caller(s) with `out`. As `fail` does, the replies are
/// answered in place and `op` dropped whole: less code than taking it
/// apart.
fn answer(mut op: Op, out: Result<Outcome, RepositoryError>) {
    let out = match out {
        Ok(outcome) => outcome,
        Err(e) => return fail(op, e),
    };
    match (&mut op, out) {
        (Op::Read { reply, .. }, Outcome::Value(value)) => reply.put(Ok(value)),
        (Op::Batch(batch), Outcome::Verdicts(verdicts)) => {
            for (reply, verdict) in batch.replies.iter_mut().zip(verdicts) {
                reply.put(verdict);
            }
        }
        (Op::NextSeq { reply, .. }, Outcome::Seq(seq)) => reply.put(Ok(seq)),
        (Op::Claim { reply, .. }, Outcome::Seq(seq)) => reply.put(Ok(seq >= 0)),
        (
            Op::CreateRun { reply, .. }
            | Op::Change { reply, .. }
            | Op::AppendAll { reply, .. }
            | Op::Truncate { reply, .. }
            | Op::DeleteRun { reply, .. },
            _,
        ) => reply.put(Ok(())),
        // A reply of another shape cannot come from the body.
        _ => fail(op, RepositoryError::Storage("unexpected outcome".into())),
    }
}

/// Adds a run record, and `events` with it (all or nothing, checked as
/// `appendEvents` checks them) when there are any.
async fn create_run(
    tx: Tx,
    run_id: &str,
    record: &JsValue,
    events: &[CouncilRunEvent],
    event_records: &[Option<JsValue>],
) -> Result<Vec<Result<i64, RepositoryError>>, RepositoryError> {
    // One round trip: `add` refuses an existing key with a ConstraintError
    // (which also aborts the transaction, so nothing is written). Commit at
    // once, as hand-written code does. The add settles before the end. One
    // that cannot be made aborts the transaction as well (glue.js), and
    // its rejection is the answer, as a refused add's is.
    let added = JsFuture::from(add_run(tx.js(), record));
    // The event checks read after the add, so they find the run.
    let ended = write_events(tx, events, event_records, &[], true, true).await;
    let Err(rejection) = added.await else {
        return ended;
    };
    // Rejected with `[words, error]` (an array glue.js made: read as one).
    let e = rejection.unchecked_ref::<Array>().get(1);
    if error_name(&e).as_deref() == Some("ConstraintError") {
        return Err(RepositoryError::AlreadyExists(format!(
            "run \"{run_id}\" exists already"
        )));
    }
    Err(glue_failure(rejection))
}

/// A status or graph change of the run read as `record` (`undefined` when
/// it is missing: -1 then), written back with a later `updatedAt`; 0 once
/// the write is made. Not async, so that nothing of it is held across the
/// commit.
fn change_run(tx: &Tx, change: &Change, record: JsValue) -> Result<JsValue, RepositoryError> {
    if record.is_undefined() {
        return Ok(JsValue::from_f64(-1.0));
    }
    let mut run = decode_run(&record)?;
    match change {
        Change::Status(status) => run.status = *status,
        Change::Graph(graph) => run.graph_json = Some(graph.clone()),
    }
    run.updated_at = timestamp_after(&run.updated_at);
    let created = check_new_run(&run).map_err(|e| {
        // `e.to_string()`'s words, put together without the formatting code.
        let mut text = e.kind().to_owned();
        text.push_str(": ");
        text.push_str(e.message());
        RepositoryError::Serialization(text)
    })?;
    let updated = run_record(&run, created)?;
    // Keep what the record holds beside the run's fields (the rewinds).
    with_keys(|k| keep_field(&updated, &record, &k.rewinds));
    write_record(tx.js(), Scope::Runs as u32, &updated, true).map_err(glue_failure)?;
    Ok(JsValue::from_f64(0.0))
}

/// Starts a body whose requests are made in glue.js (`opBody`): a queued
/// read, a claim's look-up, `nextSeq`, `deleteRun`, a truncation and the
/// read of a run to change (which [`change_run`] then writes). Its promise
/// hands back the records as IndexedDB made them, or a seq (-1 for a
/// missing run); and whether it writes. A read is asked to commit at once;
/// `launch_op` commits a write once its requests are made, and drops
/// (aborts) it when the run is missing or a request failed. The rules stay
/// in Rust; glue.js only makes the requests (`mark` uses it for its first
/// read too).
fn in_glue(tx: &mut Tx, op: &Op) -> (Promise, bool) {
    let (kind, id, a, b) = match op {
        Op::Read { read, .. } => match read {
            Read::Run(run_id) => (bodies::RUN, run_id.as_str(), 0.0, 0),
            Read::Runs(None) => (bodies::RUNS, "", 0.0, 0),
            Read::Runs(Some(status)) => (bodies::RUNS_OF_STATUS, status.as_str(), 0.0, 0),
            Read::Events(run_id) => (bodies::EVENTS, run_id.as_str(), 0.0, 0),
            Read::Page(run_id, from, count) => {
                (bodies::EVENT_PAGE, run_id.as_str(), *from as f64, *count)
            }
            Read::Tail(run_id, from) => (bodies::TAIL, run_id.as_str(), *from as f64, 0),
        },
        Op::Change { run_id, .. } => (bodies::RUN_TO_CHANGE, run_id.as_str(), 0.0, 0),
        Op::Claim { run_id, .. } => (bodies::RUN_EXISTS, run_id.as_str(), 0.0, 0),
        Op::NextSeq { run_id, .. } => (bodies::NEXT_SEQ, run_id.as_str(), 0.0, 0),
        Op::DeleteRun { run_id, .. } => (bodies::DELETE_RUN, run_id.as_str(), 0.0, 0),
        Op::Truncate { run_id, wave, .. } => {
            (bodies::TRUNCATE, run_id.as_str(), f64::from(*wave), 0)
        }
        // `launch_op` calls this for the ops above only.
        _ => (bodies::RUNS, "", 0.0, 0),
    };
    let writes = matches!(
        kind,
        bodies::DELETE_RUN | bodies::TRUNCATE | bodies::RUN_TO_CHANGE
    );
    let done = op_body(tx.js(), kind, id, a, b);
    if !writes {
        tx.commit_now();
    }
    (done, writes)
}

/// The bodies of glue.js's `opBody`, by the number it is called with (its
/// comment says what each reads or writes). A read commits at once; a
/// write ([`DELETE_RUN`](bodies::DELETE_RUN), [`TRUNCATE`](bodies::TRUNCATE),
/// and [`RUN_TO_CHANGE`](bodies::RUN_TO_CHANGE), whose run `change_run`
/// then writes) resolves once its requests are made and the caller commits.
mod bodies {
    pub(super) const RUN: u32 = 0;
    pub(super) const RUNS: u32 = 1;
    pub(super) const RUNS_OF_STATUS: u32 = 2;
    pub(super) const EVENTS: u32 = 3;
    pub(super) const EVENT_PAGE: u32 = 4;
    pub(super) const TAIL: u32 = 5;
    pub(super) const RUN_EXISTS: u32 = 6;
    pub(super) const NEXT_SEQ: u32 = 7;
    pub(super) const DELETE_RUN: u32 = 8;
    pub(super) const TRUNCATE: u32 = 9;
    pub(super) const RUNNING_RUNS: u32 = 10;
    pub(super) const RUNNING_IDS: u32 = 11;
    pub(super) const RUN_TO_CHANGE: u32 = 12;
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// Makes the first requests of a body in `tx`, now; a promise of its
    /// outcome. `kind` is one of [`bodies`], the arguments as it needs them.
    #[wasm_bindgen(js_name = opBody)]
    fn op_body(tx: &JsValue, kind: u32, id: &str, a: f64, b: u32) -> Promise;

    /// Adds run record `record` (glue.js's `addRun`): a promise of the
    /// request's outcome, rejected with `["cannot store run \"{id}\"",
    /// error]`, or with `[step, error]` when it cannot be made (then
    /// before any other request of `tx`).
    #[wasm_bindgen(js_name = addRun)]
    fn add_run(tx: &JsValue, record: &JsValue) -> Promise;

    /// Sets run record `record`'s status and `updatedAt` and puts it
    /// (glue.js's `putMarked`); returns `[step, error]` when the put cannot
    /// be made, else `undefined`. (No throw, and `stamp` a JavaScript
    /// string: either has glue of its own.)
    #[wasm_bindgen(js_name = putMarked)]
    fn put_marked(tx: &JsValue, record: &JsValue, status: &JsValue, stamp: &JsValue) -> JsValue;

    /// A string (a `JsValue`: a `String` return has glue of its own).
    #[wasm_bindgen(js_name = failureText)]
    fn failure_text(rejection: &JsValue) -> JsValue;

    /// Copies `record`'s field `name`, if it has one, to `updated`
    /// (glue.js's `keepField`).
    #[wasm_bindgen(js_name = keepField)]
    fn keep_field(updated: &JsValue, record: &JsValue, name: &JsValue);

    /// The reads an append batch needs of run `id` (glue.js's
    /// `appendReads`), made now: a promise of `[next, found]`, `next` -1
    /// for a missing run, else the seq after its last stored event (when
    /// `numbered`), `found` its stored events with seqs `low..=high`.
    #[wasm_bindgen(js_name = appendReads)]
    fn append_reads(tx: &JsValue, id: &str, low: f64, high: f64, numbered: bool) -> Promise;
}

/// The `RepositoryError` of a glue.js body's rejection `[step, error]`:
/// `Storage`, worded by glue.js's `failureText` (its `STEPS`, the words
/// the Rust bodies used).
fn glue_failure(rejection: JsValue) -> RepositoryError {
    RepositoryError::Storage(failure_text(&rejection).as_string().unwrap_or_default())
}

/// Tells watchers which runs got events.
fn announce_appends(
    conn: &Connection,
    events: &[CouncilRunEvent],
    verdicts: &[Result<i64, RepositoryError>],
) {
    let mut runs: Vec<&str> = Vec::new();
    for (event, verdict) in events.iter().zip(verdicts) {
        if verdict.is_ok() {
            runs.push(&event.run_id);
        }
    }
    sort_unique(&mut runs);
    for run_id in runs {
        conn.feed.post(run_id, Notice::APPENDED);
    }
}

/// Where the event with `seq` is in `seen` (sorted by seq), or would go.
fn by_seq(seen: &[CouncilRunEvent], seq: i64) -> Result<usize, usize> {
    seen.binary_search_by_key(&seq, |e| e.seq)
}

/// Checks and writes `events` in one transaction. An event whose hold (in
/// `holds`, one per event or none) does not allow it is refused and
/// skipped, here for every caller rather than in each. An event without a
/// record is numbered here: it gets the seq after the last one of its run,
/// stored or written before it in this batch. Returns, per event, its seq
/// or why it was refused; with `all_or_nothing`, the first failure aborts
/// the whole batch. With nothing to write, the transaction is dropped
/// (aborted) unless it adds a run too (`new_run`): then it commits.
async fn write_events(
    tx: Tx,
    events: &[CouncilRunEvent],
    records: &[Option<JsValue>],
    holds: &[Hold],
    all_or_nothing: bool,
    new_run: bool,
) -> Result<Vec<Result<i64, RepositoryError>>, RepositoryError> {
    // Per run (a batch holds few): what to look up, then what was found. A
    // `Vec` searched in line rather than a map: maps cost kilobytes of code
    // per key and value type in the module.
    struct RunState<'a> {
        id: &'a str,
        /// The span of explicit seqs to look at for stored duplicates
        /// (none while `low > high`).
        low: i64,
        high: i64,
        /// Whether the run's last seq is needed to number events.
        numbered: bool,
        /// Stored events in the span and events of this batch, by seq.
        seen: Vec<CouncilRunEvent>,
        /// -1 for a missing run; else the next free seq (from the store
        /// only when `numbered`: only numbered events read it).
        next: i64,
        /// The reads made for it, until they are awaited.
        reads: Option<JsFuture>,
    }
    fn state<'s, 'a>(states: &'s mut Vec<RunState<'a>>, id: &'a str) -> &'s mut RunState<'a> {
        let mut at = 0;
        while at < states.len() && states[at].id != id {
            at += 1;
        }
        if at == states.len() {
            states.push(RunState {
                id,
                low: i64::MAX,
                high: -1,
                numbered: false,
                seen: Vec::new(),
                next: 0,
                reads: None,
            });
        }
        &mut states[at]
    }
    // An append's verdict before it is written: refused when another live
    // store owns its run (an event without a hold is allowed).
    let mut verdicts = Vec::with_capacity(events.len());
    let mut states: Vec<RunState> = Vec::new();
    for (i, (event, record)) in events.iter().zip(records).enumerate() {
        if holds.get(i).is_some_and(|hold| !hold.allowed()) {
            verdicts.push(Err(conflict(&event.run_id)));
            continue;
        }
        verdicts.push(Ok(event.seq));
        let need = state(&mut states, &event.run_id);
        if record.is_none() {
            need.numbered = true;
        } else {
            need.low = need.low.min(event.seq);
            need.high = need.high.max(event.seq);
        }
    }
    if states.is_empty() && !new_run {
        return Ok(verdicts);
    }
    // Issue every read before awaiting any, so they run together (in
    // glue.js: a promise per run, the requests made inside the call). A `?`
    // below drops the promises made so far, which is safe.
    for need in &mut states {
        let reads = append_reads(
            tx.js(),
            need.id,
            need.low as f64,
            need.high as f64,
            need.numbered,
        );
        need.reads = Some(JsFuture::from(reads));
    }
    for need in &mut states {
        let Some(reads) = need.reads.take() else {
            continue;
        };
        let reads = reads.await.map_err(glue_failure)?;
        // The array glue.js made: read as one.
        let part = |at| reads.unchecked_ref::<Array>().get(at);
        // -1 for a missing run, else the next free seq.
        let next = part(0).as_f64().unwrap_or(-1.0);
        if need.low <= need.high {
            // getAll answers in key order: by seq.
            need.seen = super::decode_events(part(1).unchecked_ref())?;
        }
        need.next = next as i64;
    }

    // Each event is written once it passes: a later failure that fails the
    // batch drops (aborts) the transaction, which undoes them.
    let mut wrote = false;
    for (i, event) in events.iter().enumerate() {
        if verdicts[i].is_err() {
            continue;
        }
        let run = state(&mut states, &event.run_id);
        let verdict = if run.next < 0 {
            Err(run_not_found(&event.run_id))
        } else if let Some(record) = &records[i] {
            match by_seq(&run.seen, event.seq) {
                Ok(at) => check_duplicate(&run.seen[at], event).map(|()| event.seq),
                Err(at) => {
                    run.seen.insert(at, event.clone());
                    run.next = run.next.max(event.seq + 1);
                    write_record(tx.js(), Scope::Events as u32, record, false)
                        .map_err(glue_failure)?;
                    wrote = true;
                    Ok(event.seq)
                }
            }
        } else {
            let mut numbered = event.clone();
            let seq = run.next;
            numbered.seq = seq;
            run.next += 1;
            match check_event(&numbered).and_then(|()| event_record(&numbered)) {
                Ok(record) => {
                    write_record(tx.js(), Scope::Events as u32, &record, false)
                        .map_err(glue_failure)?;
                    wrote = true;
                    // A later event of this batch with the same explicit seq
                    // is then checked against this one, not refused by the
                    // store. (The numbered copy itself goes there.)
                    if let Err(at) = by_seq(&run.seen, seq) {
                        run.seen.insert(at, numbered);
                    }
                    Ok(seq)
                }
                Err(e) => Err(e),
            }
        };
        match verdict {
            Err(e) if all_or_nothing => return Err(e),
            verdict => verdicts[i] = verdict,
        }
    }
    if !wrote && !new_run {
        return Ok(verdicts);
    }
    tx.commit().await?;
    Ok(verdicts)
}

/// `markInterruptedRuns`: every `running` run that no other live store owns
/// becomes `interrupted`. The locks of the candidates are taken first (the
/// queue waits meanwhile), then one transaction reads the running runs again
/// and changes those this store may write.
pub(crate) async fn mark_interrupted(conn: Rc<Connection>, db: Db, reply: Reply<u64>) {
    // In the order of the runs index, the order `mark` reads them again in:
    // the ids of running runs and the hold on each.
    let mut ids = Vec::new();
    let mut holds = Vec::new();
    if conn.locks.enabled() {
        // The ids first, in a read transaction of their own.
        let mut tx = match Tx::start(&db, Scope::Runs, Access::Read) {
            Ok(tx) => tx,
            Err(failure) => return reply.send(Err(failure.into_error("this store"))),
        };
        let running = CouncilRunStatus::Running.as_str();
        let keys = JsFuture::from(op_body(tx.js(), bodies::RUNNING_IDS, running, 0.0, 0));
        tx.commit_now();
        drop(tx);
        let keys: Array = match keys.await {
            Ok(keys) => keys.unchecked_into(),
            Err(e) => return reply.send(Err(glue_failure(e))),
        };
        for i in 0..keys.length() {
            if let Some(id) = keys.get(i).as_string() {
                ids.push(id);
            }
        }
        let mut refs = Vec::with_capacity(ids.len());
        for id in &ids {
            refs.push(id.as_str());
        }
        holds = conn.locks.hold_all(&refs).await;
    }
    let tx = match Tx::start(&db, Scope::Runs, Access::Durable) {
        Ok(tx) => tx,
        Err(failure) => return reply.send(Err(failure.into_error(&conn.name))),
    };
    launch(Box::pin(mark(conn, tx, ids, holds, reply)));
}

/// `pruneRuns`, which the queue waits for: reads the runs, picks those
/// `prune` deletes and queues their deletions (each sparing a run owned
/// when its turn comes) at the head of the queue, as calls made at `seq`.
/// Queued once the read was answered, behind calls made after `pruneRuns`,
/// they would let those calls go first: an append acknowledged, then
/// deleted with its run. Answers with each picked run's id and the answer
/// of its deletion. Gives the call back, to run again on a new connection,
/// when its read cannot start because the connection is lost and `retry`.
pub(crate) async fn prune(
    conn: Rc<Connection>,
    db: Db,
    seq: u64,
    prune: Prune,
    answer: Reply<Deletions>,
    retry: bool,
) -> Option<Op> {
    let out = 'prune: {
        let mut tx = match Tx::start(&db, Scope::Runs, Access::Read) {
            Ok(tx) => tx,
            Err(failure) if retry && failure.connection_lost() => {
                return Some(Op::Prune {
                    reply: answer,
                    prune,
                })
            }
            Err(failure) => break 'prune Err(failure.into_error(&conn.name)),
        };
        let records = JsFuture::from(op_body(tx.js(), bodies::RUNS, "", 0.0, 0));
        tx.commit_now();
        drop(tx);
        let runs = match records.await {
            Ok(records) => decode_runs(records.unchecked_ref()),
            Err(e) => Err(glue_failure(e)),
        };
        let runs = match runs {
            Ok(runs) => runs,
            Err(e) => break 'prune Err(e),
        };
        let selected = match prune.select(&runs) {
            Ok(selected) => selected,
            Err(e) => break 'prune Err(e),
        };
        let mut deletions = Vec::with_capacity(selected.len());
        let mut ops = Vec::with_capacity(selected.len());
        for run in selected {
            let (reply, answer) = reply();
            ops.push(Op::DeleteRun {
                reply,
                run_id: run.id.clone(),
                spare_owned: true,
            });
            deletions.push((run.id.clone(), answer));
        }
        conn.queue_first(seq, ops);
        Ok(deletions)
    };
    answer.send(out);
    None
}

/// The transaction of `markInterruptedRuns`; answers `reply`, then lets
/// the holds go. One async fn with the answer in it, rather than one that
/// returns the outcome, awaited in another.
async fn mark(conn: Rc<Connection>, tx: Tx, ids: Vec<String>, holds: Vec<Hold>, reply: Reply<u64>) {
    let out = 'mark: {
        // Dropped (aborted unless committed) before the answer.
        let tx = tx;
        let running = CouncilRunStatus::Running.as_str();
        let records: Array =
            match JsFuture::from(op_body(tx.js(), bodies::RUNNING_RUNS, running, 0.0, 0)).await {
                Ok(records) => records.unchecked_into(),
                Err(e) => break 'mark Err(glue_failure(e)),
            };
        if let Err(e) = check_run_records(&records) {
            break 'mark Err(e);
        }
        let interrupted = JsValue::from_str(CouncilRunStatus::Interrupted.as_str());
        let mut marked = Vec::new();
        let mut next = 0;
        for i in 0..records.length() {
            let record = records.get(i);
            // A string field of the record ("" if it is none): one instance
            // for both fields read.
            let field = |updated: bool| {
                with_keys(|k| Reflect::get(&record, if updated { &k.updated_at } else { &k.id }))
                    .ok()
                    .and_then(|v| v.as_string())
                    .unwrap_or_default()
            };
            let id = field(false);
            // Both reads are in index order, so the hold is usually next: look
            // from there on, then from the start.
            let mut found = None;
            for k in 0..ids.len() {
                let at = (next + k) % ids.len();
                if ids[at] == id {
                    found = holds.get(at);
                    next = at + 1;
                    break;
                }
            }
            let may = match found {
                Some(hold) => hold.allowed(),
                // Set running since the locks were taken: only if by this store.
                None => matches!(
                    conn.locks.current(&id),
                    Some(Hold::Mine(_) | Hold::Unsupported)
                ),
            };
            if !may {
                continue;
            }
            // The records are sound, so change them where they lie: two fields
            // each, rather than a decode and a re-encode.
            let updated = field(true);
            let stamp = JsValue::from_str(&timestamp_after(&updated));
            let failed = put_marked(tx.js(), &record, &interrupted, &stamp);
            if !failed.is_undefined() {
                break 'mark Err(glue_failure(failed));
            }
            marked.push(id);
        }
        if marked.is_empty() {
            break 'mark Ok(0);
        }
        if let Err(e) = tx.commit().await {
            break 'mark Err(e);
        }
        for id in &marked {
            let owned = conn.locks.disown(id);
            conn.feed
                .post(id, Notice::Status(CouncilRunStatus::Interrupted.as_str()));
            // Its own runs are given up (told once their locks have gone).
            if owned {
                conn.feed.post(id, Notice::OWNER);
            }
        }
        Ok(marked.len() as u64)
    };
    reply.send(out);
    drop(holds);
}
