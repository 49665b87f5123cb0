//! Awaiting one IndexedDB request for its raw result.
//!
//! The `idb` crate's request futures convert results (a `getAll` array
//! becomes a `Vec<JsValue>`, element by element) and route each outcome
//! through a channel. Here the success or error handler only flags the
//! outcome and wakes the task, and the result is read from the request as
//! the `JsValue` it is, ready to hand to JavaScript as it stands.
//!
//! A `Settled` must be awaited to the end: dropping it while the request is
//! pending frees the handlers the browser is about to call.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use idb::Request;
use wasm_bindgen::JsValue;

#[derive(Default)]
struct Outcome {
    succeeded: Option<bool>,
    waker: Option<Waker>,
}

fn finish(outcome: &RefCell<Outcome>, succeeded: bool) {
    let mut outcome = outcome.borrow_mut();
    outcome.succeeded = Some(succeeded);
    if let Some(waker) = outcome.waker.take() {
        waker.wake();
    }
}

/// A request and the flag its handlers set.
pub(crate) struct Settled<R> {
    request: R,
    outcome: Rc<RefCell<Outcome>>,
}

/// Watches `request`; await the result to read it.
pub(crate) fn settle<R: Request>(mut request: R) -> Settled<R> {
    let outcome: Rc<RefCell<Outcome>> = Rc::default();
    let (on_success, on_error) = (outcome.clone(), outcome.clone());
    request.on_success(move |_| finish(&on_success, true));
    request.on_error(move |_| finish(&on_error, false));
    Settled { request, outcome }
}

impl<R: Request + Unpin> Future for Settled<R> {
    type Output = Result<JsValue, idb::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut outcome = self.outcome.borrow_mut();
        match outcome.succeeded {
            Some(true) => Poll::Ready(self.request.result()),
            Some(false) => Poll::Ready(Err(match self.request.error() {
                Ok(Some(exception)) => idb::Error::DomException(exception),
                Ok(None) => idb::Error::DomExceptionNotFound,
                Err(e) => e,
            })),
            None => {
                outcome.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Awaits the end of a transaction: `Ok(true)` when it committed, `Ok(false)`
/// when it aborted. Only `complete` and `abort` are listened to, and exactly
/// one of them fires, so no handler is left behind for a later event.
pub(crate) struct Finished {
    _tx: idb::Transaction,
    outcome: Rc<RefCell<Outcome>>,
}

pub(crate) fn finished(mut tx: idb::Transaction) -> Finished {
    let outcome: Rc<RefCell<Outcome>> = Rc::default();
    let (on_complete, on_abort) = (outcome.clone(), outcome.clone());
    tx.on_complete(move |_| finish(&on_complete, true));
    tx.on_abort(move |_| finish(&on_abort, false));
    Finished { _tx: tx, outcome }
}

impl Future for Finished {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut outcome = self.outcome.borrow_mut();
        match outcome.succeeded {
            Some(committed) => Poll::Ready(committed),
            None => {
                outcome.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
