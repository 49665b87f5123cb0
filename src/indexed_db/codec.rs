//! Records as IndexedDB stores them, and their decoding.
//!
//! A record is a plain object with camelCase fields, the same shape the
//! JavaScript API hands out, so event lists can cross to JavaScript as the
//! array IndexedDB returned. Decoding checks every field and names the
//! record it could not read; it never falls back to a default.

use std::mem::ManuallyDrop;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::domain::{
    CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode, RepositoryError, MAX_SAFE_INTEGER,
};
use crate::record::{event, run};
use crate::time::Instant;

use super::js_text;

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
    // In `ManuallyDrop`: the browser's one thread never ends, and without a
    // destructor the initialisation carries no drop code for a value it
    // would replace (a handle per name).
    static KEYS: ManuallyDrop<Keys> = ManuallyDrop::new(Keys {
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
    });
}

pub(crate) fn with_keys<R>(f: impl FnOnce(&Keys) -> R) -> R {
    KEYS.with(|keys| f(keys))
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

/// Reads one record's fields, naming the record in every error.
struct Fields<'a> {
    record: &'a JsValue,
    keys: &'a Keys,
    /// An event record, else a run record.
    event: bool,
}

impl Fields<'_> {
    fn get(&self, key: &JsValue) -> Result<JsValue, RepositoryError> {
        Reflect::get(self.record, key).map_err(|_| self.bad(key, format_args!("cannot be read")))
    }

    /// How errors name the record: `stored run "<id>"` or `stored event (run
    /// "<runId>", seq <seq>)`. Made only for an error, so that decoding a
    /// good record reads each field once and formats nothing.
    fn what(&self) -> String {
        let k = self.keys;
        let text = |key: &JsValue| Reflect::get(self.record, key).ok()?.as_string();
        if !self.event {
            let id = text(&k.id);
            return format!("stored run \"{}\"", id.as_deref().unwrap_or("<no id>"));
        }
        let run_id = text(&k.run_id);
        let seq = Reflect::get(self.record, &k.seq)
            .ok()
            .and_then(|v| v.as_f64());
        format!(
            "stored event (run \"{}\", seq {})",
            run_id.as_deref().unwrap_or("<none>"),
            seq.map_or_else(|| "<none>".to_string(), |s| js_text(&JsValue::from_f64(s)))
        )
    }

    /// `problem` is format arguments rather than a `String`, so that the
    /// message is formatted once, here.
    fn bad(&self, key: &JsValue, problem: std::fmt::Arguments<'_>) -> RepositoryError {
        let name = key.as_string().unwrap_or_default();
        RepositoryError::Serialization(format!("{}: field \"{name}\" {problem}", self.what()))
    }

    fn string(&self, key: &JsValue) -> Result<String, RepositoryError> {
        self.get(key)?
            .as_string()
            .ok_or_else(|| self.bad(key, format_args!("is missing or not a string")))
    }

    /// The field's string read as a name of `parse`'s enum.
    fn name<T>(&self, key: &JsValue, parse: fn(&str) -> Option<T>) -> Result<T, RepositoryError> {
        let text = self.string(key)?;
        parse(&text).ok_or_else(|| self.bad(key, format_args!("has unknown value \"{text}\"")))
    }

    fn opt_string(&self, key: &JsValue) -> Result<Option<String>, RepositoryError> {
        let value = self.get(key)?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        value
            .as_string()
            .map(Some)
            .ok_or_else(|| self.bad(key, format_args!("is neither a string nor null")))
    }

    fn integer(&self, key: &JsValue, min: i64, max: i64) -> Result<i64, RepositoryError> {
        let value = self.get(key)?;
        let n = value
            .as_f64()
            .ok_or_else(|| self.bad(key, format_args!("is missing or not a number")))?;
        if n.fract() != 0.0 || n < min as f64 || n > max as f64 {
            let shown = js_text(&value);
            return Err(self.bad(
                key,
                format_args!("is {shown}, not an integer in {min}..={max}"),
            ));
        }
        Ok(n as i64)
    }

    fn opt_integer(
        &self,
        key: &JsValue,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, RepositoryError> {
        let value = self.get(key)?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        self.integer(key, min, max).map(Some)
    }
}

