//! The JavaScript face of the crate: the `CouncilStore` class.
//!
//! Every method takes `JsValue`s and checks them itself, so no input from
//! JavaScript can make wasm-bindgen throw a bare `TypeError` or the module
//! trap: each failure is a rejected promise carrying a `CouncilStoreError`.
//! Long strings are measured before they are copied into wasm memory.

use std::cell::RefCell;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

mod transfer;

use crate::domain::{limits, MAX_SAFE_INTEGER};
use crate::indexed_db::{
    answered, check_event_records, check_run_records, event_record, event_record_of, run_object,
    watch_events_js, watch_runs_js, IndexedDbCouncilRepository, QuickRead,
};
use crate::record::{event as ev, run as rf};
use crate::time::now_rfc3339;
use crate::vec_map::sort_unique;
use crate::{
    CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode, InMemoryCouncilRepository, NextEvent,
    Prune, RepositoryError, RunLog, RunOwnership,
};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Lifecycle status of a run. */
export type CouncilRunStatus = "running" | "awaiting_approval" | "interrupted" | "completed" | "failed";
/** Human-in-the-loop mode, least to most restrictive. */
export type HitlMode = "none" | "approve_plan" | "approve_each_node" | "approve_tools";

/** A stored run. */
export interface CouncilRun {
  id: string;
  goal: string;
  graphJson: string | null;
  status: CouncilRunStatus;
  hitlMode: HitlMode;
  conversationId: number | null;
  /** RFC 3339, as given or as made by `createRun`. */
  createdAt: string;
  updatedAt: string;
}

/** A stored event of a run's log. */
export interface CouncilRunEvent {
  runId: string;
  /** 0-based, unique within the run. */
  seq: number;
  /** One serialised orchestrator event, kept verbatim. */
  eventJson: string;
  createdAt: string;
  waveIndex: number;
}

/** What `createRun` takes; absent fields are filled in. */
export interface NewCouncilRun {
  goal: string;
  hitlMode?: HitlMode;
  conversationId?: number | null;
  graphJson?: string | null;
  /** Defaults to a random UUID v4. */
  id?: string;
  /** RFC 3339; defaults to now. */
  createdAt?: string;
}

/** What `pruneRuns` deletes: runs meeting every criterion given (at least one). */
export interface PruneOptions {
  /** Keep this many of the newest runs (by `createdAt`) whatever else holds. */
  keepLatest?: number;
  /** Only runs created before this instant. */
  olderThan?: Date | string;
  /** Only runs with one of these statuses. */
  statuses?: CouncilRunStatus[];
}

/** What `appendNext` takes: an event without a seq; `createdAt` defaults to now. */
export interface NextCouncilRunEvent {
  eventJson: string;
  waveIndex: number;
  createdAt?: string;
}

/** What `appendEvent` takes; `createdAt` defaults to now. */
export interface NewCouncilRunEvent {
  runId: string;
  seq: number;
  eventJson: string;
  waveIndex: number;
  createdAt?: string;
}

export type CouncilStoreErrorKind = "NotFound" | "AlreadyExists" | "Storage" | "Serialization" | "Constraint" | "Conflict";

/** Every rejection of a `CouncilStore` method is one of these. */
export interface CouncilStoreError extends Error {
  name: "CouncilStoreError";
  kind: CouncilStoreErrorKind;
  /** For a `Storage` error a DOMException caused: its name, e.g. `"QuotaExceededError"`. */
  domName?: string;
  /** For a `Storage` error a DOMException caused: a DOMException with its name and message. */
  cause?: DOMException;
}
"#;

/// A store of council runs and their event logs.
///
/// ```js
/// import { CouncilStore } from "council-idb";
///
/// const store = await CouncilStore.open();            // IndexedDB "council-idb"
/// await store.markInterruptedRuns();                   // runs a closed tab left behind
/// const run = await store.createRun({ goal: "Plan a launch", hitlMode: "approve_plan" });
/// await store.appendEvent({ runId: run.id, seq: 0, waveIndex: 0,
///                           eventJson: JSON.stringify({ type: "plan_proposed" }) });
/// const events = await store.listEvents(run.id);
/// ```
#[wasm_bindgen]
pub struct CouncilStore {
    adapter: Adapter,
}

/// The one adapter a store speaks to. Writes go through the port either
/// way; the IndexedDB adapter's reads hand over the records IndexedDB made
/// (checked, not decoded), the in-memory adapter's are encoded.
#[derive(Clone)]
enum Adapter {
    /// With `slow(shape, arg)`, the queued form of the quick reads (see
    /// [`IndexedDbCouncilRepository::read_now`]).
    IndexedDb(Rc<IndexedDbCouncilRepository>, Function),
    /// With the hub its watchers listen on (an IndexedDB store's watchers
    /// listen on the database's channel).
    Memory(Rc<InMemoryCouncilRepository>, JsValue),
}

impl std::fmt::Debug for CouncilStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CouncilStore")
            .field(
                "indexed_db",
                &match &self.adapter {
                    Adapter::IndexedDb(idb, _) => Some(idb.name()),
                    Adapter::Memory(..) => None,
                },
            )
            .finish()
    }
}

/// Everything `CouncilStore` asks of an adapter: the port, ownership and the
/// run log.
trait Backend: RunOwnership + RunLog {}
impl<T: RunOwnership + RunLog> Backend for T {}

/// The error every rejection carries: an `Error` named `CouncilStoreError`
/// with the variant in `kind`; a `Storage` error that a DOMException caused
/// also carries its name in `domName` and, in `cause`, a DOMException of that
/// name with the browser's message. JavaScript builds it in one call, and
/// finds the name as [`RepositoryError::dom_name`] does: splitting the
/// message here would cost 1.5 KB of wasm, more than the rest of this module's
/// error paths.
fn js_error(err: RepositoryError) -> JsValue {
    error_value(err, &JsValue::FALSE)
}

/// [`js_error`], or with `reject` a promise rejected with it. (The texts
/// are handed over as JavaScript strings: `&str` arguments have glue of
/// their own.)
fn error_value(err: RepositoryError, reject: &JsValue) -> JsValue {
    store_error(&err.message().into(), &err.kind().into(), reject)
}

fn constraint(message: String) -> RepositoryError {
    RepositoryError::Constraint(message)
}

type Work = Pin<Box<dyn Future<Output = Result<JsValue, RepositoryError>>>>;

/// Runs `work` as a promise that rejects with a `CouncilStoreError`.
fn promise(work: impl Future<Output = Result<JsValue, RepositoryError>> + 'static) -> Promise {
    run_as_promise(Box::pin(work))
}

/// One instance for every method: keeps the promise machinery from being
/// compiled again for each method's future type (about 10 KB of wasm).
///
/// `work` is polled once at once, inside the JavaScript call, so the store
/// receives the call in the order JavaScript made it (and a call that is
/// settled at once costs no trip through the task queue).
fn run_as_promise(mut work: Work) -> Promise {
    let mut cx = Context::from_waker(Waker::noop());
    match work.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(value)) => Promise::resolve(&value),
        Poll::Ready(Err(e)) => rejected(e),
        Poll::Pending => wasm_bindgen_futures::future_to_promise(Rejecting(work)),
    }
}

/// `work` with its error made a `CouncilStoreError`: a future written out
/// rather than an async block, which would be a state machine of its own.
struct Rejecting(Work);

