//! The transaction and request layer: IndexedDB as this crate needs it,
//! made safe to drop.
//!
//! - Requests are made in glue.js: those whose outcome is awaited as
//!   promises (see `ops`), and writes whose failure aborts the transaction
//!   with [`write_record`].
//! - A [`Tx`] that is dropped before [`Tx::commit`] aborts, so an early
//!   return (a `?`, a failed check) writes nothing and needs no clean-up
//!   code of its own.
//! - A transaction commits as soon as no request is pending: between making
//!   a `Tx` and its last request, await nothing but its own requests.
//!
//! The bindings are declared here rather than taken from `web-sys`: a
//! handful of methods, typed as this crate uses them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::domain::RepositoryError;

#[wasm_bindgen]
extern "C" {
    /// An `IDBDatabase`.
    #[derive(Debug, Clone)]
    pub(crate) type Db;
    #[wasm_bindgen(method)]
    pub(crate) fn close(this: &Db);
    #[wasm_bindgen(method, getter)]
    pub(crate) fn version(this: &Db) -> f64;

    /// An `IDBTransaction`.
    #[derive(Debug, Clone)]
    type RawTx;
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// Makes `handler` what `db` calls when the connection is lost; with
    /// `undefined`, closes the connection, its handlers gone (one import
    /// for both setters and the close, each of which has glue of its own).
    #[wasm_bindgen(js_name = watchDb)]
    pub(crate) fn watch_db(db: &Db, handler: &JsValue);
    /// A string (a `JsValue`: a `String` return has glue of its own).
    #[wasm_bindgen(js_name = errorText)]
    fn error_text_js(value: &JsValue) -> JsValue;
    /// Asks `tx` to commit, or with `abort` 1 aborts it (an ended one
    /// refuses, unheard); for a write, a promise of its end. (`abort` an
    /// `f64`, and no throw: either has glue of its own.)
    #[wasm_bindgen(js_name = commitTx)]
    fn commit_tx(tx: &RawTx, abort: f64) -> JsValue;
    /// Adds (`put`: puts) `record` in the store of `tx` that `scope` (runs
    /// or events) names, its outcome unwatched: a failure aborts the
    /// transaction, and the commit reports it. Throws `[step, error]` (see
    /// `ops::glue_failure`) when the request cannot be made.
    #[wasm_bindgen(catch, js_name = writeRecord)]
    pub(crate) fn write_record(
        tx: &JsValue,
        scope: u32,
        record: &JsValue,
        put: bool,
    ) -> Result<(), JsValue>;
    /// `db.transaction(...)` over a [`Scope`] with an [`Access`], each
    /// passed as its number (glue.js's `startTx` holds the scopes, modes
    /// and options, made once).
    #[wasm_bindgen(catch, js_name = startTx)]
    fn start_tx(db: &Db, scope: u32, access: u32) -> Result<RawTx, JsValue>;
}

/// The object stores a transaction covers (numbered as glue.js's `startTx`
/// takes them).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    Runs,
    Events,
    Both,
}

/// What a transaction does, and how durably (numbered as glue.js's
/// `startTx` takes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    /// A write with the engine's default durability: on disk once a crash of
    /// the browser can no longer lose it, not necessarily flushed past an
    /// operating-system crash (Chromium and Firefox default to "relaxed").
    Write,
    /// A write that completes only once the engine has flushed it to disk
    /// (`durability: "strict"`; an engine without the option ignores it).
    Durable,
}

/// `{name}: {message}` of a DOMException or error, or `String(value)`
/// (glue.js's `errorText`: JavaScript's own conversions, cheaper in code
/// size than Rust's formatting).
pub(crate) fn error_text(value: &JsValue) -> String {
    error_text_js(value).as_string().unwrap_or_default()
}

/// The `name` of a DOMException, if `value` is one.
pub(crate) fn error_name(value: &JsValue) -> Option<String> {
    Reflect::get(value, &JsValue::from_str("name"))
        .ok()?
        .as_string()
}

/// A `Storage` error that keeps the browser's words, DOMException name first.
pub(crate) fn storage(context: &str, err: &JsValue) -> RepositoryError {
    RepositoryError::Storage(format!("{context}: {}", error_text(err)))
}

/// A transaction that aborts unless it is committed.
pub(crate) struct Tx {
    raw: RawTx,
    committing: bool,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}

/// Why a transaction could not be started.
#[derive(Debug)]
pub(crate) struct TxFailure {
    /// The DOMException (`InvalidStateError` on a closed connection).
    pub(crate) error: JsValue,
}

impl TxFailure {
    /// The connection is closed or closing: reopening may help.
    pub(crate) fn connection_lost(&self) -> bool {
        error_name(&self.error).as_deref() == Some("InvalidStateError")
    }

    pub(crate) fn into_error(self, db_name: &str) -> RepositoryError {
        storage(
            &format!("cannot start a transaction on database \"{db_name}\""),
            &self.error,
        )
    }
}

/// A handle that can abort a transaction from outside (the test hook that
/// loses the connection).
#[derive(Debug)]
pub(crate) struct TxHandle(RawTx);

impl TxHandle {
    pub(crate) fn abort(&self) {
        commit_tx(&self.0, 1.0);
    }
}

impl Tx {
    pub(crate) fn handle(&self) -> TxHandle {
        TxHandle(self.raw.clone())
    }

    /// Starts a transaction over `scope`.
    pub(crate) fn start(db: &Db, scope: Scope, access: Access) -> Result<Tx, TxFailure> {
        let raw = start_tx(db, scope as u32, access as u32).map_err(|error| TxFailure { error })?;
        Ok(Tx {
            raw,
            committing: false,
        })
    }

    /// The `IDBTransaction`, for a body that makes its requests in glue.js.
    pub(crate) fn js(&self) -> &JsValue {
        &self.raw
    }

    /// Asks the transaction to commit once its requests are done, without
    /// waiting; a `Tx` dropped after this is not aborted.
    pub(crate) fn commit_now(&mut self) {
        self.committing = true;
        commit_tx(&self.raw, 0.0);
    }

    /// Commits and waits for the outcome; an abort comes back as `Storage`
    /// naming the transaction's error (`QuotaExceededError`, ...). Only a
    /// write knows its end: a read's outcome is its requests'.
    pub(crate) fn commit(mut self) -> Ended {
        self.committing = true;
        Ended(JsFuture::from(Promise::unchecked_from_js(commit_tx(
            &self.raw, 0.0,
        ))))
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // A transaction that has ended already refuses (throws), unheard.
        if !self.committing {
            commit_tx(&self.raw, 1.0);
        }
    }
}

/// The end of a transaction asked to commit ([`Tx::commit`]): the promise
/// of glue.js's `commitTx`, its rejection read as the abort it is.
pub(crate) struct Ended(JsFuture);

impl Future for Ended {
    type Output = Result<(), RepositoryError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let end = match Pin::new(&mut self.0).poll(cx) {
            Poll::Ready(end) => end,
            Poll::Pending => return Poll::Pending,
        };
        Poll::Ready(match end {
            Ok(_) => Ok(()),
            // The transaction's error (an `AbortError` when a call aborted it).
            Err(error) => Err(storage("transaction aborted", &error)),
        })
    }
}
