//! Records as IndexedDB stores them, and their decoding.
//!
//! A record is a plain object with camelCase fields, the same shape the
//! JavaScript API hands out, so event lists can cross to JavaScript as the
//! array IndexedDB returned. Decoding checks every field and names the
//! record it could not read (glue.js words what is wrong with it); it never
//! falls back to a default.

use std::cell::Cell;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::domain::{
    CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode, RepositoryError, MAX_SAFE_INTEGER,
};
use crate::record::{event, run};
use crate::time::Instant;

/// Property names, made once per thread rather than once per record.
pub(crate) struct Keys {
    pub(crate) id: JsValue,
    pub(crate) goal: JsValue,
    pub(crate) graph_json: JsValue,
    pub(crate) status: JsValue,
    pub(crate) hitl_mode: JsValue,
    pub(crate) conversation_id: JsValue,
    pub(crate) created_at: JsValue,
    pub(crate) updated_at: JsValue,
    pub(crate) rewinds: JsValue,
    pub(crate) run_id: JsValue,
    pub(crate) seq: JsValue,
    pub(crate) event_json: JsValue,
    pub(crate) wave_index: JsValue,
}

thread_local! {
    // Empty (a `const` initialiser) until first used, then the names made
    // once and leaked: the browser's one thread never ends. The
    // thread-local's own lazy initialisation, or a `OnceCell`, carries more
    // code.
    static KEYS: Cell<Option<&'static Keys>> = const { Cell::new(None) };
}

fn keys() -> Keys {
    Keys {
        id: run::ID.into(),
        goal: run::GOAL.into(),
        graph_json: run::GRAPH_JSON.into(),
        status: run::STATUS.into(),
        hitl_mode: run::HITL_MODE.into(),
        conversation_id: run::CONVERSATION_ID.into(),
        created_at: run::CREATED_AT.into(),
        updated_at: run::UPDATED_AT.into(),
        rewinds: run::REWINDS.into(),
        run_id: event::RUN_ID.into(),
        seq: event::SEQ.into(),
        event_json: event::EVENT_JSON.into(),
        wave_index: event::WAVE_INDEX.into(),
    }
}

pub(crate) fn with_keys<R>(f: impl FnOnce(&Keys) -> R) -> R {
    f(made_keys())
}

fn made_keys() -> &'static Keys {
    KEYS.with(|cell| {
        cell.get().unwrap_or_else(|| {
            let made = Box::leak(Box::new(keys()));
            cell.set(Some(made));
            made
        })
    })
}

/// A run as the JavaScript API hands it out.
pub(crate) fn run_object(run: &CouncilRun) -> Result<Object, RepositoryError> {
    Ok(run_js(run, None).unchecked_into())
}

/// The stored form of a run: [`run_object`] with `createdKey`, the instant
/// of `createdAt` as a string that sorts in time order.
pub(crate) fn run_record(run: &CouncilRun, created: Instant) -> Result<JsValue, RepositoryError> {
    Ok(run_js(run, Some(&created.sort_key())))
}

fn run_js(run: &CouncilRun, created_key: Option<&str>) -> JsValue {
    run_record_of(
        &run.id,
        &run.goal,
        run.graph_json.as_deref(),
        run.status.as_str(),
        run.hitl_mode.as_str(),
        run.conversation_id.map(|c| c as f64),
        &run.created_at,
        &run.updated_at,
        created_key,
    )
}

/// The stored form of an event, also what the JavaScript API hands out.
pub(crate) fn event_record(event: &CouncilRunEvent) -> Result<JsValue, RepositoryError> {
    Ok(event_record_of(
        &JsValue::from_str(&event.run_id),
        event.seq as f64,
        &JsValue::from_str(&event.event_json),
        &JsValue::from_str(&event.created_at),
        f64::from(event.wave_index),
    ))
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// An event record from its fields' values, in one call (glue.js's
    /// `eventRecord`): the JavaScript binding passes the caller's strings
    /// straight through, with nothing copied out of wasm.
    #[wasm_bindgen(js_name = eventRecord)]
    pub(crate) fn event_record_of(
        run_id: &JsValue,
        seq: f64,
        event_json: &JsValue,
        created_at: &JsValue,
        wave_index: f64,
    ) -> JsValue;

    /// A run record from its fields' values, in one call (glue.js's
    /// `runRecord`, which writes `null` for an absent optional field and
    /// adds `createdKey` only when given): the property sets it replaces
    /// took a call each, and their error paths code of their own.
    #[wasm_bindgen(js_name = runRecord)]
    #[allow(clippy::too_many_arguments)]
    fn run_record_of(
        id: &str,
        goal: &str,
        graph_json: Option<&str>,
        status: &str,
        hitl_mode: &str,
        conversation_id: Option<f64>,
        created_at: &str,
        updated_at: &str,
        created_key: Option<&str>,
    ) -> JsValue;
}

/// A field of a record; `None` when it cannot be read (the record is then
/// refused, and [`malformed_record`] says why).
fn read(record: &JsValue, key: &JsValue) -> Option<JsValue> {
    Reflect::get(record, key).ok()
}

/// The largest `waveIndex`.
const WAVE_MAX: i64 = u32::MAX as i64;

fn integer(value: &JsValue, min: i64, max: i64) -> Option<i64> {
    let n = value.as_f64()?;
    (n.fract() == 0.0 && n >= min as f64 && n <= max as f64).then_some(n as i64)
}

