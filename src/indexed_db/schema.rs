//! Opening the database: creating or upgrading the layout, checking that
//! an existing database has exactly the layout this crate made, and
//! deleting a database. A blocked open or delete gives up after a grace
//! period instead of waiting forever.

use std::cell::RefCell;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use idb::{DatabaseEvent, Factory, Request};
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::domain::RepositoryError;
use crate::record::{event, run};

use super::raw::{storage, Db, EVENTS, RUNS};

/// Version of the object-store layout; raised with every schema change, each
/// with its own step in `upgrade`.
pub const SCHEMA_VERSION: u32 = 1;

pub(crate) const RUNS_BY_CREATED: &str = "by_created";
pub(crate) const RUNS_BY_STATUS: &str = "by_status";
pub(crate) const EVENTS_BY_WAVE: &str = "by_wave";

/// One object store of the layout, as `upgrade` makes it and `check` expects it.
struct StoreSpec {
    name: &'static str,
    key_path: &'static [&'static str],
    indexes: &'static [IndexSpec],
}

struct IndexSpec {
    name: &'static str,
    key_path: &'static [&'static str],
}

/// The layout of [`SCHEMA_VERSION`]. No store auto-increments and no index is
/// unique or multi-entry.
const LAYOUT: [StoreSpec; 2] = [
    StoreSpec {
        name: RUNS,
        key_path: &[run::ID],
        indexes: &[
            IndexSpec {
                name: RUNS_BY_CREATED,
                key_path: &[run::CREATED_KEY, run::ID],
            },
            IndexSpec {
                name: RUNS_BY_STATUS,
                key_path: &[run::STATUS, run::CREATED_KEY, run::ID],
            },
        ],
    },
    StoreSpec {
        name: EVENTS,
        key_path: &[event::RUN_ID, event::SEQ],
        indexes: &[IndexSpec {
            name: EVENTS_BY_WAVE,
            key_path: &[event::RUN_ID, event::WAVE_INDEX],
        }],
    },
];

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
    match cause {
        Some(e) => storage(context, e),
        None => RepositoryError::Storage(format!("{context}: the IndexedDB call failed")),
    }
}

/// Creates or upgrades the layout, one step per schema version. The stores
/// and indexes are made in `src/glue.js` from [`layout_js`], the object the
/// layout check compares an existing database against: one description of
/// the layout for both (and ~2 KB less wasm than the `idb` crate's store and
/// index builders).
fn upgrade(event: &idb::event::VersionChangeEvent) -> Result<(), RepositoryError> {
    const CONTEXT: &str = "cannot upgrade the database layout";
    let fail = |e| idb_error(CONTEXT, e);
    let old = event.old_version().map_err(fail)?;
    let db = event.database().map_err(fail)?;
    if old < 1 {
        create_layout(&JsValue::from(db), &layout_js()).map_err(|e| storage(CONTEXT, &e))?;
    }
    Ok(())
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = createLayout)]
    fn create_layout(db: &JsValue, layout: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = layoutDifferences)]
    fn layout_differences(db: &Db, layout: &JsValue) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(js_name = deleteLeftPending)]
    fn delete_left_pending(request: &JsValue, name: &str);
    #[wasm_bindgen(js_name = deletePending)]
    fn delete_pending(name: &str) -> bool;
}

/// Refuses to open or delete `db_name` while a delete of it that this
/// realm gave up on as blocked is still pending in the browser: the request
/// would wait behind it, without a `blocked` event, for as long as the
/// connection that blocks it stays open.
fn refuse_while_deleting(doing: &str, db_name: &str) -> Result<(), RepositoryError> {
    if !delete_pending(db_name) {
        return Ok(());
    }
    Err(RepositoryError::Storage(format!(
        "{doing} database \"{db_name}\" has to wait: an earlier delete of it was blocked by a \
         connection that did not close, and the browser deletes the database once it does"
    )))
}

fn key_path_js(fields: &[&str]) -> JsValue {
    match fields {
        [single] => JsValue::from_str(single),
        _ => {
            let path = Array::new();
            for field in fields {
                path.push(&JsValue::from_str(field));
            }
            path.into()
        }
    }
}