impl Future for Rejecting {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0
            .as_mut()
            .poll(cx)
            .map(|outcome| outcome.map_err(js_error))
    }
}

/// A promise of `undefined` once `done` succeeds.
fn resolves_undefined(
    done: impl Future<Output = Result<(), RepositoryError>> + Unpin + 'static,
) -> Promise {
    promise(Undefined(done))
}

/// `done` answering `undefined`: a future written out rather than an async
/// block, which would be a state machine of its own.
struct Undefined<F>(F);

impl<F: Future<Output = Result<(), RepositoryError>> + Unpin> Future for Undefined<F> {
    type Output = Result<JsValue, RepositoryError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|done| done.map(|()| JsValue::UNDEFINED))
    }
}

/// A promise settled already with `outcome`: an in-memory store's reads,
/// done at once.
fn settled(outcome: Result<JsValue, RepositoryError>) -> Promise {
    match outcome {
        Ok(value) => Promise::resolve(&value),
        Err(e) => rejected(e),
    }
}

/// A promise rejected with `err`'s `CouncilStoreError`, made in the same
/// call (one import fewer than `Promise.reject`).
pub(crate) fn rejected(err: RepositoryError) -> Promise {
    error_value(err, &JsValue::TRUE).unchecked_into()
}

/// Reads a string argument, measuring it before copying it into wasm memory.
/// `what` names the argument in errors; it is formatted only for one (a
/// label built per field would cost more than the checks).
fn string_arg(
    value: &JsValue,
    what: &dyn Display,
    max_bytes: usize,
) -> Result<String, RepositoryError> {
    // One call checks the type, the length and the text. A UTF-16 unit
    // takes at least one UTF-8 byte, so the length bound is safe.
    let (mut problem, mut bytes) = (string_check(value, max_bytes as f64), 0);
    if problem == WELL_FORMED {
        // (A string: checked above. `String::from(&JsString)` would carry
        // a throwing path for none.)
        let text = value.as_string().unwrap_or_default();
        if text.len() <= max_bytes {
            return Ok(text);
        }
        (problem, bytes) = (TOO_MANY_BYTES, text.len());
    }
    Err(arg_error(
        what,
        value,
        problem,
        &JsValue::from_f64(max_bytes as f64),
        bytes as f64,
    ))
}

/// What [`string_check`] answers for a well-formed string short enough.
const WELL_FORMED: i32 = -1;
/// The problems of an argument, for glue.js's `argError`; its others are
/// [`string_check`]'s answers: -2 not a string, -3 too long, or the index
/// of an unpaired surrogate.
const TOO_MANY_BYTES: i32 = -4;
const NOT_AN_INTEGER: i32 = -5;
const NOT_ONE_OF: i32 = -6;
const NOT_EXPECTED: i32 = -7;
const UNKNOWN_FIELD: i32 = -8;
const UNREADABLE: i32 = -9;
const ITEMS_UNREADABLE: i32 = -10;
const NOT_AN_ARRAY_OF_EVENTS: i32 = -11;

/// The `Constraint` error of argument `what`, worded by glue.js's
/// `argError` from `problem` and its details `a` and `b` (see there), and
/// the value given: the messages and their formatting live there, made
/// only for an argument refused.
fn arg_error(
    what: &dyn Display,
    value: &JsValue,
    problem: i32,
    a: &JsValue,
    b: f64,
) -> RepositoryError {
    constraint(
        arg_error_js(&what.to_string().into(), value, problem, a, b)
            .as_string()
            .unwrap_or_default(),
    )
}

/// Reads an integer argument in `min..=max`.
fn integer_arg(
    value: &JsValue,
    what: &dyn Display,
    min: i64,
    max: i64,
) -> Result<i64, RepositoryError> {
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= max as f64 => Ok(n as i64),
        _ => Err(arg_error(
            what,
            value,
            NOT_AN_INTEGER,
            &JsValue::from_f64(min as f64),
            max as f64,
        )),
    }
}

fn status_arg(value: &JsValue, what: &str) -> Result<CouncilRunStatus, RepositoryError> {
    let text = value.as_string().unwrap_or_default();
    CouncilRunStatus::parse(&text).ok_or_else(|| {
        let names = names_of(&CouncilRunStatus::name_at);
        arg_error(&what, value, NOT_ONE_OF, &names, 0.0)
    })
}

/// The names `name(0)`, `name(1)`... as a JavaScript array, for an error:
/// one loop for the statuses and the HITL modes.
fn names_of(name: &dyn Fn(usize) -> Option<&'static str>) -> Array {
    let names = Array::new();
    let mut i = 0;
    while let Some(name) = name(i) {
        names.push(&name.into());
        i += 1;
    }
    names
}

/// `"{what} must be {expected}, got {value described}"`: the argument errors
/// that expect a kind of value.
fn refused(what: &dyn Display, expected: &str, value: &JsValue) -> RepositoryError {
    arg_error(what, value, NOT_EXPECTED, &expected.into(), 0.0)
}

thread_local! {
    /// Field names and lists of them as JavaScript values, made once each,
    /// by the address and length of the `'static` name or list. (A list
    /// searched in order: there are a few dozen, and a sorted map's search
    /// and insert cost more wasm than the scan costs time. Made empty by a
    /// `const` initialiser: no code to make it on first use.)
    static NAMES: RefCell<Vec<((usize, usize), JsValue)>> = const { RefCell::new(Vec::new()) };
}

/// The value cached for `address`, made by `make` the first time. (`make`
/// as a `dyn Fn`: one instance for names and lists of names.)
fn cached(address: (usize, usize), make: &dyn Fn() -> JsValue) -> JsValue {
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        for (at, value) in names.iter() {
            if *at == address {
                return value.clone();
            }
        }
        let value = make();
        names.push((address, value.clone()));
        value
    })
}

fn key_name(key: &'static str) -> JsValue {
    cached((key.as_ptr() as usize, key.len()), &|| {
        JsValue::from_str(key)
    })
}

/// The names `known` as a JavaScript array.
fn known_names(known: &'static [&'static str]) -> Array {
    cached((known.as_ptr() as usize, known.len()), &|| {
        names_of(&|i| known.get(i).copied()).into()
    })
    .unchecked_into()
}

/// The items of an array argument, copied in one call so that reading them
/// cannot throw; `Constraint` when they cannot be read.
fn array_items(array: &JsValue, what: &str) -> Result<Array, RepositoryError> {
    array_items_js(array)
        .ok_or_else(|| arg_error(&what, array, ITEMS_UNREADABLE, &JsValue::UNDEFINED, 0.0))
}

/// `what.key`, written out only for an error message.
struct FieldLabel<'k>(&'static str, &'k str);

