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
//! # Transactions
//!
//! Every operation is one transaction. Ids, timestamps and records are made
//! before it starts, and inside it nothing but IndexedDB requests is awaited,
//! since a transaction commits as soon as no request is pending.

mod codec;
mod group_commit;
mod request;
mod send;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use idb::{
    DatabaseEvent, Factory, Index, KeyPath, KeyRange, ObjectStore, ObjectStoreParams, Query,
    Request, Transaction, TransactionMode,
};
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::domain::{
    check_duplicate, check_event, check_graph, check_new_run, run_not_found, CouncilRun,
    CouncilRunEvent, CouncilRunStatus, RepositoryError,
};
use crate::port::CouncilRepositoryPort;
use crate::time::timestamp_after;

pub(crate) use self::codec::{check_event_records, check_run_records, decode_event, decode_run};
use self::codec::{event_key, event_record, run_record, with_keys};
use self::group_commit::AppendQueue;
use self::request::{finished, settle};
use self::send::{assert_send, SingleThreaded};

/// Version of the object-store layout; raised with every schema change, each
/// with its own step in `upgrade`.
pub const SCHEMA_VERSION: u32 = 1;

const RUNS: &str = "runs";
const EVENTS: &str = "events";
const RUNS_BY_CREATED: &str = "by_created";
const RUNS_BY_STATUS: &str = "by_status";
const EVENTS_BY_WAVE: &str = "by_wave";

/// [`CouncilRepositoryPort`] over the browser's IndexedDB (wasm32 only).
///
/// Works in windows and in workers. Each instance holds one connection; it
/// closes itself when another tab upgrades or deletes the database, and when
/// dropped.
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

/// One open database, shared with the group-commit writer.
#[derive(Debug)]
pub(crate) struct Connection {
    db: idb::Database,
    name: String,
    appends: AppendQueue,
}

impl IndexedDbCouncilRepository {
    /// Opens (creating or upgrading as needed) the database `db_name`.
    ///
    /// # Errors
    /// [`Storage`](RepositoryError::Storage) naming the DOMException when
    /// IndexedDB is unavailable, the open is blocked by another connection,
    /// the database has a newer version or a layout this crate did not make,
    /// or the upgrade fails.
    pub async fn open(db_name: &str) -> Result<Self, RepositoryError> {
        let factory = Factory::new().map_err(|e| storage("IndexedDB is not available", e))?;
        let mut request = factory
            .open(db_name, Some(SCHEMA_VERSION))
            .map_err(|e| storage(&format!("cannot open database \"{db_name}\""), e))?;

        let upgrade_error: Rc<RefCell<Option<RepositoryError>>> = Rc::default();
        let slot = upgrade_error.clone();
        request.on_upgrade_needed(move |event| {
            if let Err(err) = upgrade(&event) {
                *slot.borrow_mut() = Some(err);
                // Aborting the version change fails the open request.
                if let Some(tx) = idb::Event::target(&event)
                    .ok()
                    .and_then(|r| r.transaction())
                {
                    let _ = tx.abort();
                }
            }
        });
        let blocked = Signal::default();
        let signal = blocked.clone();
        request.on_blocked(move |event| {
            // If the grace period runs out, nobody waits for this open any
            // more; should it succeed later, close that connection at once.
            let late = idb::Event::target(&event).ok();
            signal.raise(Some(Box::new(move || {
                if let Some(mut late) = late {
                    late.on_success(|event| {
                        if let Ok(db) = event.database() {
                            db.close();
                        }
                    });
                    late.forget_callbacks();
                }
            })));
        });

        let opened = Blockable::new(request.into_future(), blocked).await;
        if let Some(err) = upgrade_error.borrow_mut().take() {
            return Err(err);
        }
        let mut db = match opened {
            Ok(db) => db,
            Err(Blocked) => {
                return Err(RepositoryError::Storage(format!(
                    "opening database \"{db_name}\" is blocked: another connection to it \
                     is open with an older version and did not close within {BLOCKED_GRACE_MS} ms"
                )))
            }
            Err(Failed(e)) => {
                return Err(storage(&format!("cannot open database \"{db_name}\""), e))
            }
        };
        let stores = db.store_names();
        if !stores.iter().any(|s| s == RUNS) || !stores.iter().any(|s| s == EVENTS) {
            db.close();
            return Err(RepositoryError::Storage(format!(
                "NotFoundError: database \"{db_name}\" has no {RUNS:?} and {EVENTS:?} stores; \
                 it was made by something other than council-idb"
            )));
        }
        // Let other tabs upgrade or delete the database instead of blocking them.
        db.on_version_change(|event| {
            if let Ok(target) = idb::Event::target(&event) {
                if let Ok(db) = idb::Database::try_from(target) {
                    db.close();
                }
            }
        });
        Ok(IndexedDbCouncilRepository {
            conn: SingleThreaded(Rc::new(Connection {
                db,
                name: db_name.to_owned(),
                appends: AppendQueue::default(),
            })),
        })
    }