fn layout_js() -> JsValue {
    let object = |pairs: &[(&str, JsValue)]| {
        let o = js_sys::Object::new();
        for (k, v) in pairs {
            let _ = Reflect::set(&o, &JsValue::from_str(k), v);
        }
        JsValue::from(o)
    };
    // Loops rather than iterator chains, which are code of their own per
    // closure.
    let layout = Array::new();
    for spec in LAYOUT {
        let indexes = Array::new();
        for i in spec.indexes {
            indexes.push(&object(&[
                ("name", i.name.into()),
                ("keyPath", key_path_js(i.key_path)),
            ]));
        }
        layout.push(&object(&[
            ("name", spec.name.into()),
            ("keyPath", key_path_js(spec.key_path)),
            ("indexes", indexes.into()),
        ]));
    }
    layout.into()
}

/// Refuses a database whose layout is not exactly ours, saying what differs.
async fn check_layout(db: &Db, db_name: &str) -> Result<(), RepositoryError> {
    let fail = |e: JsValue| super::raw::storage("cannot read the database layout", &e);
    let differences: Array =
        wasm_bindgen_futures::JsFuture::from(layout_differences(db, &layout_js()).map_err(fail)?)
            .await
            .map_err(fail)?
            .unchecked_into();
    if differences.length() == 0 {
        return Ok(());
    }
    let mut list: Vec<String> = Vec::new();
    for difference in differences.iter() {
        list.extend(difference.as_string());
    }
    Err(RepositoryError::Storage(format!(
        "NotFoundError: database \"{db_name}\" does not have council-idb's layout \
         (version {SCHEMA_VERSION}): {}",
        list.join("; ")
    )))
}

/// Opens (creating or upgrading as needed) the database `db_name` and checks
/// its layout.
pub(crate) async fn open(db_name: &str) -> Result<Db, RepositoryError> {
    refuse_while_deleting("opening", db_name)?;
    let factory = Factory::new().map_err(|e| idb_error("IndexedDB is not available", e))?;
    let mut request = factory
        .open(db_name, Some(SCHEMA_VERSION))
        .map_err(|e| idb_error(&format!("cannot open database \"{db_name}\""), e))?;

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
    let db = match opened {
        Ok(db) => db,
        Err(Blocked) => {
            return Err(RepositoryError::Storage(format!(
                "opening database \"{db_name}\" is blocked: another connection to it \
                 is open with an older version and did not close within {BLOCKED_GRACE_MS} ms"
            )))
        }
        Err(Failed(e)) => return Err(idb_error(&format!("cannot open database \"{db_name}\""), e)),
    };
    let db: Db = JsValue::from(db).unchecked_into();
    if let Err(e) = check_layout(&db, db_name).await {
        db.close();
        return Err(e);
    }
    Ok(db)
}

/// Deletes the database `db_name` and everything in it.
pub(crate) async fn delete(db_name: &str) -> Result<(), RepositoryError> {
    refuse_while_deleting("deleting", db_name)?;
    let factory = Factory::new().map_err(|e| idb_error("IndexedDB is not available", e))?;
    let mut request = factory
        .delete(db_name)
        .map_err(|e| idb_error(&format!("cannot delete database \"{db_name}\""), e))?;
    let blocked = Signal::default();
    let signal = blocked.clone();
    let name = db_name.to_owned();
    request.on_blocked(move |event| {
        // If the grace period runs out, the browser still holds the delete:
        // remember it until it ends.
        let late = idb::Event::target(&event).ok().map(JsValue::from);
        signal.raise(Some(Box::new(move || {
            if let Some(late) = late {
                delete_left_pending(&late, &name);
            }
        })));
    });
    match Blockable::new(request.into_future(), blocked).await {
        Ok(()) => Ok(()),
        Err(Blocked) => Err(RepositoryError::Storage(format!(
            "deleting database \"{db_name}\" is blocked: a connection to it did not close \
             within {BLOCKED_GRACE_MS} ms (the browser deletes it once that connection closes; \
             until then, opening or deleting it again is refused)"
        ))),
        Err(Failed(e)) => Err(idb_error(
            &format!("cannot delete database \"{db_name}\""),
            e,
        )),
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
pub(crate) fn sleep(ms: u32) -> js_sys::Promise {
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
