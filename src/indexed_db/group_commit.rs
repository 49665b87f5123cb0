//! Group commit for single appends.
//!
//! An orchestrator appends every streamed token delta as its own event,
//! often without awaiting the one before. One transaction per event costs
//! about half a millisecond each, so appends that arrive while a write is in
//! flight wait in a queue and go together in the next transaction. Each
//! caller still learns its own verdict only once its event is committed (or
//! refused), arrival order is kept, and a bad event fails only its caller.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::domain::{check_event, CouncilRunEvent, RepositoryError};

use super::Connection;

/// Appends waiting for the next transaction.
#[derive(Debug, Default)]
pub(crate) struct AppendQueue {
    waiting: RefCell<Vec<(CouncilRunEvent, Rc<Verdict>)>>,
    writing: Cell<bool>,
}

/// Where the writer leaves one caller's outcome.
#[derive(Debug, Default)]
struct Verdict {
    outcome: RefCell<Option<Result<(), RepositoryError>>>,
    waker: RefCell<Option<Waker>>,
}

impl Verdict {
    fn settle(&self, outcome: Result<(), RepositoryError>) {
        *self.outcome.borrow_mut() = Some(outcome);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

struct AwaitVerdict(Rc<Verdict>);

impl Future for AwaitVerdict {
    type Output = Result<(), RepositoryError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(outcome) = self.0.outcome.borrow_mut().take() {
            return Poll::Ready(outcome);
        }
        *self.0.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Queues `event` and resolves once the transaction holding it has
/// committed, with the same verdict `append_event` would give it alone.
pub(crate) async fn append(
    conn: &Rc<Connection>,
    event: CouncilRunEvent,
) -> Result<(), RepositoryError> {
    check_event(&event)?;
    let verdict = Rc::new(Verdict::default());
    conn.appends
        .waiting
        .borrow_mut()
        .push((event, verdict.clone()));
    if !conn.appends.writing.replace(true) {
        wasm_bindgen_futures::spawn_local(write_until_empty(conn.clone()));
    }
    AwaitVerdict(verdict).await
}

/// Writes the queue batch by batch until no one is waiting.
async fn write_until_empty(conn: Rc<Connection>) {
    loop {
        let batch = std::mem::take(&mut *conn.appends.waiting.borrow_mut());
        if batch.is_empty() {
            conn.appends.writing.set(false);
            return;
        }
        let (events, verdicts): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match conn.write_events(&events, false).await {
            Ok(outcomes) => {
                for (verdict, outcome) in verdicts.iter().zip(outcomes) {
                    verdict.settle(outcome);
                }
            }
            Err(failure) => {
                for verdict in &verdicts {
                    verdict.settle(Err(failure.clone()));
                }
            }
        }
    }
}
