//! Which live store owns a run: one Web Lock per database and run.
//!
//! A store holds the lock of every run it owns (runs it created or set
//! back to `running`), and, for the length of one write, the lock of a run
//! nobody owns. A lock it cannot take is held by another live store, in
//! this or another tab or worker; the browser releases a page's or worker's
//! locks when it goes away, so a run whose owner died is free again.
//!
//! Where `navigator.locks` does not exist (or refuses this origin) there is
//! no ownership: every write goes ahead, as in a store without tabs.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::domain::RepositoryError;
use crate::vec_map::{sort_unique, VecMap};

use super::raw::storage;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = locksExist)]
    fn locks_exist() -> bool;
    #[wasm_bindgen(js_name = tryLocks)]
    fn try_locks(db: &JsValue, runs: &Array) -> Promise;
    #[wasm_bindgen(js_name = lockedRuns)]
    fn locked_runs(db: &JsValue) -> Promise;
    /// Calls `f`, what it throws unheard (a `Function::call0` has glue of
    /// its own).
    #[wasm_bindgen(js_name = callQuietly)]
    pub(crate) fn call_quietly(f: &Function);
}

/// A Web Lock this store holds; dropping the last `Rc` releases it.
#[derive(Debug)]
pub(crate) struct Lock {
    release: Function,
}

impl Drop for Lock {
    fn drop(&mut self) {
        call_quietly(&self.release);
    }
}

/// Whether a store may write to a run.
#[derive(Debug, Clone)]
pub(crate) enum Hold {
    /// No Web Locks here: no ownership, every write goes ahead.
    Unsupported,
    /// This store holds the run's lock (as owner or for this write).
    Mine(Rc<Lock>),
    /// Another live store owns the run.
    Elsewhere,
}

impl Hold {
    pub(crate) fn allowed(&self) -> bool {
        !matches!(self, Hold::Elsewhere)
    }
}

/// The locks of one store.
#[derive(Debug)]
pub(crate) struct Locks {
    /// The database's name, as a JavaScript string made once: an import
    /// that takes a `&str` has glue of its own.
    db: JsValue,
    enabled: Cell<bool>,
    /// Every lock this store holds, owned or for a write in flight.
    held: RefCell<VecMap<String, Weak<Lock>>>,
    /// The runs this store owns.
    owned: RefCell<VecMap<String, Rc<Lock>>>,
}

impl Locks {
    pub(crate) fn new(db: JsValue) -> Self {
        Locks {
            db,
            enabled: Cell::new(locks_exist()),
            held: RefCell::default(),
            owned: RefCell::default(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled.get()
    }

    /// The hold on `run_id` this store has now, without asking the browser:
    /// `None` when it would have to try the lock.
    pub(crate) fn current(&self, run_id: &str) -> Option<Hold> {
        if !self.enabled.get() {
            return Some(Hold::Unsupported);
        }
        let mut held = self.held.borrow_mut();
        match held.get(run_id).and_then(Weak::upgrade) {
            Some(lock) => Some(Hold::Mine(lock)),
            None => {
                held.remove(run_id);
                None
            }
        }
    }

    /// Takes the locks of `run_ids` that this store does not hold yet, all
    /// at once; one `Hold` per id, in order.
    pub(crate) async fn hold_all(&self, run_ids: &[&str]) -> Vec<Hold> {
        // The locks held already are kept from here on (a write in flight
        // that lets one go while this waits must not leave it untaken), and
        // so are those this round of tries takes, until handed out: the
        // look-ups at the end find them all. Loops rather than iterator
        // chains, which are code of their own per closure.
        let mut kept: Vec<Rc<Lock>> = Vec::new();
        let mut wanted: Vec<&str> = Vec::new();
        for id in run_ids {
            match self.current(id) {
                Some(Hold::Mine(lock)) => kept.push(lock),
                Some(_) => {}
                None => wanted.push(id),
            }
        }
        sort_unique(&mut wanted);
        if !wanted.is_empty() {
            let runs = Array::new();
            for id in &wanted {
                runs.push(&JsValue::from_str(id));
            }
            match JsFuture::from(try_locks(&self.db, &runs)).await {
                Ok(got) => {
                    let got: Array = got.unchecked_into();
                    for (k, id) in wanted.iter().enumerate() {
                        if let Ok(release) = got.get(k as u32).dyn_into::<Function>() {
                            let lock = Rc::new(Lock { release });
                            self.held
                                .borrow_mut()
                                .insert((*id).to_owned(), Rc::downgrade(&lock));
                            kept.push(lock);
                        }
                    }
                }
                // The browser refuses locks here (an opaque origin, say):
                // go on without ownership, as where they do not exist.
                Err(_) => self.enabled.set(false),
            }
        }
        // A run whose lock this store does not hold now is owned elsewhere.
        let mut all = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            all.push(self.current(id).unwrap_or(Hold::Elsewhere));
        }
        all
    }

    /// Keeps `lock` as the owner's lock of `run_id`.
    pub(crate) fn own(&self, run_id: &str, lock: &Rc<Lock>) {
        self.owned
            .borrow_mut()
            .insert(run_id.to_owned(), lock.clone());
    }

    /// Stops owning `run_id`; the lock goes once no write in flight holds it.
    /// Whether it owned it.
    pub(crate) fn disown(&self, run_id: &str) -> bool {
        self.owned.borrow_mut().remove(run_id).is_some()
    }

    /// Stops owning `run_id` if `lock` is still what owns it.
    pub(crate) fn disown_if(&self, run_id: &str, lock: &Rc<Lock>) {
        let mut owned = self.owned.borrow_mut();
        if owned.get(run_id).is_some_and(|l| Rc::ptr_eq(l, lock)) {
            owned.remove(run_id);
        }
    }

    pub(crate) fn owns(&self, run_id: &str) -> bool {
        self.owned.borrow().contains_key(run_id)
    }

    /// Stops owning every run (the store closes); returns them with their
    /// locks, for the caller to let go of each before it tells of it.
    pub(crate) fn disown_all(&self) -> Vec<(String, Rc<Lock>)> {
        self.owned.borrow_mut().take()
    }

    /// Runs that another live store owns: locked in the origin, not by us.
    /// Loops rather than iterator chains (code of their own per closure),
    /// over indices for the JS array.
    pub(crate) async fn owned_elsewhere(&self) -> Result<Vec<String>, RepositoryError> {
        if !self.enabled.get() {
            return Ok(Vec::new());
        }
        let locked: Array = JsFuture::from(locked_runs(&self.db))
            .await
            .map_err(|e| storage("cannot list the Web Locks held", &e))?
            .unchecked_into();
        let mut runs = Vec::new();
        for i in 0..locked.length() {
            if let Some(id) = locked.get(i).as_string() {
                if self.current(&id).is_none() {
                    runs.push(id);
                }
            }
        }
        let mut ids: Vec<&str> = Vec::with_capacity(runs.len());
        for id in &runs {
            ids.push(id);
        }
        sort_unique(&mut ids);
        let mut owned = Vec::with_capacity(ids.len());
        for id in ids {
            owned.push(id.to_owned());
        }
        Ok(owned)
    }
}