impl Display for FieldLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// A plain-object argument whose fields are read one by one; fields it does
/// not know are refused, so a typo never passes silently.
struct Fields<'a> {
    object: &'a Object,
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn new(
        value: &'a JsValue,
        what: &'static str,
        known: &'static [&'static str],
    ) -> Result<Self, RepositoryError> {
        // One call into JavaScript checks that it is an object and finds a
        // key it does not know, rather than each key copied into wasm.
        let names = known_names(known);
        let unknown = unknown_key(value, &names);
        if unknown.is_undefined() {
            let object = value.unchecked_ref();
            return Ok(Fields { object, what });
        }
        if unknown.as_f64().is_some() {
            return Err(refused(&what, "an object", value));
        }
        // The key, or `null` when the keys cannot be listed.
        Err(arg_error(&what, &unknown, UNKNOWN_FIELD, &names, 0.0))
    }

    fn get(&self, key: &'static str) -> Result<JsValue, RepositoryError> {
        Reflect::get(self.object, &key_name(key)).map_err(|_| {
            arg_error(
                &self.label(key),
                &JsValue::UNDEFINED,
                UNREADABLE,
                &JsValue::UNDEFINED,
                0.0,
            )
        })
    }

    fn label<'k>(&self, key: &'k str) -> FieldLabel<'k> {
        FieldLabel(self.what, key)
    }

    fn string(&self, key: &'static str, max: usize) -> Result<String, RepositoryError> {
        string_arg(&self.get(key)?, &self.label(key), max)
    }

    /// `None` for an absent or `undefined` field; `null` is refused unless
    /// `null_ok`, since it means "no value" only where the record says so.
    fn optional(
        &self,
        key: &'static str,
        null_ok: bool,
    ) -> Result<Option<JsValue>, RepositoryError> {
        let value = self.get(key)?;
        if value.is_undefined() || (null_ok && value.is_null()) {
            Ok(None)
        } else {
            Ok(Some(value))
        }
    }

    fn opt_string(
        &self,
        key: &'static str,
        max: usize,
        null_ok: bool,
    ) -> Result<Option<String>, RepositoryError> {
        match self.optional(key, null_ok)? {
            Some(v) => string_arg(&v, &self.label(key), max).map(Some),
            None => Ok(None),
        }
    }

    fn integer(&self, key: &'static str, min: i64, max: i64) -> Result<i64, RepositoryError> {
        integer_arg(&self.get(key)?, &self.label(key), min, max)
    }
}

fn new_run(input: &JsValue) -> Result<CouncilRun, RepositoryError> {
    let f = Fields::new(input, "createRun input", &rf::INPUT)?;
    let goal = f.string(rf::GOAL, limits::GOAL_BYTES)?;
    let hitl_mode = match f.optional(rf::HITL_MODE, false)? {
        None => HitlMode::default(),
        Some(v) => HitlMode::parse(&v.as_string().unwrap_or_default()).ok_or_else(|| {
            let names = names_of(&HitlMode::name_at);
            arg_error(&f.label(rf::HITL_MODE), &v, NOT_ONE_OF, &names, 0.0)
        })?,
    };
    let conversation_id = match f.optional(rf::CONVERSATION_ID, true)? {
        Some(v) => Some(integer_arg(
            &v,
            &f.label(rf::CONVERSATION_ID),
            -MAX_SAFE_INTEGER,
            MAX_SAFE_INTEGER,
        )?),
        None => None,
    };
    let graph_json = f.opt_string(rf::GRAPH_JSON, limits::JSON_BYTES, true)?;
    let id = f.opt_string(rf::ID, limits::ID_BYTES, false)?;
    let created_at = match f.opt_string(rf::CREATED_AT, 64, false)? {
        Some(at) => at,
        None => now_rfc3339(),
    };
    // What `CouncilRun::new` fills in, made only where absent: a random id
    // costs a call into JavaScript. (Made there, bytes and text: the `uuid`
    // crate's generator and encoder cost more wasm than glue.)
    Ok(CouncilRun {
        id: match id {
            Some(id) => id,
            None => new_run_id().as_string().unwrap_or_default(),
        },
        goal,
        graph_json,
        status: CouncilRunStatus::Running,
        hitl_mode,
        conversation_id,
        updated_at: created_at.clone(),
        created_at,
    })
}

/// An event argument, and its stored record made from the caller's own
/// strings (nothing is copied back out of wasm to build it).
fn new_event(
    input: &JsValue,
    what: &'static str,
) -> Result<(CouncilRunEvent, JsValue), RepositoryError> {
    let f = Fields::new(input, what, &ev::ALL)?;
    let run_id_value = f.get(ev::RUN_ID)?;
    let run_id = string_arg(&run_id_value, &f.label(ev::RUN_ID), limits::ID_BYTES)?;
    let seq = f.integer(ev::SEQ, 0, MAX_SAFE_INTEGER)?;
    let json_value = f.get(ev::EVENT_JSON)?;
    let event_json = string_arg(&json_value, &f.label(ev::EVENT_JSON), limits::JSON_BYTES)?;
    let wave_index = f.integer(ev::WAVE_INDEX, 0, i64::from(u32::MAX))? as u32;
    let (created_at, created_value) = match f.optional(ev::CREATED_AT, false)? {
        Some(value) => (string_arg(&value, &f.label(ev::CREATED_AT), 64)?, value),
        None => {
            let now = now_rfc3339();
            let value = JsValue::from_str(&now);
            (now, value)
        }
    };
    let record = event_record_of(
        &run_id_value,
        seq as f64,
        &json_value,
        &created_value,
        f64::from(wave_index),
    );
    let event = CouncilRunEvent {
        run_id,
        seq,
        event_json,
        wave_index,
        created_at,
    };
    Ok((event, record))
}

fn next_event(run_id: String, input: &JsValue) -> Result<NextEvent, RepositoryError> {
    let f = Fields::new(input, "appendNext event", &ev::NEXT)?;
    Ok(NextEvent {
        run_id,
        event_json: f.string(ev::EVENT_JSON, limits::JSON_BYTES)?,
        wave_index: f.integer(ev::WAVE_INDEX, 0, i64::from(u32::MAX))? as u32,
        created_at: match f.opt_string(ev::CREATED_AT, 64, false)? {
            Some(at) => at,
            None => now_rfc3339(),
        },
    })
}

/// `read` through the store's queue. The array IndexedDB made is handed
/// over as it is, once every record in it is checked.
fn queued_read(idb: &IndexedDbCouncilRepository, read: &QuickRead) -> Promise {
    // Queued here, in the call: the future awaits one answer type and
    // keeps only which read it was.
    let (shape, answer) = match read {
        QuickRead::Run(run_id) => (QuickRead::RUN, idb.run_record_raw(run_id)),
        QuickRead::Runs(filter) => (QuickRead::RUNS, idb.run_records(*filter)),
        QuickRead::Events(run_id) => (QuickRead::EVENTS, idb.event_records(run_id)),
    };
    checked_answer(shape, answer)
}

/// The `shape` of a watcher's tail read for [`checked_answer`], after
/// [`QuickRead`]'s.
const TAIL: u32 = 3;

/// The promise of `answer`, a read of `shape`, once its records are
/// checked. (One async block for the queued reads and a watcher's: each is
/// a state machine of its own in wasm. `answer` is always the store's
/// `Answer<JsValue>`: one instance.)
fn checked_answer(
    shape: u32,
    answer: impl Future<Output = Result<JsValue, RepositoryError>> + 'static,
) -> Promise {
    promise(async move {
        let records = answer.await?;
        Ok(match shape {
            QuickRead::RUN => {
                if records.is_undefined() {
                    JsValue::UNDEFINED
                } else {
                    checked_runs(Array::of1(&records))?.get(0)
                }
            }
            QuickRead::RUNS => checked_runs(records.unchecked_into())?.into(),
            TAIL => {
                let events: Array = Reflect::get(&records, &key_name("events"))
                    .map(JsCast::unchecked_into)
                    .unwrap_or_default();
                check_event_records(&events)?;
                records
            }
            _ => {
                check_event_records(records.unchecked_ref())?;
                records
            }
        })
    })
}

