//! `Send` for browser handles on single-threaded wasm32.
//!
//! IndexedDB handles and the futures that hold them are `!Send` because a
//! `JsValue` belongs to the thread that made it. A wasm32 build without the
//! `atomics` feature has exactly one thread, so nothing can ever move to
//! another one: asserting `Send`/`Sync` there is sound. With `atomics` the
//! impls below do not exist and the adapter does not compile, rather than
//! being silently wrong.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A value asserted to stay on the one thread there is.
#[derive(Debug)]
pub(crate) struct SingleThreaded<T>(pub(crate) T);

// SAFETY: see the module docs; only on targets with a single thread.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<T> Send for SingleThreaded<T> {}
// SAFETY: as above.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<T> Sync for SingleThreaded<T> {}

impl<T> std::ops::Deref for SingleThreaded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A future wrapped as is, not boxed first: pinning `SingleThreaded<F>`
/// pins its `F` (one allocation per call rather than two).
impl<F: Future> Future for SingleThreaded<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of the only field: `SingleThreaded`
        // never moves it out, has no `Drop`, and is `Unpin` only when `F` is.
        unsafe { self.map_unchecked_mut(|wrapped| &mut wrapped.0) }.poll(cx)
    }
}
