//! Opening the database: creating or upgrading the layout, checking that
//! an existing database has exactly the layout this crate made, and
//! deleting a database. A blocked open or delete gives up after a grace
//! period instead of waiting forever.

use std::cell::RefCell;
use std::rc::Rc;

use idb::Factory;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::domain::RepositoryError;

use super::raw::{storage, watch_db, Db};

/// Version of the object-store layout; raised with every schema change, each
/// with its own step in `upgrade`.
pub const SCHEMA_VERSION: u32 = 1;

/// A failure of the `idb` crate as a `Storage` error: the browser's error it
/// carries, printed as every other (`<DOMException name>: <message>`, which
/// [`RepositoryError::dom_name`] reads back), or, where it carries none, that
/// the call failed. (idb's own `Display`, sixty messages, costs ~4 KB of wasm.)
fn idb_error(context: &str, err: idb::Error) -> RepositoryError {
    use idb::Error as E;
    let cause: Option<&JsValue> = match &err {
        E::DomException(e) => Some(e.as_ref()),
        E::IndexedDbNotFound(e)
        | E::IndexedDbOpenFailed(e)
        | E::IndexedDbDeleteFailed(e)
        | E::ObjectStoreCreateFailed(e)
        | E::IndexCreateFailed(e) => Some(e),
        _ => None,
    };
    request_error(context, cause.cloned().unwrap_or(JsValue::UNDEFINED))
}

/// Creates or upgrades the layout, one step per schema version. The stores
/// and indexes are made in `src/glue.js` from its `LAYOUT`, the layout the
/// check compares an existing database against: one description of the
/// layout for both (less wasm than the `idb` crate's store and index
/// builders, or than passing the names from here), its key paths held to
/// `src/record.rs` by a test there. A step that fails aborts the version
/// change (glue.js does), which fails the open request.
fn upgrade(event: idb::event::VersionChangeEvent) -> Result<(), RepositoryError> {
    // An old version past `u32` cannot come with an upgrade to ours.
    if event.old_version().unwrap_or(0) < 1 {
        let e = create_layout(&event.into());
        if !e.is_undefined() {
            return Err(storage("cannot upgrade the database layout", &e));
        }
    }
    Ok(())
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// What making the layout threw, or `undefined`.
    #[wasm_bindgen(js_name = createLayout)]
    fn create_layout(event: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = layoutDifferences)]
    fn layout_differences(db: &Db) -> js_sys::Promise;
    /// (Numbers and strings as `f64`s and `JsValue`s: a `u32` or `&str`
    /// argument has glue of its own.)
    #[wasm_bindgen(js_name = settleRequest)]
    fn settle_request(request: &JsValue, grace_ms: f64, deleting: &JsValue) -> js_sys::Promise;
    /// A promise that resolves after `ms` milliseconds.
    pub(crate) fn sleep(ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = deletePending)]
    fn delete_pending(name: &JsValue) -> bool;
}

/// Refuses to open or delete `db_name` while a delete of it that this
/// realm gave up on as blocked is still pending in the browser: the request
/// would wait behind it, without a `blocked` event, for as long as the
/// connection that blocks it stays open.
/// (`name` is `db_name` as a JavaScript string.)
fn refuse_while_deleting(
    doing: &str,
    db_name: &str,
    name: &JsValue,
) -> Result<(), RepositoryError> {
    if !delete_pending(name) {
        return Ok(());
    }
    Err(RepositoryError::Storage(format!(
        "{doing} database \"{db_name}\" has to wait: an earlier delete of it was blocked by a \
         connection that did not close, and the browser deletes the database once it does"
    )))
}

/// Refuses a database whose layout is not exactly ours, saying what differs:
/// `read` is what glue.js's `layoutDifferences` gave (not an async fn: the
/// open awaits it, one state machine less).
fn check_layout(read: Result<JsValue, JsValue>, db_name: &str) -> Result<(), RepositoryError> {
    let differences = read
        .map_err(|e| storage("cannot read the database layout", &e))?
        .as_string()
        .unwrap_or_default();
    if differences.is_empty() {
        return Ok(());
    }
    Err(RepositoryError::Storage(format!(
        "NotFoundError: database \"{db_name}\" does not have council-idb's layout \
         (version {SCHEMA_VERSION}): {differences}"
    )))
}