/// `slow(shape, arg, found)` for the quick reads of a store: with `found`
/// (what the quick read found, with a record its check refused), those
/// records through the checks of the queued read; without (the request
/// failed), the queued read of the same. `found` is read in the read's own
/// place in call order: a read queued now would follow the calls made
/// since, and see a later write (or a `close()`) instead of the malformed
/// record. It holds the store weakly (a quick read in flight must not keep
/// a freed store open); JavaScript owns the function.
fn slow_reads(idb: Weak<IndexedDbCouncilRepository>) -> Function {
    Closure::<dyn FnMut(u32, JsValue, JsValue) -> Promise>::new(
        move |shape: u32, arg: JsValue, found: JsValue| {
            if !found.is_undefined() {
                return checked_answer(shape, answered(found));
            }
            let Some(idb) = idb.upgrade() else {
                return rejected(RepositoryError::Storage("the store is gone".into()));
            };
            let text = arg.as_string();
            let id = text.as_deref().unwrap_or_default();
            let read = match shape {
                QuickRead::RUN => QuickRead::Run(id),
                QuickRead::RUNS => {
                    QuickRead::Runs(text.as_deref().and_then(CouncilRunStatus::parse))
                }
                _ => QuickRead::Events(id),
            };
            queued_read(&idb, &read)
        },
    )
    .into_js_value()
    .unchecked_into()
}

fn run_to_js(run: &CouncilRun) -> Result<JsValue, RepositoryError> {
    run_object(run).map(JsValue::from)
}

/// Runs or events as a JavaScript array of records.
fn to_array<T>(
    items: &[T],
    record: fn(&T) -> Result<JsValue, RepositoryError>,
) -> Result<Array, RepositoryError> {
    let out = Array::new_with_length(items.len() as u32);
    for (i, item) in items.iter().enumerate() {
        out.set(i as u32, record(item)?);
    }
    Ok(out)
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = newHub)]
    fn new_hub() -> JsValue;
    #[wasm_bindgen(js_name = memoryTail)]
    fn memory_tail(rewinds: &JsValue, events: &JsValue) -> JsValue;
    fn rewind(after_wave: f64, next_seq: f64) -> JsValue;
    #[wasm_bindgen(js_name = notifyHub)]
    fn notify_hub(hub: &JsValue, kind: &str, run_id: &str, a: &JsValue, b: &JsValue);
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = publicRuns)]
    fn public_runs(records: Array) -> Array;
    /// The message of an argument error (see [`arg_error`]). (`JsValue`s
    /// rather than a `&str` and a `String`, which have glue of their own.)
    #[wasm_bindgen(js_name = argError)]
    fn arg_error_js(what: &JsValue, value: &JsValue, problem: i32, a: &JsValue, b: f64) -> JsValue;
    /// For [`string_arg`]: -2 for a value that is not a string, -3 for one
    /// of more than `max` UTF-16 units, else the index of the first
    /// unpaired surrogate, or [`WELL_FORMED`]. (`max` an `f64`: a `u32`
    /// argument has glue of its own.)
    #[wasm_bindgen(js_name = stringCheck)]
    fn string_check(value: &JsValue, max: f64) -> i32;
    #[wasm_bindgen(js_name = arrayItems)]
    fn array_items_js(array: &JsValue) -> Option<Array>;
    #[wasm_bindgen(js_name = unknownKey)]
    fn unknown_key(value: &JsValue, known: &Array) -> JsValue;
    /// A random UUID v4, lowercase and hyphenated, as `CouncilRun::new`
    /// makes one.
    #[wasm_bindgen(js_name = newRunId)]
    /// (A `JsValue`, read with `as_string`: a `String` return has glue of
    /// its own.)
    fn new_run_id() -> JsValue;
    #[wasm_bindgen(js_name = councilStoreError)]
    fn store_error(message: &JsValue, kind: &JsValue, reject: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = persistStorage)]
    fn persist_storage() -> Promise;
    #[wasm_bindgen(js_name = estimateStorage)]
    fn estimate_storage() -> Promise;
    #[wasm_bindgen(js_name = isAbortSignal)]
    fn is_abort_signal(value: &JsValue) -> bool;
    /// For `pruneRuns`' `olderThan`: a `Date`'s `toISOString()`, `null`
    /// for an invalid `Date`, `undefined` for any other value.
    #[wasm_bindgen(js_name = dateIso)]
    fn date_iso(value: &JsValue) -> JsValue;
}

/// `CouncilStore.open(name)` when `open`, else `deleteDatabase(name)`: one
/// async body for both (each is a state machine of its own in wasm).
fn database_call(name: Result<String, RepositoryError>, open: bool) -> Promise {
    // A bad name is refused here, not carried into the async body.
    let name = match name {
        Ok(name) => name,
        Err(e) => return rejected(e),
    };
    promise(async move {
        Ok(if open {
            let repo = Rc::new(IndexedDbCouncilRepository::open(&name).await?);
            let slow = slow_reads(Rc::downgrade(&repo));
            CouncilStore {
                adapter: Adapter::IndexedDb(repo, slow),
            }
            .into()
        } else {
            IndexedDbCouncilRepository::delete_database(&name).await?;
            JsValue::UNDEFINED
        })
    })
}

/// Checks stored run records and hands them over as they are, newest first.
fn checked_runs(records: Array) -> Result<Array, RepositoryError> {
    check_run_records(&records)?;
    Ok(public_runs(records))
}

#[wasm_bindgen]
impl CouncilStore {
    /// Opens (creating if needed) the IndexedDB database `name`, default
    /// `"council-idb"`. Rejects with a `Storage` error when IndexedDB is
    /// unavailable, the open is blocked, or the database is not ours.
    #[wasm_bindgen(unchecked_return_type = "Promise<CouncilStore>")]
    pub fn open(
        #[wasm_bindgen(unchecked_optional_param_type = "string")] name: JsValue,
    ) -> Promise {
        // The optional arguments are plain `JsValue`s rather than `Option`s,
        // absent when `null` or `undefined` as an `Option` would be: no
        // externref table slot taken in JavaScript and given back in wasm.
        let name = if name.is_undefined() || name.is_null() {
            Ok("council-idb".to_owned())
        } else {
            string_arg(&name, &"database name", 1024)
        };
        database_call(name, true)
    }

    /// A store kept in memory only, gone with the page; same contract.
    #[wasm_bindgen(js_name = inMemory)]
    pub fn in_memory() -> CouncilStore {
        CouncilStore {
            adapter: Adapter::Memory(Rc::new(InMemoryCouncilRepository::new()), new_hub()),
        }
    }