    /// The database name this repository was opened with.
    pub fn name(&self) -> &str {
        &self.conn.name
    }

    /// Closes the connection once its running transactions finish. Later
    /// calls fail with a [`Storage`](RepositoryError::Storage) error
    /// (`InvalidStateError`); open the database again to go on.
    pub fn close(&self) {
        self.conn.db.close();
    }

    /// Deletes the database `db_name` and everything in it.
    ///
    /// # Errors
    /// [`Storage`](RepositoryError::Storage) when IndexedDB is unavailable or
    /// another connection that does not close keeps the database open.
    pub async fn delete_database(db_name: &str) -> Result<(), RepositoryError> {
        let factory = Factory::new().map_err(|e| storage("IndexedDB is not available", e))?;
        let mut request = factory
            .delete(db_name)
            .map_err(|e| storage(&format!("cannot delete database \"{db_name}\""), e))?;
        let blocked = Signal::default();
        let signal = blocked.clone();
        request.on_blocked(move |_| signal.raise(None));
        match Blockable::new(request.into_future(), blocked).await {
            Ok(()) => Ok(()),
            Err(Blocked) => Err(RepositoryError::Storage(format!(
                "deleting database \"{db_name}\" is blocked: a connection to it did not close \
                 within {BLOCKED_GRACE_MS} ms (the browser deletes it once that connection closes)"
            ))),
            Err(Failed(e)) => Err(storage(&format!("cannot delete database \"{db_name}\""), e)),
        }
    }

    fn transaction(
        &self,
        stores: &[&str],
        mode: TransactionMode,
    ) -> Result<Transaction, RepositoryError> {
        self.conn.transaction(stores, mode)
    }
}

impl Connection {
    fn transaction(
        &self,
        stores: &[&str],
        mode: TransactionMode,
    ) -> Result<Transaction, RepositoryError> {
        self.db.transaction(stores, mode).map_err(|e| {
            storage(
                &format!("cannot start a transaction on \"{}\"", self.name),
                e,
            )
        })
    }
}

impl Drop for IndexedDbCouncilRepository {
    fn drop(&mut self) {
        self.conn.db.close();
    }
}

/// Creates or upgrades the layout, one step per schema version.
fn upgrade(event: &idb::event::VersionChangeEvent) -> Result<(), RepositoryError> {
    let fail = |e| storage("cannot upgrade the database layout", e);
    let old = event.old_version().map_err(fail)?;
    let db = event.database().map_err(fail)?;
    if old < 1 {
        let runs = db
            .create_object_store(
                RUNS,
                ObjectStoreParams::new()
                    .key_path(Some(KeyPath::new_single("id")))
                    .clone(),
            )
            .map_err(fail)?;
        runs.create_index(
            RUNS_BY_CREATED,
            KeyPath::new_array(["createdKey", "id"]),
            None,
        )
        .map_err(fail)?;
        runs.create_index(
            RUNS_BY_STATUS,
            KeyPath::new_array(["status", "createdKey", "id"]),
            None,
        )
        .map_err(fail)?;
        let events = db
            .create_object_store(
                EVENTS,
                ObjectStoreParams::new()
                    .key_path(Some(KeyPath::new_array(["runId", "seq"])))
                    .clone(),
            )
            .map_err(fail)?;
        events
            .create_index(
                EVENTS_BY_WAVE,
                KeyPath::new_array(["runId", "waveIndex"]),
                None,
            )
            .map_err(fail)?;
    }
    Ok(())
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = String, catch)]
    fn js_string(value: &JsValue) -> Result<String, JsValue>;
}