/// Opens (creating or upgrading as needed) the database `db_name` and checks
/// its layout.
pub(crate) async fn open(db_name: &str) -> Result<Db, RepositoryError> {
    let mut request = factory("opening", db_name, &JsValue::from_str(db_name))?
        .open(db_name, Some(SCHEMA_VERSION))
        .map_err(|e| idb_error(&cannot("open", db_name), e))?;

    let upgrade_error: Rc<RefCell<Option<RepositoryError>>> = Rc::default();
    let slot = upgrade_error.clone();
    request.on_upgrade_needed(move |event| {
        if let Err(err) = upgrade(event) {
            *slot.borrow_mut() = Some(err);
        }
    });
    // The handler must outlive this function's hold on the request:
    // forgotten, as the `idb` crate's own future does with it.
    request.forget_callbacks();
    let ended = settled(
        settle(request.into(), &JsValue::UNDEFINED).await,
        db_name,
        false,
    );
    if let Some(err) = upgrade_error.borrow_mut().take() {
        return Err(err);
    }
    let db: Db = ended?.unchecked_into();
    let read = wasm_bindgen_futures::JsFuture::from(layout_differences(&db)).await;
    if let Err(e) = check_layout(read, db_name) {
        watch_db(&db, &JsValue::UNDEFINED);
        return Err(e);
    }
    Ok(db)
}

/// Deletes the database `db_name` and everything in it.
pub(crate) async fn delete(db_name: &str) -> Result<(), RepositoryError> {
    let settling = {
        let name = JsValue::from_str(db_name);
        let request = factory("deleting", db_name, &name)?
            .delete(db_name)
            .map_err(|e| idb_error(&cannot("delete", db_name), e))?;
        settle(request.into(), &name)
    };
    let ended = settling.await;
    settled(ended, db_name, true).map(|_| ())
}

/// The start `open` and `delete` share: refused while a delete of
/// `db_name` (`name` as a JavaScript string) is pending (`doing` says
/// which of the two is refused).
fn factory(doing: &str, db_name: &str, name: &JsValue) -> Result<Factory, RepositoryError> {
    refuse_while_deleting(doing, db_name, name)?;
    Factory::new().map_err(|e| idb_error("IndexedDB is not available", e))
}

/// The context of an open's or a delete's failure.
fn cannot(verb: &str, db_name: &str) -> String {
    format!("cannot {verb} database \"{db_name}\"")
}

/// How long an open or delete may stay blocked before it is given up. Other
/// connections usually close on `versionchange` once their transactions end,
/// which takes milliseconds; one that stays open is a tab that will not yield.
const BLOCKED_GRACE_MS: u32 = 1500;

/// Waits for an open or delete request: see [`settled`]. `deleting` is,
/// for a delete, the database's name as a JavaScript string (else
/// `undefined`).
/// glue.js's `settleRequest` listens to the request (fewer closures and
/// futures than the `idb` crate's own), and deals with what a request given
/// up does later: a delete is remembered until it ends (see
/// [`refuse_while_deleting`]), an open that succeeds is closed at once.
fn settle(request: JsValue, deleting: &JsValue) -> wasm_bindgen_futures::JsFuture {
    settle_request(&request, f64::from(BLOCKED_GRACE_MS), deleting).into()
}

/// How a request [`settle`] waited for ended: its result, or why it failed,
/// or that it was blocked for longer than [`BLOCKED_GRACE_MS`], or that it
/// got no event at all for four times that. (Not part
/// of an async fn: the callers await, one state machine less.)
fn settled(
    ended: Result<JsValue, JsValue>,
    db_name: &str,
    deleting: bool,
) -> Result<JsValue, RepositoryError> {
    let error = match ended {
        Ok(result) => return Ok(result),
        Err(error) => error,
    };
    // glue.js rejects with false for a request that got no event at all
    // for 4 grace periods, with null for one blocked past the grace period.
    if error.as_bool() == Some(false) {
        let doing = if deleting { "deleting" } else { "opening" };
        return Err(RepositoryError::Storage(format!(
            "{doing} database \"{db_name}\" got no answer within {} ms: it waits behind another \
             connection's upgrade or delete of it, which a connection that did not close holds \
             back (the browser goes on once that connection closes)",
            4 * BLOCKED_GRACE_MS
        )));
    }
    if !error.is_null() {
        let verb = if deleting { "delete" } else { "open" };
        return Err(request_error(&cannot(verb, db_name), error));
    }
    Err(RepositoryError::Storage(if deleting {
        format!(
            "deleting database \"{db_name}\" is blocked: a connection to it did not close \
             within {BLOCKED_GRACE_MS} ms (the browser deletes it once that connection closes; \
             until then, opening or deleting it again is refused)"
        )
    } else {
        format!(
            "opening database \"{db_name}\" is blocked: another connection to it \
             is open with an older version and did not close within {BLOCKED_GRACE_MS} ms"
        )
    }))
}

/// A request's failure as a `Storage` error: the browser's error it carries,
/// or, where it carries none, that the call failed (as [`idb_error`] says).
fn request_error(context: &str, error: JsValue) -> RepositoryError {
    if error.is_undefined() {
        return RepositoryError::Storage(format!("{context}: the IndexedDB call failed"));
    }
    storage(context, &error)
}