    /// Deletes the IndexedDB database `name` (close stores using it first).
    #[wasm_bindgen(js_name = deleteDatabase, unchecked_return_type = "Promise<void>")]
    pub fn delete_database(
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Promise {
        database_call(string_arg(&name, &"database name", 1024), false)
    }

    /// Stores a new run and resolves to it. Fills `id` (UUID v4), `status`
    /// (`"running"`), `hitlMode` (`"none"`) and the timestamps where absent.
    /// Rejects with `AlreadyExists` for a taken id, `Constraint` for bad input.
    #[wasm_bindgen(js_name = createRun, unchecked_return_type = "Promise<CouncilRun>")]
    pub fn create_run(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewCouncilRun")] input: JsValue,
    ) -> Promise {
        self.perform(new_run(&input).map(Call::CreateRun))
    }

    /// Sets a run's status. `"running"` makes this store the run's owner;
    /// `"completed"`, `"failed"` and `"interrupted"` give it up. Rejects
    /// with `NotFound` for an unknown run, `Conflict` when another live store
    /// (tab, worker) owns it.
    #[wasm_bindgen(js_name = updateRunStatus, unchecked_return_type = "Promise<void>")]
    pub fn update_run_status(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CouncilRunStatus")] status: JsValue,
    ) -> Promise {
        self.perform(
            string_arg(&run_id, &"runId", limits::ID_BYTES)
                .and_then(|id| Ok(Call::UpdateRunStatus(id, status_arg(&status, "status")?))),
        )
    }

    /// Replaces a run's serialised task graph. Rejects with `NotFound` for an
    /// unknown run.
    #[wasm_bindgen(js_name = updateGraph, unchecked_return_type = "Promise<void>")]
    pub fn update_graph(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
        #[wasm_bindgen(js_name = graphJson, unchecked_param_type = "string")] graph_json: JsValue,
    ) -> Promise {
        self.perform(
            string_arg(&run_id, &"runId", limits::ID_BYTES).and_then(|id| {
                let graph = string_arg(&graph_json, &"graphJson", limits::JSON_BYTES)?;
                Ok(Call::UpdateGraph(id, graph))
            }),
        )
    }

    /// Appends one event. Rejects with `NotFound` for an unknown run and
    /// `Constraint` for a bad event or a different event at the same `seq`;
    /// the same event again is a no-op.
    #[wasm_bindgen(js_name = appendEvent, unchecked_return_type = "Promise<void>")]
    pub fn append_event(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewCouncilRunEvent")] event: JsValue,
    ) -> Promise {
        let (event, record) = match new_event(&event, "event") {
            Ok(parsed) => parsed,
            Err(e) => return rejected(e),
        };
        match &self.adapter {
            Adapter::IndexedDb(idb, _) => resolves_undefined(idb.append_record(event, record)),
            Adapter::Memory(..) => self.perform(Ok(Call::AppendEvent(event))),
        }
    }

    /// Appends many events in one transaction, all or nothing: each is
    /// checked as by `appendEvent`, and the first failure rejects the call
    /// with nothing written.
    #[wasm_bindgen(js_name = appendEvents, unchecked_return_type = "Promise<void>")]
    pub fn append_events(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewCouncilRunEvent[]")] events: JsValue,
    ) -> Promise {
        let (events, records) = match parse_events(&events) {
            Ok(parsed) => parsed,
            Err(e) => return rejected(e),
        };
        match &self.adapter {
            Adapter::IndexedDb(idb, _) => resolves_undefined(idb.append_records(events, records)),
            Adapter::Memory(..) => self.perform(Ok(Call::AppendEvents(events))),
        }
    }

    /// Resolves to the run, or `undefined` when there is none.
    #[wasm_bindgen(js_name = getRun, unchecked_return_type = "Promise<CouncilRun | undefined>")]
    pub fn get_run(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
    ) -> Promise {
        match string_arg(&run_id, &"runId", limits::ID_BYTES) {
            Ok(id) => self.read(QuickRead::Run(&id)),
            Err(e) => rejected(e),
        }
    }

    /// Runs newest first (by the instant of `createdAt`), optionally only
    /// those with `status`.
    #[wasm_bindgen(js_name = listRuns, unchecked_return_type = "Promise<CouncilRun[]>")]
    pub fn list_runs(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CouncilRunStatus")] status: JsValue,
    ) -> Promise {
        let filter = if status.is_undefined() || status.is_null() {
            None
        } else {
            match status_arg(&status, "status") {
                Ok(status) => Some(status),
                Err(e) => return rejected(e),
            }
        };
        self.read(QuickRead::Runs(filter))
    }

    /// The run's events in ascending `seq`; empty for an unknown run.
    #[wasm_bindgen(js_name = listEvents, unchecked_return_type = "Promise<CouncilRunEvent[]>")]
    pub fn list_events(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
    ) -> Promise {
        match string_arg(&run_id, &"runId", limits::ID_BYTES) {
            Ok(id) => self.read(QuickRead::Events(&id)),
            Err(e) => rejected(e),
        }
    }

    /// Turns every `"running"` run into `"interrupted"`, except runs another
    /// live store (tab, worker) owns; resolves to how many. Call it once when
    /// the page loads.
    #[wasm_bindgen(js_name = markInterruptedRuns, unchecked_return_type = "Promise<number>")]
    pub fn mark_interrupted_runs(&self) -> Promise {
        self.perform(Ok(Call::MarkInterruptedRuns))
    }

    /// Deletes the run's events with `waveIndex` greater than `waveIndex`.
    /// Rejects with `NotFound` for an unknown run.
    #[wasm_bindgen(js_name = truncateEventsAfterWave, unchecked_return_type = "Promise<void>")]
    pub fn truncate_events_after_wave(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
        #[wasm_bindgen(js_name = waveIndex, unchecked_param_type = "number")] wave_index: JsValue,
    ) -> Promise {
        self.perform(
            string_arg(&run_id, &"runId", limits::ID_BYTES).and_then(|id| {
                let wave = integer_arg(&wave_index, &"waveIndex", 0, i64::from(u32::MAX))?;
                Ok(Call::TruncateEventsAfterWave(id, wave as u32))
            }),
        )
    }

    /// The seq after the last stored event of the run (0 for an empty log),
    /// read from the last key rather than the log. Rejects with `NotFound`
    /// for an unknown run.
    #[wasm_bindgen(js_name = nextSeq, unchecked_return_type = "Promise<number>")]
    pub fn next_seq(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
    ) -> Promise {
        self.perform(string_arg(&run_id, &"runId", limits::ID_BYTES).map(Call::NextSeq))
    }

    /// Appends an event with the seq after the last one of its run, given in
    /// the transaction that writes it, and resolves to that seq. Calls not
    /// awaited get consecutive seqs in call order and share transactions;
    /// after a rewind, numbering goes on after the last kept event. Rejects
    /// as `appendEvent` does.
    #[wasm_bindgen(js_name = appendNext, unchecked_return_type = "Promise<number>")]
    pub fn append_next(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "NextCouncilRunEvent")] event: JsValue,
    ) -> Promise {
        self.perform(
            string_arg(&run_id, &"runId", limits::ID_BYTES)
                .and_then(|run_id| next_event(run_id, &event))
                .map(Call::AppendNext),
        )
    }

    /// Deletes a run and all its events in one transaction. Rejects with
    /// `NotFound` for an unknown run and `Conflict` when another live store
    /// owns it.
    #[wasm_bindgen(js_name = deleteRun, unchecked_return_type = "Promise<void>")]
    pub fn delete_run(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
    ) -> Promise {
        self.perform(string_arg(&run_id, &"runId", limits::ID_BYTES).map(Call::DeleteRun))
    }

    /// Deletes whole runs with their events and resolves to how many went:
    /// the runs created before `olderThan` (a `Date` or RFC 3339 string),
    /// with one of `statuses`, beyond the `keepLatest` newest; a run goes when
    /// it meets every criterion given, and at least one must be given. A run
    /// a live store owns (another tab or worker, or this store) is never
    /// deleted. Rejects with `Constraint` for bad options.
    #[wasm_bindgen(js_name = pruneRuns, unchecked_return_type = "Promise<number>")]
    pub fn prune_runs(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PruneOptions")] options: JsValue,
    ) -> Promise {
        self.perform(prune_options(&options).map(Call::PruneRuns))
    }

    /// Asks the browser to keep this origin's storage (IndexedDB included)
    /// under storage pressure and, in Safari, past its seven days without a
    /// visit. Resolves to whether storage is persistent now: `false` where the
    /// browser refuses or has no `navigator.storage.persist` (workers,
    /// insecure pages). Firefox may ask the user first.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn persist() -> Promise {
        persist_storage()
    }

    /// This origin's storage use and quota in bytes, as the browser estimates
    /// them; `{ usage: 0, quota: 0 }` where it has no
    /// `navigator.storage.estimate`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ usage: number; quota: number }>")]
    pub fn estimate() -> Promise {
        estimate_storage()
    }

    /// Makes this store the owner of a stored run, so that no other tab,
    /// worker or store writes to it. Resolves to `true` when this store owns
    /// it now, `false` when another live store does. Rejects with `NotFound`
    /// for an unknown run.
    #[wasm_bindgen(js_name = claimRun, unchecked_return_type = "Promise<boolean>")]
    pub fn claim_run(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
    ) -> Promise {
        self.perform(string_arg(&run_id, &"runId", limits::ID_BYTES).map(Call::ClaimRun))
    }

    /// Gives up this store's ownership of a run (if it had it), so that
    /// another tab may claim it.
    #[wasm_bindgen(js_name = releaseRun, unchecked_return_type = "Promise<void>")]
    pub fn release_run(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id: JsValue,
    ) -> Promise {
        self.perform(string_arg(&run_id, &"runId", limits::ID_BYTES).map(Call::ReleaseRun))
    }

    /// Ids of the runs another live store (another tab, worker or store
    /// instance) owns, sorted: show them as "running elsewhere" rather than
    /// offering to resume them. Always `[]` for an in-memory store and where
    /// the browser has no Web Locks.
    #[wasm_bindgen(js_name = runsOwnedElsewhere, unchecked_return_type = "Promise<string[]>")]
    pub fn runs_owned_elsewhere(&self) -> Promise {
        self.perform(Ok(Call::RunsOwnedElsewhere))
    }

    /// Follows one run's log, live: `onBatch` first receives the stored
    /// events with `seq >= fromSeq`, then every event committed later by
    /// this store or any other store of the database in this origin (other
    /// tabs, workers), as arrays in `seq` order, each event once. A
    /// truncation delivers `{ rewound: { afterWave, nextSeq } }` before what
    /// is appended after it (drop your events with `waveIndex > afterWave` or
    /// `seq >= nextSeq`); a deleted (or unknown) run delivers
    /// `{ deleted: true }` and ends the watch. Returns the function that stops
    /// it (so does aborting `signal`). An exception thrown by `onBatch` is
    /// reported (`reportError`) and the watch goes on.
    #[wasm_bindgen(js_name = watchEvents, unchecked_return_type = "() => void")]
    pub fn watch_events(
        &self,
        #[wasm_bindgen(js_name = runId, unchecked_param_type = "string")] run_id_value: &JsValue,
        #[wasm_bindgen(
            unchecked_param_type = "{ fromSeq?: number; signal?: AbortSignal } | undefined"
        )]
        options: &JsValue,
        #[wasm_bindgen(
            js_name = onBatch,
            unchecked_param_type = "(batch: CouncilRunEvent[] | { rewound: { afterWave: number; nextSeq: number } } | { deleted: true }) => void"
        )]
        on_batch: &JsValue,
    ) -> Result<JsValue, JsValue> {
        let run_id = string_arg(run_id_value, &"runId", limits::ID_BYTES).map_err(js_error)?;
        let (from_seq, signal) = watch_options(options).map_err(js_error)?;
        let on_batch = callback_arg(on_batch, "onBatch").map_err(js_error)?;
        let read = self.tail_reader(run_id);
        let (channel, hub) = self.feed();
        Ok(watch_events_js(
            &read,
            &channel,
            &hub,
            run_id_value,
            from_seq as f64,
            &signal,
            &on_batch,
        )
        .into())
    }

    /// Follows every run of the database: `onChange` receives
    /// `{ kind, runId, status?, afterWave?, nextSeq? }` (`status` with
    /// "status", `afterWave` and `nextSeq` with "rewound", as in
    /// `watchEvents`) for runs created, whose status or graph
    /// changed, that got events, were rewound or deleted, or changed owner
    /// ("created", "status", "graph", "appended", "rewound", "deleted",
    /// "owner"), in this store or any other of the database in this origin.
    /// Returns the function that stops it.
    #[wasm_bindgen(js_name = watchRuns, unchecked_return_type = "() => void")]
    pub fn watch_runs(
        &self,
        #[wasm_bindgen(
            js_name = onChange,
            unchecked_param_type = "(change: { kind: string; runId: string; status?: CouncilRunStatus; afterWave?: number; nextSeq?: number }) => void"
        )]
        on_change: &JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "{ signal?: AbortSignal }")]
        options: &JsValue,
    ) -> Result<JsValue, JsValue> {
        let on_change = callback_arg(on_change, "onChange").map_err(js_error)?;
        let signal = if options.is_undefined() || options.is_null() {
            JsValue::UNDEFINED
        } else {
            let f = Fields::new(options, "watchRuns options", &["signal"]).map_err(js_error)?;
            signal_arg(f.get("signal").map_err(js_error)?).map_err(js_error)?
        };
        let (channel, hub) = self.feed();
        Ok(watch_runs_js(&channel, &hub, &signal, &on_change).into())
    }

    /// Closes the IndexedDB connection once the calls made before have run,
    /// and gives up the runs this store owns; later calls reject with
    /// `Storage`. Does nothing for an in-memory store.
    pub fn close(&self) {
        if let Adapter::IndexedDb(idb, _) = &self.adapter {
            idb.close();
        }
    }
}