/// Decodes a stored run.
pub(crate) fn decode_run(record: &JsValue) -> Result<CouncilRun, RepositoryError> {
    if !record.is_object() {
        return Err(RepositoryError::Serialization(format!(
            "stored run is not an object: {}",
            js_text(record)
        )));
    }
    with_keys(|k| {
        let f = Fields {
            record,
            keys: k,
            event: false,
        };
        let status = f.name(&k.status, CouncilRunStatus::parse)?;
        let hitl_mode = f.name(&k.hitl_mode, HitlMode::parse)?;
        Ok(CouncilRun {
            id: f.string(&k.id)?,
            goal: f.string(&k.goal)?,
            graph_json: f.opt_string(&k.graph_json)?,
            status,
            hitl_mode,
            conversation_id: f.opt_integer(
                &k.conversation_id,
                -MAX_SAFE_INTEGER,
                MAX_SAFE_INTEGER,
            )?,
            created_at: f.string(&k.created_at)?,
            updated_at: f.string(&k.updated_at)?,
        })
    })
}

/// Decodes a stored event.
pub(crate) fn decode_event(record: &JsValue) -> Result<CouncilRunEvent, RepositoryError> {
    if !record.is_object() {
        return Err(RepositoryError::Serialization(format!(
            "stored event is not an object: {}",
            js_text(record)
        )));
    }
    with_keys(|k| {
        let f = Fields {
            record,
            keys: k,
            event: true,
        };
        Ok(CouncilRunEvent {
            run_id: f.string(&k.run_id)?,
            seq: f.integer(&k.seq, 0, MAX_SAFE_INTEGER)?,
            event_json: f.string(&k.event_json)?,
            created_at: f.string(&k.created_at)?,
            wave_index: f.integer(&k.wave_index, 0, i64::from(u32::MAX))? as u32,
        })
    })
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = firstMalformedRun)]
    fn first_malformed_run(records: &Array, statuses: &Array, modes: &Array) -> i32;
    #[wasm_bindgen(js_name = firstMalformedEvent)]
    fn first_malformed_event(records: &Array) -> i32;
}

/// The valid status and HITL names, as JavaScript arrays.
pub(crate) fn with_names<R>(f: impl FnOnce(&Array, &Array) -> R) -> R {
    NAMES.with(|names| f(&names.0, &names.1))
}

thread_local! {
    /// The valid status and HITL names, for the JavaScript check. (In
    /// `ManuallyDrop` as [`KEYS`] is.)
    static NAMES: ManuallyDrop<(Array, Array)> = {
        let (statuses, modes) = (Array::new(), Array::new());
        for status in CouncilRunStatus::ALL {
            statuses.push(&status.as_str().into());
        }
        for mode in HitlMode::ALL {
            modes.push(&mode.as_str().into());
        }
        ManuallyDrop::new((statuses, modes))
    };
}

/// Checks many stored runs at once, as [`decode_run`] would; only a record
/// the quick check refuses is decoded, to name what is wrong with it.
pub(crate) fn check_run_records(records: &Array) -> Result<(), RepositoryError> {
    let bad = with_names(|statuses, modes| first_malformed_run(records, statuses, modes));
    malformed(records, bad, "run", &|r| decode_run(r).map(drop))
}

/// Checks many stored events at once, as [`decode_event`] would.
pub(crate) fn check_event_records(records: &Array) -> Result<(), RepositoryError> {
    let bad = first_malformed_event(records);
    malformed(records, bad, "event", &|r| decode_event(r).map(drop))
}

/// The outcome of a quick check that found record `bad` of `records`
/// malformed (none when negative): the error decoding it gives, or one
/// naming its position. One body for runs and events.
fn malformed(
    records: &Array,
    bad: i32,
    what: &str,
    decode: &dyn Fn(&JsValue) -> Result<(), RepositoryError>,
) -> Result<(), RepositoryError> {
    if bad < 0 {
        return Ok(());
    }
    decode(&records.get(bad as u32))?;
    Err(RepositoryError::Serialization(format!(
        "stored {what} #{bad} is malformed"
    )))
}
