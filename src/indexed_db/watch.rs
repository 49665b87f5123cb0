//! Watching from Rust: the same watchers as `CouncilStore.watchEvents` and
//! `CouncilStore.watchRuns` (`src/glue.js`), with what they deliver decoded
//! into Rust values.

use std::rc::Rc;

use js_sys::{Array, Function, JsString, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::domain::{limits, CouncilRunEvent, CouncilRunStatus, RepositoryError, MAX_SAFE_INTEGER};

use super::connection::Connection;
use super::send::SingleThreaded;
use super::{decode_events, IndexedDbCouncilRepository};

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// The watchers of glue.js, for these and for `CouncilStore`'s:
    /// `channel` is an IndexedDB store's feed (`Feed::js`: the watch
    /// listens on the channel of its database, and ends when the store
    /// closes; `null` without `BroadcastChannel`) or `undefined`, `hub` an
    /// in-memory store's event hub (or `undefined`). JavaScript values
    /// only: a `&str` or an `Option<String>` brings glue of its own to the
    /// bindgen module.
    #[wasm_bindgen(js_name = watchEvents)]
    pub(crate) fn watch_events_js(
        read: &JsValue,
        channel: &JsValue,
        hub: &JsValue,
        run_id: &JsValue,
        from_seq: f64,
        signal: &JsValue,
        on_batch: &Function,
    ) -> Function;
    #[wasm_bindgen(js_name = watchRuns)]
    pub(crate) fn watch_runs_js(
        channel: &JsValue,
        hub: &JsValue,
        signal: &JsValue,
        on_change: &Function,
    ) -> Function;
}

/// What a run's watcher receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunFeed {
    /// Events committed since the last batch, in `seq` order, each once.
    Events(Vec<CouncilRunEvent>),
    /// The run was truncated: drop the events you hold with
    /// `wave_index > after_wave` or `seq >= next_seq`; what follows starts
    /// at `next_seq`.
    Rewound {
        /// The wave the run was rewound to.
        after_wave: u32,
        /// The first seq delivered after this.
        next_seq: i64,
    },
    /// The run is gone (or never existed); the watch has ended.
    Deleted,
    /// A stored event could not be decoded; the watch goes on.
    Unreadable(RepositoryError),
}

/// A change to one of the database's runs, as
/// [`IndexedDbCouncilRepository::watch_runs`] delivers it. It says what
/// changed, not the new content: read the run (or its events) to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunChange {
    /// The run was created.
    Created {
        /// The run's id.
        run_id: String,
    },
    /// The run's status changed (set back to `Running`, paused, finished,
    /// marked interrupted...).
    Status {
        /// The run's id.
        run_id: String,
        /// The status it has now.
        status: CouncilRunStatus,
    },
    /// The run's task graph was replaced.
    Graph {
        /// The run's id.
        run_id: String,
    },
    /// Events were appended to the run (one change per committed call or
    /// group of calls; [`watch_events`](IndexedDbCouncilRepository::watch_events)
    /// delivers the events themselves).
    Appended {
        /// The run's id.
        run_id: String,
    },
    /// The run's events after a wave were deleted.
    Rewound {
        /// The run's id.
        run_id: String,
        /// The wave the run was rewound to: events with a greater
        /// `wave_index` are gone.
        after_wave: u32,
        /// The seq after the last event kept.
        next_seq: i64,
    },
    /// The run and its events were deleted.
    Deleted {
        /// The run's id.
        run_id: String,
    },
    /// A store claimed the run or gave it up (a final status, released it,
    /// marked it interrupted as its own, or closed); see
    /// [`RunOwnership`](crate::RunOwnership). A run given up is told once
    /// the browser lists its lock as free. Creating a run, or setting it
    /// back to `Running`, makes its store the owner without this change.
    Owner {
        /// The run's id.
        run_id: String,
    },
    /// A notice this version cannot read: a kind it does not know, or a known
    /// kind whose detail is missing or malformed (another version of the
    /// crate, in another tab, may post such). Something about the run
    /// changed: read it again.
    Other {
        /// The notice's kind, as posted.
        kind: String,
        /// The run's id.
        run_id: String,
    },
}

impl RunChange {
    /// The id of the run that changed.
    pub fn run_id(&self) -> &str {
        match self {
            RunChange::Created { run_id }
            | RunChange::Status { run_id, .. }
            | RunChange::Graph { run_id }
            | RunChange::Appended { run_id }
            | RunChange::Rewound { run_id, .. }
            | RunChange::Deleted { run_id }
            | RunChange::Owner { run_id }
            | RunChange::Other { run_id, .. } => run_id,
        }
    }
}

type Reader = Closure<dyn FnMut(f64) -> Promise>;
type Deliverer = Closure<dyn FnMut(JsValue)>;

/// A live watch; dropping it (or calling [`stop`](Watch::stop)) ends it,
/// and so does closing its store.
#[derive(Debug)]
pub struct Watch {
    stop: SingleThreaded<Function>,
    /// What JavaScript calls back: the reader of a run's watcher (none for
    /// a watcher of runs) and the deliverer.
    _closures: SingleThreaded<(Option<Reader>, Deliverer)>,
}

impl Watch {
    /// Ends the watch; nothing is delivered after this returns.
    pub fn stop(&self) {
        super::locks::call_quietly(&self.stop);
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop();
    }
}