/// Where an in-memory store announces its changes to its watchers; an
/// IndexedDB store announces them itself, on the database's channel.
#[derive(Clone)]
struct Notices(Option<JsValue>);

impl Notices {
    /// The detail of a notice that has none.
    const PLAIN: (JsValue, JsValue) = (JsValue::UNDEFINED, JsValue::UNDEFINED);

    /// Sends `{ kind, runId }` with its detail (`status` for "status",
    /// `afterWave` and `nextSeq` for "rewound": `detail`'s two values), as
    /// an IndexedDB store's notices have it; made in JavaScript: one call
    /// rather than an object and a property set per field from here.
    fn post_with(&self, kind: &str, run_id: &str, detail: &(JsValue, JsValue)) {
        if let Some(hub) = &self.0 {
            notify_hub(hub, kind, run_id, &detail.0, &detail.1);
        }
    }

    /// Sends `{ kind, runId }`.
    fn post(&self, kind: &str, run_id: &str) {
        self.post_with(kind, run_id, &Self::PLAIN);
    }
}

/// A call of a `CouncilStore` method whose arguments are checked, for
/// [`perform`]. The methods share that one async body, rather than each
/// having its own: every async block is a state machine of its own in wasm
/// (350-550 bytes each), and most of one is the same polling, error and
/// drop code.
enum Call {
    CreateRun(CouncilRun),
    UpdateRunStatus(String, CouncilRunStatus),
    UpdateGraph(String, String),
    /// In memory only: an IndexedDB store appends the record it was given.
    AppendEvent(CouncilRunEvent),
    /// In memory only, as `AppendEvent`.
    AppendEvents(Vec<CouncilRunEvent>),
    MarkInterruptedRuns,
    TruncateEventsAfterWave(String, u32),
    NextSeq(String),
    AppendNext(NextEvent),
    DeleteRun(String),
    PruneRuns(Prune),
    ClaimRun(String),
    ReleaseRun(String),
    RunsOwnedElsewhere,
}