/// `String(value)` for error messages; cheaper in code size than Rust's
/// float and `Debug` formatting, and it reads as JavaScript would print it.
pub(crate) fn js_text(value: &JsValue) -> String {
    js_string(value).unwrap_or_else(|_| "a value".to_owned())
}

/// A `Storage` error that keeps the browser's words, DOMException name included.
fn storage(context: &str, err: idb::Error) -> RepositoryError {
    RepositoryError::Storage(format!("{context}: {err}"))
}

fn store(tx: &Transaction, name: &str) -> Result<ObjectStore, RepositoryError> {
    tx.object_store(name)
        .map_err(|e| storage(&format!("no object store \"{name}\""), e))
}

fn index(store: &ObjectStore, name: &str) -> Result<Index, RepositoryError> {
    store
        .index(name)
        .map_err(|e| storage(&format!("no index \"{name}\""), e))
}

/// Commits `tx` and waits for the outcome. `any_store` is a store of the
/// transaction, kept to read why it aborted (quota, I/O...).
async fn commit(tx: Transaction, any_store: &ObjectStore) -> Result<(), RepositoryError> {
    let tx = tx
        .commit()
        .map_err(|e| storage("cannot commit the transaction", e))?;
    if finished(tx).await {
        Ok(())
    } else {
        Err(abort_reason(any_store))
    }
}

/// The name of the DOMException behind a failed request.
fn dom_name(err: &idb::Error) -> Option<String> {
    let idb::Error::DomException(exception) = err else {
        return None;
    };
    let exception: &JsValue = exception.as_ref();
    Reflect::get(exception, &JsValue::from_str("name"))
        .ok()?
        .as_string()
}

fn abort_reason(any_store: &ObjectStore) -> RepositoryError {
    let reason = any_store.transaction().error().map_or_else(
        || "AbortError".to_string(),
        |e| {
            let e: &JsValue = e.as_ref();
            js_error_text(e)
        },
    );
    RepositoryError::Storage(format!("transaction aborted: {reason}"))
}

