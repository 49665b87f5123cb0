//! Change notices for watchers: after each committed write the store posts
//! what changed (a run id, a kind, a little detail) on a `BroadcastChannel`
//! named after the database. Every other channel object of that name in the
//! origin receives it: other tabs and workers, and the watchers of this very
//! store, which listen on channel objects of their own. Notices carry no
//! events: a watcher reads those from IndexedDB, so a late notice delays an
//! event but cannot duplicate one or show one that is not committed. So
//! appends in quick succession share notices: two "appended" notices in
//! 8 ms go out at once, the runs appended to after that wait for the end
//! of those 8 ms and get one notice each (`postNotice` in glue.js).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = openChannel)]
    fn open_channel(name: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = postNotice)]
    fn post_notice(channel: &JsValue, kind: &str, run: &str, a: JsValue, b: JsValue);
    #[wasm_bindgen(js_name = closeChannel)]
    fn close_channel(channel: &JsValue);
    #[wasm_bindgen(js_name = endWatches)]
    fn end_watches(channel: &JsValue);
}

/// What changed: a notice's kind, and its detail for two of them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Notice {
    /// A kind without detail: one of the constants below.
    Plain(&'static str),
    Status(&'static str),
    Rewound {
        after_wave: u32,
        next_seq: i64,
    },
}

impl Notice {
    pub(crate) const CREATED: Notice = Notice::Plain("created");
    pub(crate) const APPENDED: Notice = Notice::Plain("appended");
    pub(crate) const GRAPH: Notice = Notice::Plain("graph");
    pub(crate) const DELETED: Notice = Notice::Plain("deleted");
    pub(crate) const OWNER: Notice = Notice::Plain("owner");
}

/// The channel a store posts its notices on.
#[derive(Debug)]
pub(crate) struct Feed {
    /// `null` where there is no `BroadcastChannel`: glue.js then posts
    /// nothing (tested there, not with a crossing per notice).
    channel: JsValue,
}

impl Feed {
    /// (`db_name` a JavaScript string: an import that takes a `&str` has
    /// glue of its own.)
    pub(crate) fn new(db_name: &JsValue) -> Self {
        Feed {
            channel: open_channel(db_name),
        }
    }

    /// The channel as glue.js made it, for the store's watchers: they
    /// listen on channels of their own, and end when the store closes.
    pub(crate) fn js(&self) -> &JsValue {
        &self.channel
    }

    /// Ends the store's watches (it closes).
    pub(crate) fn end_watches(&self) {
        end_watches(&self.channel);
    }

    pub(crate) fn post(&self, run_id: &str, notice: Notice) {
        let none = JsValue::UNDEFINED;
        match notice {
            Notice::Plain(kind) => post_notice(&self.channel, kind, run_id, none.clone(), none),
            Notice::Status(status) => {
                post_notice(&self.channel, "status", run_id, status.into(), none)
            }
            Notice::Rewound {
                after_wave,
                next_seq,
            } => post_notice(
                &self.channel,
                "rewound",
                run_id,
                JsValue::from_f64(f64::from(after_wave)),
                JsValue::from_f64(next_seq as f64),
            ),
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        close_channel(&self.channel);
    }
}