fn decode_batch(batch: &JsValue) -> RunFeed {
    if let Some(events) = batch.dyn_ref::<Array>() {
        return match decode_events(events) {
            Ok(events) => RunFeed::Events(events),
            Err(e) => RunFeed::Unreadable(e),
        };
    }
    let field = |object: &JsValue, name: &str| Reflect::get(object, &JsValue::from_str(name)).ok();
    match field(batch, "rewound").filter(|r| r.is_object()) {
        Some(rewound) => RunFeed::Rewound {
            after_wave: field(&rewound, "afterWave")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0) as u32,
            next_seq: field(&rewound, "nextSeq")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0) as i64,
        },
        None => RunFeed::Deleted,
    }
}

/// A string of at most `limits::ID_BYTES` UTF-16 units (so no longer than a
/// run id may be in UTF-8), measured before it is copied into wasm.
fn short_string(value: JsValue) -> Option<String> {
    let text = value.dyn_into::<JsString>().ok()?;
    (text.length() as usize <= limits::ID_BYTES).then(|| String::from(text))
}

/// A whole number in `0..=max`.
fn whole(value: JsValue, max: i64) -> Option<i64> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && (0.0..=max as f64).contains(n))
        .map(|n| n as i64)
}

/// The change a notice reports; `None` for a notice without a kind and a
/// run id that could be one (nothing to report).
fn decode_change(notice: &JsValue) -> Option<RunChange> {
    let field = |name: &str| Reflect::get(notice, &JsValue::from_str(name)).ok();
    let kind = short_string(field("kind")?)?;
    let run_id = short_string(field("runId")?)?;
    let change = match kind.as_str() {
        "created" => RunChange::Created { run_id },
        "graph" => RunChange::Graph { run_id },
        "appended" => RunChange::Appended { run_id },
        "deleted" => RunChange::Deleted { run_id },
        "owner" => RunChange::Owner { run_id },
        "status" => match field("status")
            .and_then(short_string)
            .and_then(|s| CouncilRunStatus::parse(&s))
        {
            Some(status) => RunChange::Status { run_id, status },
            None => RunChange::Other { kind, run_id },
        },
        "rewound" => match (
            field("afterWave").and_then(|v| whole(v, i64::from(u32::MAX))),
            field("nextSeq").and_then(|v| whole(v, MAX_SAFE_INTEGER)),
        ) {
            (Some(after_wave), Some(next_seq)) => RunChange::Rewound {
                run_id,
                after_wave: after_wave as u32,
                next_seq,
            },
            _ => RunChange::Other { kind, run_id },
        },
        _ => RunChange::Other { kind, run_id },
    };
    Some(change)
}

impl IndexedDbCouncilRepository {
    /// Follows a run live, as `CouncilStore.watchEvents` does in
    /// JavaScript: `on_batch` first receives the stored events with
    /// `seq >= from_seq`, then every event committed later by any store of
    /// the database in this origin (this one, other tabs, workers), in
    /// `seq` order, each once; a truncation arrives as
    /// [`RunFeed::Rewound`] before anything appended after it, and a deleted
    /// run as [`RunFeed::Deleted`], which ends the watch.
    pub fn watch_events(
        &self,
        run_id: &str,
        from_seq: i64,
        mut on_batch: impl FnMut(RunFeed) + 'static,
    ) -> Watch {
        let conn: Rc<Connection> = Rc::clone(&self.conn);
        let tail_of = run_id.to_owned();
        let read = Closure::<dyn FnMut(f64) -> Promise>::new(move |from: f64| {
            let answer = conn.tail(&tail_of, from as i64);
            wasm_bindgen_futures::future_to_promise(async move {
                answer.await.map_err(|e| JsValue::from_str(&e.to_string()))
            })
        });
        let deliver = Closure::<dyn FnMut(JsValue)>::new(move |batch: JsValue| {
            on_batch(decode_batch(&batch));
        });
        let stop = watch_events_js(
            read.as_ref(),
            &self.feed_js(),
            &JsValue::UNDEFINED,
            &run_id.into(),
            from_seq as f64,
            &JsValue::UNDEFINED,
            deliver.as_ref().unchecked_ref(),
        );
        Watch {
            stop: SingleThreaded(stop),
            _closures: SingleThreaded((Some(read), deliver)),
        }
    }

    /// Follows every run of the database live, as `CouncilStore.watchRuns`
    /// does in JavaScript: `on_change` receives a [`RunChange`] for each
    /// change committed from then on by any store of the database in this
    /// origin (this one, other tabs, workers). The changes one store makes
    /// arrive in the order it committed them. A notice that is not a change
    /// to a run (no kind, or no run id) is skipped.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), council_idb::RepositoryError> {
    /// use council_idb::{IndexedDbCouncilRepository, RunChange};
    ///
    /// let repo = IndexedDbCouncilRepository::open("my-app-runs").await?;
    /// let watch = repo.watch_runs(|change| match change {
    ///     RunChange::Status { run_id, status } => println!("{run_id} is {status}"),
    ///     RunChange::Deleted { run_id } => println!("{run_id} is gone"),
    ///     other => println!("{} changed", other.run_id()),
    /// });
    /// // ... later: dropping the watch ends it.
    /// drop(watch);
    /// # Ok(()) }
    /// ```
    pub fn watch_runs(&self, mut on_change: impl FnMut(RunChange) + 'static) -> Watch {
        let deliver = Closure::<dyn FnMut(JsValue)>::new(move |notice: JsValue| {
            if let Some(change) = decode_change(&notice) {
                on_change(change);
            }
        });
        let stop = watch_runs_js(
            &self.feed_js(),
            &JsValue::UNDEFINED,
            &JsValue::UNDEFINED,
            deliver.as_ref().unchecked_ref(),
        );
        Watch {
            stop: SingleThreaded(stop),
            _closures: SingleThreaded((None, deliver)),
        }
    }
}