fn js_error_text(value: &JsValue) -> String {
    let field = |name: &str| {
        Reflect::get(value, &JsValue::from_str(name))
            .ok()?
            .as_string()
    };
    match (field("name"), field("message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (Some(name), None) => name,
        _ => js_text(value),
    }
}

/// Abandons `tx` after a failed check, so nothing of it is written.
fn give_up<T>(tx: Transaction, err: RepositoryError) -> Result<T, RepositoryError> {
    let _ = tx.abort();
    Err(err)
}

fn key_range(lower: &JsValue, upper: &JsValue) -> Result<Query, RepositoryError> {
    KeyRange::bound(lower, upper, None, None)
        .map(Query::KeyRange)
        .map_err(|e| storage("cannot build a key range", e))
}

/// Every key `[first, ...]`: arrays sort after numbers and strings, so
/// `[first]..=[first, []]` spans all compound keys that start with `first`.
fn prefix_range(first: &JsValue) -> Result<Query, RepositoryError> {
    key_range(
        &Array::of1(first).into(),
        &Array::of2(first, &Array::new()).into(),
    )
}

impl Connection {
    /// Checks and writes `events` in one transaction. Returns a verdict per
    /// event; with `all_or_nothing`, the first failure aborts the whole batch.
    pub(crate) async fn write_events(
        &self,
        events: &[CouncilRunEvent],
        all_or_nothing: bool,
    ) -> Result<Vec<Result<(), RepositoryError>>, RepositoryError> {
        let mut verdicts: Vec<Result<(), RepositoryError>> =
            events.iter().map(check_event).collect();
        if all_or_nothing {
            if let Some(Err(e)) = verdicts.iter().find(|v| v.is_err()) {
                return Err(e.clone());
            }
        }
        // Per run: the span of seqs to look at for stored duplicates.
        let mut spans: HashMap<&str, (i64, i64)> = HashMap::new();
        for (event, verdict) in events.iter().zip(&verdicts) {
            if verdict.is_ok() {
                let span = spans.entry(&event.run_id).or_insert((event.seq, event.seq));
                span.0 = span.0.min(event.seq);
                span.1 = span.1.max(event.seq);
            }
        }
        if spans.is_empty() {
            return Ok(verdicts);
        }
        let records = events
            .iter()
            .zip(&verdicts)
            .map(|(e, v)| {
                if v.is_ok() {
                    event_record(e).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;

        let tx = self.transaction(&[RUNS, EVENTS], TransactionMode::ReadWrite)?;
        let runs = store(&tx, RUNS)?;
        let stored = store(&tx, EVENTS)?;
        // Issue every read before awaiting any, so they run together.
        let mut lookups = Vec::with_capacity(spans.len());
        for (&run_id, &(first, last)) in &spans {
            let count = settle(
                runs.count(Some(Query::Key(JsValue::from_str(run_id))))
                    .map_err(|e| storage("cannot look up the run", e))?,
            );
            let range = key_range(&event_key(run_id, first), &event_key(run_id, last))?;
            let existing = settle(
                stored
                    .get_all(Some(range), None)
                    .map_err(|e| storage("cannot read stored events", e))?,
            );
            lookups.push((run_id, count, existing));
        }
        // Settle every request before judging any: a request future dropped
        // while pending would leave its event handlers dangling.
        let mut settled = Vec::with_capacity(lookups.len());
        for (run_id, count, found) in lookups {
            settled.push((run_id, count.await, found.await));
        }
        let mut known_runs: HashMap<&str, bool> = HashMap::new();
        let mut existing: HashMap<(&str, i64), CouncilRunEvent> = HashMap::new();
        for (run_id, count, found) in settled {
            let count = count.map_err(|e| storage("cannot look up the run", e))?;
            known_runs.insert(run_id, count.as_f64().unwrap_or(0.0) > 0.0);
            let found = found.map_err(|e| storage("cannot read stored events", e))?;
            for record in found.unchecked_into::<Array>().iter() {
                match decode_event(&record) {
                    Ok(event) => {
                        existing.insert((run_id, event.seq), event);
                    }
                    Err(e) => return give_up(tx, e),
                }
            }
        }

        let mut to_write = Vec::new();
        for (i, event) in events.iter().enumerate() {
            if verdicts[i].is_err() {
                continue;
            }
            let verdict = if !known_runs
                .get(event.run_id.as_str())
                .copied()
                .unwrap_or(false)
            {
                Err(run_not_found(&event.run_id))
            } else if let Some(prior) = existing.get(&(event.run_id.as_str(), event.seq)) {
                check_duplicate(prior, event)
            } else {
                existing.insert((event.run_id.as_str(), event.seq), event.clone());
                to_write.push(i);
                Ok(())
            };
            if all_or_nothing {
                if let Err(e) = verdict {
                    return give_up(tx, e);
                }
            }
            verdicts[i] = verdict;
        }
        if to_write.is_empty() {
            let _ = tx.abort();
            return Ok(verdicts);
        }
        let written = to_write.into_iter().try_for_each(|i| match &records[i] {
            Some(record) => stored
                .add(record, None)
                .map(|_| ())
                .map_err(|e| storage("cannot store the event", e)),
            None => Ok(()),
        });
        if let Err(e) = written {
            return give_up(tx, e);
        }
        commit(tx, &stored).await?;
        Ok(verdicts)
    }
}

impl IndexedDbCouncilRepository {
    async fn create_run_now(&self, run: CouncilRun) -> Result<(), RepositoryError> {
        let created = check_new_run(&run)?;
        let record = run_record(&run, created)?;
        let tx = self.transaction(&[RUNS], TransactionMode::ReadWrite)?;
        let runs = store(&tx, RUNS)?;
        // One round trip: `add` refuses an existing key with a ConstraintError
        // (which also aborts the transaction, so nothing is written).
        let added = settle(
            runs.add(&record, None)
                .map_err(|e| storage(&format!("cannot store run \"{}\"", run.id), e))?,
        );
        // Commit at once, as hand-written code does: the browser need not
        // come back to us between the add and the commit.
        let done = match tx.commit() {
            Ok(tx) => finished(tx),
            Err(e) => {
                let _ = added.await;
                return Err(storage("cannot commit the transaction", e));
            }
        };
        let (added, committed) = (added.await, done.await);
        match added {
            Ok(_) if committed => Ok(()),
            Ok(_) => Err(abort_reason(&runs)),
            Err(e) if dom_name(&e).as_deref() == Some("ConstraintError") => Err(
                RepositoryError::AlreadyExists(format!("run \"{}\" exists already", run.id)),
            ),
            Err(e) => Err(storage(&format!("cannot store run \"{}\"", run.id), e)),
        }
    }

    /// Reads a run, lets `change` edit it, and writes it back with a later
    /// `updated_at`, in one transaction.
    async fn change_run(
        &self,
        run_id: &str,
        change: impl FnOnce(&mut CouncilRun),
    ) -> Result<(), RepositoryError> {
        let tx = self.transaction(&[RUNS], TransactionMode::ReadWrite)?;
        let runs = store(&tx, RUNS)?;
        let record = settle(
            runs.get(Query::Key(JsValue::from_str(run_id)))
                .map_err(|e| storage("cannot read the run", e))?,
        )
        .await
        .map_err(|e| storage("cannot read the run", e))?;
        if record.is_undefined() {
            return give_up(tx, run_not_found(run_id));
        }
        let mut run = match decode_run(&record) {
            Ok(run) => run,
            Err(e) => return give_up(tx, e),
        };
        change(&mut run);
        run.updated_at = timestamp_after(&run.updated_at);
        let created = match check_new_run(&run) {
            Ok(created) => created,
            Err(e) => return give_up(tx, RepositoryError::Serialization(e.to_string())),
        };
        let record = run_record(&run, created)?;
        runs.put(&record, None)
            .map_err(|e| storage(&format!("cannot store run \"{run_id}\""), e))?;
        commit(tx, &runs).await
    }

    /// The stored run record, or `undefined`.
    pub(crate) async fn run_record_raw(&self, run_id: &str) -> Result<JsValue, RepositoryError> {
        let tx = self.transaction(&[RUNS], TransactionMode::ReadOnly)?;
        let runs = store(&tx, RUNS)?;
        settle(
            runs.get(Query::Key(JsValue::from_str(run_id)))
                .map_err(|e| storage("cannot read the run", e))?,
        )
        .await
        .map_err(|e| storage("cannot read the run", e))
    }

    /// The stored run records, oldest first (as the index holds them).
    pub(crate) async fn run_records(
        &self,
        status_filter: Option<CouncilRunStatus>,
    ) -> Result<Array, RepositoryError> {
        let tx = self.transaction(&[RUNS], TransactionMode::ReadOnly)?;
        let runs = store(&tx, RUNS)?;
        let request = match status_filter {
            Some(status) => index(&runs, RUNS_BY_STATUS)?.get_all(
                Some(prefix_range(&JsValue::from_str(status.as_str()))?),
                None,
            ),
            None => index(&runs, RUNS_BY_CREATED)?.get_all(None, None),
        }
        .map_err(|e| storage("cannot list runs", e))?;
        let records = settle(request)
            .await
            .map_err(|e| storage("cannot list runs", e))?;
        Ok(records.unchecked_into())
    }

    /// The run's stored event records, in seq order, as IndexedDB returned them.
    pub(crate) async fn event_records(&self, run_id: &str) -> Result<Array, RepositoryError> {
        let tx = self.transaction(&[EVENTS], TransactionMode::ReadOnly)?;
        let events = store(&tx, EVENTS)?;
        let request = events
            .get_all(Some(prefix_range(&JsValue::from_str(run_id))?), None)
            .map_err(|e| storage("cannot list events", e))?;
        let records = settle(request)
            .await
            .map_err(|e| storage("cannot list events", e))?;
        Ok(records.unchecked_into())
    }

    async fn mark_interrupted_now(&self) -> Result<u64, RepositoryError> {
        let tx = self.transaction(&[RUNS], TransactionMode::ReadWrite)?;
        let runs = store(&tx, RUNS)?;
        let running = JsValue::from_str(CouncilRunStatus::Running.as_str());
        let records = settle(
            index(&runs, RUNS_BY_STATUS)?
                .get_all(Some(prefix_range(&running)?), None)
                .map_err(|e| storage("cannot list running runs", e))?,
        )
        .await
        .map_err(|e| storage("cannot list running runs", e))?;
        let records: Array = records.unchecked_into();
        if let Err(e) = check_run_records(&records) {
            return give_up(tx, e);
        }
        // The records are sound, so change them where they lie: two fields
        // each, rather than a decode and a re-encode.
        let interrupted = JsValue::from_str(CouncilRunStatus::Interrupted.as_str());
        let changed = records.iter().try_for_each(|record| {
            with_keys(|k| {
                let updated = Reflect::get(&record, &k.updated_at)
                    .ok()
                    .and_then(|v| v.as_string())
                    .unwrap_or_default();
                let stamp = JsValue::from_str(&timestamp_after(&updated));
                Reflect::set(&record, &k.status, &interrupted)
                    .and_then(|_| Reflect::set(&record, &k.updated_at, &stamp))
                    .map_err(|e| RepositoryError::Serialization(js_text(&e)))
            })?;
            runs.put(&record, None)
                .map(|_| ())
                .map_err(|e| storage("cannot store the run", e))
        });
        // A failure after some writes were issued must not commit them.
        if let Err(e) = changed {
            return give_up(tx, e);
        }
        commit(tx, &runs).await?;
        Ok(u64::from(records.length()))
    }

    async fn truncate_now(&self, run_id: &str, wave_index: u32) -> Result<(), RepositoryError> {
        let tx = self.transaction(&[RUNS, EVENTS], TransactionMode::ReadWrite)?;
        let runs = store(&tx, RUNS)?;
        let events = store(&tx, EVENTS)?;
        let id = JsValue::from_str(run_id);
        let count = settle(
            runs.count(Some(Query::Key(id.clone())))
                .map_err(|e| storage("cannot look up the run", e))?,
        );
        let later_waves = key_range(
            &Array::of2(&id, &JsValue::from_f64(f64::from(wave_index) + 1.0)).into(),
            &Array::of2(&id, &Array::new()).into(),
        )?;
        let keys = settle(
            index(&events, EVENTS_BY_WAVE)?
                .get_all_keys(Some(later_waves), None)
                .map_err(|e| storage("cannot find events to delete", e))?,
        );
        // Settle both requests before deciding (see `write_events`).
        let (count, keys) = (count.await, keys.await);
        let count = count.map_err(|e| storage("cannot look up the run", e))?;
        if count.as_f64().unwrap_or(0.0) == 0.0 {
            return give_up(tx, run_not_found(run_id));
        }
        let keys = keys.map_err(|e| storage("cannot find events to delete", e))?;
        let mut seqs: Vec<f64> = keys
            .unchecked_into::<Array>()
            .iter()
            .filter_map(|key| Reflect::get_u32(&key, 1).ok()?.as_f64())
            .collect();
        seqs.sort_by(f64::total_cmp);
        // Delete runs of consecutive seqs with one range request each: the
        // seqs are integers, so a range between two found ones holds no other.
        let deleted = (|| {
            let mut i = 0;
            while i < seqs.len() {
                let mut j = i;
                while j + 1 < seqs.len() && seqs[j + 1] == seqs[j] + 1.0 {
                    j += 1;
                }
                let range = key_range(
                    &Array::of2(&id, &JsValue::from_f64(seqs[i])).into(),
                    &Array::of2(&id, &JsValue::from_f64(seqs[j])).into(),
                )?;
                events
                    .delete(range)
                    .map_err(|e| storage("cannot delete events", e))?;
                i = j + 1;
            }
            Ok(())
        })();
        if let Err(e) = deleted {
            return give_up(tx, e);
        }
        commit(tx, &events).await
    }
}

#[async_trait]
impl CouncilRepositoryPort for IndexedDbCouncilRepository {
    async fn create_run(&self, run: CouncilRun) -> Result<(), RepositoryError> {
        assert_send(self.create_run_now(run)).await
    }

    async fn update_run_status(
        &self,
        run_id: &str,
        status: CouncilRunStatus,
    ) -> Result<(), RepositoryError> {
        assert_send(self.change_run(run_id, |run| run.status = status)).await
    }

    async fn update_graph(&self, run_id: &str, graph_json: &str) -> Result<(), RepositoryError> {
        check_graph(run_id, graph_json)?;
        let graph = graph_json.to_owned();
        assert_send(self.change_run(run_id, |run| run.graph_json = Some(graph))).await
    }

    async fn append_event(&self, event: CouncilRunEvent) -> Result<(), RepositoryError> {
        assert_send(group_commit::append(&self.conn, event)).await
    }

    async fn append_events(&self, events: Vec<CouncilRunEvent>) -> Result<(), RepositoryError> {
        assert_send(self.conn.write_events(&events, true))
            .await
            .map(|_| ())
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<CouncilRun>, RepositoryError> {
        assert_send(async {
            let record = self.run_record_raw(run_id).await?;
            if record.is_undefined() {
                return Ok(None);
            }
            decode_run(&record).map(Some)
        })
        .await
    }

    async fn list_runs(
        &self,
        status_filter: Option<CouncilRunStatus>,
    ) -> Result<Vec<CouncilRun>, RepositoryError> {
        assert_send(async {
            let records = self.run_records(status_filter).await?;
            // The index is oldest first; walk it backwards.
            (0..records.length())
                .rev()
                .map(|i| decode_run(&records.get(i)))
                .collect()
        })
        .await
    }

    async fn list_events(&self, run_id: &str) -> Result<Vec<CouncilRunEvent>, RepositoryError> {
        assert_send(async {
            let records = self.event_records(run_id).await?;
            records.iter().map(|r| decode_event(&r)).collect()
        })
        .await
    }

    async fn mark_interrupted_runs(&self) -> Result<u64, RepositoryError> {
        assert_send(self.mark_interrupted_now()).await
    }

    async fn truncate_events_after_wave(
        &self,
        run_id: &str,
        wave_index: u32,
    ) -> Result<(), RepositoryError> {
        assert_send(self.truncate_now(run_id, wave_index)).await
    }
}

/// How long an open or delete may stay blocked before it is given up. Other
/// connections usually close on `versionchange` once their transactions end,
/// which takes milliseconds; one that stays open is a tab that will not yield.
const BLOCKED_GRACE_MS: u32 = 1500;

type OnGiveUp = Box<dyn FnOnce()>;

/// Raised by a `blocked` event; wakes whoever waits.
#[derive(Clone, Default)]
struct Signal(Rc<RefCell<SignalState>>);

#[derive(Default)]
struct SignalState {
    raised: bool,
    on_give_up: Option<OnGiveUp>,
    waker: Option<Waker>,
}

impl Signal {
    fn raise(&self, on_give_up: Option<OnGiveUp>) {
        let mut state = self.0.borrow_mut();
        state.raised = true;
        state.on_give_up = on_give_up;
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }
}

enum OpenFailure {
    Blocked,
    Failed(idb::Error),
}
use OpenFailure::{Blocked, Failed};

/// An open or delete request that, once blocked, waits [`BLOCKED_GRACE_MS`]
/// and then fails instead of waiting forever.
struct Blockable<F> {
    inner: F,
    blocked: Signal,
    grace: Option<wasm_bindgen_futures::JsFuture>,
}

impl<F> Blockable<F> {
    fn new(inner: F, blocked: Signal) -> Self {
        Blockable {
            inner,
            blocked,
            grace: None,
        }
    }
}

/// A promise that resolves after `ms` milliseconds, in windows and workers.
fn sleep(ms: u32) -> js_sys::Promise {
    js_sys::Promise::new(&mut |resolve, reject| {
        let set_timeout = Reflect::get(&js_sys::global(), &JsValue::from_str("setTimeout"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let started = set_timeout
            .map(|f| {
                f.call2(&JsValue::NULL, &resolve, &JsValue::from(ms))
                    .is_ok()
            })
            .unwrap_or(false);
        if !started {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("no setTimeout"));
        }
    })
}

impl<T, F: Future<Output = Result<T, idb::Error>> + Unpin> Future for Blockable<F> {
    type Output = Result<T, OpenFailure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(result) = Pin::new(&mut self.inner).poll(cx) {
            return Poll::Ready(result.map_err(Failed));
        }
        let raised = {
            let mut state = self.blocked.0.borrow_mut();
            state.waker = Some(cx.waker().clone());
            state.raised
        };
        if !raised {
            return Poll::Pending;
        }
        let grace = self
            .grace
            .get_or_insert_with(|| wasm_bindgen_futures::JsFuture::from(sleep(BLOCKED_GRACE_MS)));
        if Pin::new(grace).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let give_up = self.blocked.0.borrow_mut().on_give_up.take();
        if let Some(give_up) = give_up {
            give_up();
        }
        Poll::Ready(Err(Blocked))
    }
}
