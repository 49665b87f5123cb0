//! Watching a run from Rust: the same watcher as `CouncilStore.watchEvents`
//! (`src/feed.js`), with its batches decoded into Rust values.

use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::domain::{CouncilRunEvent, RepositoryError};

use super::codec::decode_event;
use super::connection::Connection;
use super::send::SingleThreaded;
use super::IndexedDbCouncilRepository;

#[wasm_bindgen(module = "/src/feed.js")]
extern "C" {
    #[wasm_bindgen(js_name = watchEvents)]
    fn watch_events_js(
        read: &JsValue,
        channel: Option<String>,
        hub: &JsValue,
        run_id: &str,
        from_seq: f64,
        signal: &JsValue,
        on_batch: &Function,
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

type Reader = Closure<dyn FnMut(f64) -> Promise>;
type Deliverer = Closure<dyn FnMut(JsValue)>;

/// A live watch; dropping it (or calling [`stop`](Watch::stop)) ends it.
#[derive(Debug)]
pub struct Watch {
    stop: SingleThreaded<Function>,
    _closures: SingleThreaded<(Reader, Deliverer)>,
}

impl Watch {
    /// Ends the watch; no batch is delivered after this returns.
    pub fn stop(&self) {
        let _ = self.stop.call0(&JsValue::NULL);
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop();
    }
}

fn decode_batch(batch: &JsValue) -> RunFeed {
    if let Some(events) = batch.dyn_ref::<Array>() {
        return match events.iter().map(|e| decode_event(&e)).collect() {
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
            Some(self.name().to_owned()),
            &JsValue::UNDEFINED,
            run_id,
            from_seq as f64,
            &JsValue::UNDEFINED,
            deliver.as_ref().unchecked_ref(),
        );
        Watch {
            stop: SingleThreaded(stop),
            _closures: SingleThreaded((read, deliver)),
        }
    }
}