/// A field that may be `null` or absent: `Some(None)` then, `None` when it
/// is neither that nor what `parse` makes of it.
fn optional<T>(value: JsValue, parse: impl FnOnce(&JsValue) -> Option<T>) -> Option<Option<T>> {
    match parse(&value) {
        Some(v) => Some(Some(v)),
        None if value.is_null() || value.is_undefined() => Some(None),
        None => None,
    }
}

/// Decodes a stored run. (Each field read at once as an `Option`, and the
/// record refused as a whole: one error path, with no message made here.)
pub(crate) fn decode_run(record: &JsValue) -> Result<CouncilRun, RepositoryError> {
    with_keys(|k| {
        let text = |key: &JsValue| read(record, key)?.as_string();
        let run = || {
            record.is_object().then_some(())?;
            Some(CouncilRun {
                status: CouncilRunStatus::parse(&text(&k.status)?)?,
                hitl_mode: HitlMode::parse(&text(&k.hitl_mode)?)?,
                id: text(&k.id)?,
                goal: text(&k.goal)?,
                graph_json: optional(read(record, &k.graph_json)?, JsValue::as_string)?,
                conversation_id: optional(read(record, &k.conversation_id)?, |v| {
                    integer(v, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
                })?,
                created_at: text(&k.created_at)?,
                updated_at: text(&k.updated_at)?,
            })
        };
        run().ok_or_else(|| malformed_record(record, false, 0))
    })
}

/// Decodes a stored event.
pub(crate) fn decode_event(record: &JsValue) -> Result<CouncilRunEvent, RepositoryError> {
    with_keys(|k| {
        let text = |key: &JsValue| read(record, key)?.as_string();
        let event = || {
            record.is_object().then_some(())?;
            Some(CouncilRunEvent {
                run_id: text(&k.run_id)?,
                seq: integer(&read(record, &k.seq)?, 0, MAX_SAFE_INTEGER)?,
                event_json: text(&k.event_json)?,
                created_at: text(&k.created_at)?,
                wave_index: integer(&read(record, &k.wave_index)?, 0, WAVE_MAX)? as u32,
            })
        };
        event().ok_or_else(|| malformed_record(record, true, 0))
    })
}

/// The `Serialization` error of a stored record refused (the `at`th of its
/// list): its message, naming the record and what is wrong with it, is
/// made by glue.js's `recordProblem` only now, so that decoding a good
/// record formats nothing and wasm carries none of the messages.
fn malformed_record(record: &JsValue, event: bool, at: u32) -> RepositoryError {
    let event = JsValue::from_bool(event);
    let problem =
        with_names(|statuses, modes| record_problem(record, &event, statuses, modes, at.into()));
    RepositoryError::Serialization(problem.as_string().unwrap_or_default())
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = firstMalformedRun)]
    fn first_malformed_run(records: &Array, statuses: &Array, modes: &Array) -> i32;
    #[wasm_bindgen(js_name = firstMalformedEvent)]
    fn first_malformed_event(records: &Array) -> i32;
    /// (`JsValue`s and an `f64` rather than a `bool`, a `u32` and a
    /// `String`, which have glue of their own.)
    #[wasm_bindgen(js_name = recordProblem)]
    fn record_problem(
        record: &JsValue,
        event: &JsValue,
        statuses: &Array,
        modes: &Array,
        at: f64,
    ) -> JsValue;
}

/// The valid status and HITL names, as JavaScript arrays.
pub(crate) fn with_names<R>(f: impl FnOnce(&Array, &Array) -> R) -> R {
    let (statuses, modes) = made_names();
    f(statuses, modes)
}

fn made_names() -> &'static (Array, Array) {
    NAMES.with(|cell| {
        cell.get().unwrap_or_else(|| {
            let made = Box::leak(Box::new(names()));
            cell.set(Some(made));
            made
        })
    })
}

thread_local! {
    /// The valid status and HITL names, for the JavaScript check. (Made as
    /// [`KEYS`] is.)
    static NAMES: Cell<Option<&'static (Array, Array)>> = const { Cell::new(None) };
}

fn names() -> (Array, Array) {
    let (statuses, modes) = (Array::new(), Array::new());
    for status in CouncilRunStatus::ALL {
        statuses.push(&status.as_str().into());
    }
    for mode in HitlMode::ALL {
        modes.push(&mode.as_str().into());
    }
    (statuses, modes)
}

/// Checks many stored runs at once, as [`decode_run`] would.
pub(crate) fn check_run_records(records: &Array) -> Result<(), RepositoryError> {
    let bad = with_names(|statuses, modes| first_malformed_run(records, statuses, modes));
    malformed(records, bad, false)
}

/// Checks many stored events at once, as [`decode_event`] would.
pub(crate) fn check_event_records(records: &Array) -> Result<(), RepositoryError> {
    malformed(records, first_malformed_event(records), true)
}

/// The outcome of a quick check that found record `bad` of `records`
/// malformed (none when negative). One body for runs and events.
fn malformed(records: &Array, bad: i32, event: bool) -> Result<(), RepositoryError> {
    if bad < 0 {
        return Ok(());
    }
    Err(malformed_record(
        &records.get(bad as u32),
        event,
        bad as u32,
    ))
}