/// A port call begun by [`perform`], by the kind of its answer: the async
/// body awaits once per kind of answer rather than once per method (each
/// await is a state of its own in wasm, with its own polling and drop code).
enum Begun<'a> {
    Done(PortFuture<'a, ()>),
    Seq(PortFuture<'a, i64>),
    Count(PortFuture<'a, u64>),
    Claimed(PortFuture<'a, bool>),
    Ids(PortFuture<'a, Vec<String>>),
}

type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RepositoryError>> + Send + 'a>>;

/// Does `call` through the port and tells an in-memory store's watchers
/// what changed; the value is what the method's promise resolves to.
async fn perform(
    repo: Rc<dyn Backend>,
    notices: Notices,
    call: Call,
) -> Result<JsValue, RepositoryError> {
    let repo = &*repo;
    // The run the call is about, and the other parts of the call that the
    // port's futures borrow: locals that outlive them.
    let mut id = String::new();
    let text: String;
    let prune: Prune;
    // What a call answered with nothing resolves to.
    let mut out = JsValue::UNDEFINED;
    // The notice of a change: `kind` for `id`, which is empty unless the
    // call is about one run (one that exists: the call succeeded), and for
    // each of `list`.
    let (mut kind, mut status, mut wave) = ("", None, 0);
    let mut list: Vec<String> = Vec::new();
    let begun = match call {
        Call::CreateRun(run) => {
            out = run_to_js(&run)?;
            id = run.id.clone();
            kind = "created";
            Begun::Done(repo.create_run(run))
        }
        Call::UpdateRunStatus(run_id, to) => {
            id = run_id;
            (kind, status) = ("status", Some(to.as_str()));
            Begun::Done(repo.update_run_status(&id, to))
        }
        Call::UpdateGraph(run_id, graph) => {
            (id, text) = (run_id, graph);
            kind = "graph";
            Begun::Done(repo.update_graph(&id, &text))
        }
        Call::AppendEvent(event) => {
            id = event.run_id.clone();
            kind = "appended";
            Begun::Done(repo.append_event(event))
        }
        Call::AppendEvents(events) => {
            // Loops rather than mapping and collecting: each such chain is
            // compiled for its closure alone.
            let mut sorted = Vec::with_capacity(events.len());
            for event in &events {
                sorted.push(event.run_id.as_str());
            }
            sort_unique(&mut sorted);
            for run_id in sorted {
                list.push(run_id.to_owned());
            }
            kind = "appended";
            Begun::Done(repo.append_events(events))
        }
        Call::MarkInterruptedRuns => {
            // In memory nothing runs in between: the running runs now are
            // the ones that change. (The in-memory port's futures are ready
            // when made: the answer is taken by one poll rather than
            // awaited, an await being a state of its own in wasm.)
            if notices.0.is_some() {
                let mut cx = Context::from_waker(Waker::noop());
                let mut running = repo.list_runs(Some(CouncilRunStatus::Running));
                if let Poll::Ready(running) = running.as_mut().poll(&mut cx) {
                    for run in &running? {
                        list.push(run.id.clone());
                    }
                }
            }
            (kind, status) = ("status", Some(CouncilRunStatus::Interrupted.as_str()));
            Begun::Count(repo.mark_interrupted_runs())
        }
        Call::TruncateEventsAfterWave(run_id, to_wave) => {
            id = run_id;
            (kind, wave) = ("rewound", to_wave);
            Begun::Done(repo.truncate_events_after_wave(&id, to_wave))
        }
        Call::NextSeq(run_id) => {
            id = run_id;
            Begun::Seq(repo.next_seq(&id))
        }
        Call::AppendNext(event) => {
            id = event.run_id.clone();
            kind = "appended";
            Begun::Seq(repo.append_next(event))
        }
        Call::DeleteRun(run_id) => {
            id = run_id;
            kind = "deleted";
            Begun::Done(repo.delete_run(&id))
        }
        Call::PruneRuns(options) => {
            prune = options;
            kind = "deleted";
            Begun::Ids(repo.prune_runs(&prune))
        }
        Call::ClaimRun(run_id) => {
            id = run_id;
            Begun::Claimed(repo.claim_run(&id))
        }
        Call::ReleaseRun(run_id) => {
            id = run_id;
            Begun::Done(repo.release_run(&id))
        }
        Call::RunsOwnedElsewhere => Begun::Ids(repo.runs_owned_elsewhere()),
    };
    let value = match begun {
        Begun::Done(done) => {
            done.await?;
            out
        }
        Begun::Seq(seq) => JsValue::from_f64(seq.await? as f64),
        Begun::Count(count) => JsValue::from_f64(count.await? as f64),
        Begun::Claimed(claimed) => JsValue::from_bool(claimed.await?),
        Begun::Ids(ids) => {
            let ids = ids.await?;
            // `runsOwnedElsewhere` (no notice) answers with the ids,
            // `pruneRuns` with how many went, announcing each.
            if kind.is_empty() {
                let out = Array::new_with_length(ids.len() as u32);
                for (i, id) in ids.iter().enumerate() {
                    out.set(i as u32, JsValue::from_str(id));
                }
                out.into()
            } else {
                let count = ids.len();
                list = ids;
                JsValue::from_f64(count as f64)
            }
        }
    };
    // Only an in-memory store tells its own watchers (an IndexedDB store's
    // connection posts its notices): the detail is made for it alone.
    if notices.0.is_none() || kind.is_empty() {
        return Ok(value);
    }
    let mut detail = Notices::PLAIN;
    if let Some(status) = status {
        detail.0 = JsValue::from_str(status);
    } else if kind == "rewound" {
        // The seq after the rewind, as an IndexedDB store tells it (ready
        // at once in memory: one poll, as above).
        detail.0 = JsValue::from_f64(f64::from(wave));
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(Ok(next)) = repo.next_seq(&id).as_mut().poll(&mut cx) {
            detail.1 = JsValue::from_f64(next as f64);
        }
    }
    if !id.is_empty() {
        notices.post_with(kind, &id, &detail);
    }
    for id in &list {
        notices.post_with(kind, id, &detail);
    }
    Ok(value)
}

impl CouncilStore {
    /// The promise of `call`, or one rejected with the argument error. Not
    /// inlined, so that each exported method keeps only its argument checks.
    #[inline(never)]
    fn perform(&self, call: Result<Call, RepositoryError>) -> Promise {
        match call {
            Ok(call) => run_as_promise(Box::pin(perform(self.repo(), self.notices(), call))),
            Err(e) => rejected(e),
        }
    }

    /// `getRun`, `listRuns` or `listEvents` once its argument is checked:
    /// one body for the three. An IndexedDB store reads in one request when
    /// it can (see [`IndexedDbCouncilRepository::read_now`]), else through
    /// its queue; an in-memory store answers at once.
    fn read(&self, read: QuickRead) -> Promise {
        match &self.adapter {
            Adapter::IndexedDb(idb, slow) => match idb.read_now(&read, slow) {
                Some(promise) => promise,
                None => queued_read(idb, &read),
            },
            Adapter::Memory(memory, _) => settled(match read {
                QuickRead::Run(id) => memory
                    .do_get_run(id)
                    .and_then(|run| run.as_ref().map_or(Ok(JsValue::UNDEFINED), run_to_js)),
                QuickRead::Runs(filter) => memory
                    .do_list_runs(filter)
                    .and_then(|runs| to_array(&runs, run_to_js).map(JsValue::from)),
                QuickRead::Events(id) => memory
                    .do_list_events(id)
                    .and_then(|events| to_array(&events, event_record).map(JsValue::from)),
            }),
        }
    }

    /// The port of the adapter: every write, and the reads that are not
    /// served from records.
    fn repo(&self) -> Rc<dyn Backend> {
        match &self.adapter {
            Adapter::IndexedDb(idb, _) => idb.clone(),
            Adapter::Memory(repo, _) => repo.clone(),
        }
    }

    fn notices(&self) -> Notices {
        match &self.adapter {
            Adapter::IndexedDb(..) => Notices(None),
            Adapter::Memory(_, hub) => Notices(Some(hub.clone())),
        }
    }

    /// What a watcher listens on: the store's feed (an IndexedDB store: its
    /// database's channel; the watch ends when the store closes), or the
    /// store's hub (an in-memory one), the other `undefined`.
    fn feed(&self) -> (JsValue, JsValue) {
        match &self.adapter {
            Adapter::IndexedDb(idb, _) => (idb.feed_js(), JsValue::UNDEFINED),
            Adapter::Memory(_, hub) => (JsValue::UNDEFINED, hub.clone()),
        }
    }

    /// `read(from)` for a watcher of `run_id`: a promise of `{ run, events }`,
    /// the run's rewinds (or `undefined`) and its events from seq `from` on.
    fn tail_reader(&self, run_id: String) -> JsValue {
        let adapter = self.adapter.clone();
        Closure::<dyn FnMut(f64) -> Promise>::new(move |from: f64| {
            let from = from as i64;
            match &adapter {
                Adapter::IndexedDb(idb, _) => checked_answer(TAIL, idb.tail(&run_id, from)),
                Adapter::Memory(memory, _) => {
                    let tail = match memory.tail(&run_id, from) {
                        Some((rewinds, events)) => {
                            let list = Array::new_with_length(rewinds.len() as u32);
                            for (i, &(after_wave, next_seq)) in rewinds.iter().enumerate() {
                                list.set(i as u32, rewind(f64::from(after_wave), next_seq as f64));
                            }
                            match to_array(&events, event_record) {
                                Ok(events) => memory_tail(&list, &events),
                                Err(e) => return rejected(e),
                            }
                        }
                        None => memory_tail(&JsValue::UNDEFINED, &JsValue::UNDEFINED),
                    };
                    Promise::resolve(&tail)
                }
            }
        })
        .into_js_value()
    }
}

fn callback_arg(value: &JsValue, what: &str) -> Result<js_sys::Function, RepositoryError> {
    value
        .clone()
        .dyn_into::<js_sys::Function>()
        .map_err(|_| refused(&what, "a function", value))
}

fn signal_arg(value: JsValue) -> Result<JsValue, RepositoryError> {
    if value.is_undefined() || is_abort_signal(&value) {
        Ok(value)
    } else {
        Err(refused(&"signal", "an AbortSignal", &value))
    }
}

/// `{ keepLatest, olderThan, statuses }` of `pruneRuns`.
fn prune_options(options: &JsValue) -> Result<Prune, RepositoryError> {
    let f = Fields::new(
        options,
        "pruneRuns options",
        &["keepLatest", "olderThan", "statuses"],
    )?;
    let keep_latest = match f.optional("keepLatest", false)? {
        None => None,
        Some(v) => Some(integer_arg(&v, &f.label("keepLatest"), 0, MAX_SAFE_INTEGER)? as usize),
    };
    let older_than = match f.optional("olderThan", false)? {
        None => None,
        Some(v) => {
            let iso = date_iso(&v);
            if iso.is_null() {
                return Err(constraint(
                    "pruneRuns options.olderThan is an invalid Date".into(),
                ));
            }
            Some(match iso.as_string() {
                Some(iso) => iso,
                None => f.string("olderThan", 64)?,
            })
        }
    };
    let statuses = match f.optional("statuses", false)? {
        None => None,
        Some(v) if Array::is_array(&v) => {
            // A loop rather than collecting `Result`s: that adapter is
            // compiled for each use. By index: `Array::iter` is code of its
            // own.
            let mut statuses = Vec::new();
            let items = array_items(&v, "pruneRuns options.statuses")?;
            for i in 0..items.length() {
                statuses.push(status_arg(&items.get(i), "pruneRuns options.statuses[]")?);
            }
            Some(statuses)
        }
        Some(v) => {
            return Err(refused(
                &"pruneRuns options.statuses",
                "an array of statuses",
                &v,
            ))
        }
    };
    Ok(Prune {
        keep_latest,
        older_than,
        statuses,
    })
}

/// `{ fromSeq = 0, signal }` of `watchEvents`.
fn watch_options(options: &JsValue) -> Result<(i64, JsValue), RepositoryError> {
    if options.is_undefined() || options.is_null() {
        return Ok((0, JsValue::UNDEFINED));
    }
    let f = Fields::new(options, "watchEvents options", &["fromSeq", "signal"])?;
    let from_seq = match f.optional("fromSeq", false)? {
        None => 0,
        Some(v) => integer_arg(&v, &"watchEvents options.fromSeq", 0, MAX_SAFE_INTEGER)?,
    };
    Ok((from_seq, signal_arg(f.get("signal")?)?))
}

/// The events of `appendEvents` and their stored records.
fn parse_events(events: &JsValue) -> Result<(Vec<CouncilRunEvent>, Vec<JsValue>), RepositoryError> {
    if !Array::is_array(events) {
        return Err(arg_error(
            &"appendEvents",
            events,
            NOT_AN_ARRAY_OF_EVENTS,
            &JsValue::UNDEFINED,
            0.0,
        ));
    }
    let array = array_items(events, "appendEvents events")?;
    let count = array.length() as usize;
    let (mut out, mut records) = (Vec::with_capacity(count), Vec::with_capacity(count));
    // By index up to the length read once (`Array::iter` reads it again).
    for i in 0..count {
        let (event, record) = new_event(&array.get(i as u32), "event")
            .map_err(|e| RepositoryError::Constraint(format!("events[{i}]: {}", e.message())))?;
        out.push(event);
        records.push(record);
    }
    Ok((out, records))
}
