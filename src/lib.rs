//! council-idb: a browser-local store for the runs and event logs of LLM
//! orchestrators, over IndexedDB.
//!
//! The crate implements the orchestrator's persistence port,
//! [`CouncilRepositoryPort`], twice:
//!
//! - [`InMemoryCouncilRepository`], on every target;
//! - `IndexedDbCouncilRepository`, on wasm32, over the browser's IndexedDB.
//!
//! Both pass one contract test suite. On wasm32 the crate also exports the
//! JavaScript class `CouncilStore` (see the npm package `council-idb`).
//!
//! [`transfer`] writes and reads runs and events as lines of NDJSON in the
//! row shape of the orchestrator server's SQLite tables, for export and
//! import.
//!
//! ```
//! # futures::executor::block_on(async {
//! use council_idb::{
//!     CouncilRepositoryPort, CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode,
//!     InMemoryCouncilRepository,
//! };
//!
//! let repo = InMemoryCouncilRepository::new();
//! let run = CouncilRun::new("Summarise the report", HitlMode::ApprovePlan);
//! repo.create_run(run.clone()).await?;
//! repo.append_event(CouncilRunEvent::new(&run.id, 0, 0, r#"{"type":"plan_proposed"}"#)).await?;
//! repo.append_event(CouncilRunEvent::new(&run.id, 1, 1, r#"{"type":"node_started"}"#)).await?;
//!
//! // Rewind to wave 0: the wave-1 event goes, the run runs again.
//! repo.truncate_events_after_wave(&run.id, 0).await?;
//! repo.update_run_status(&run.id, CouncilRunStatus::Running).await?;
//! assert_eq!(repo.list_events(&run.id).await?.len(), 1);
//! # Ok::<(), council_idb::RepositoryError>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs, missing_debug_implementations)]

mod domain;
mod memory;
mod port;
mod record;
mod time;
mod vec_map;

pub mod transfer;

#[cfg(target_arch = "wasm32")]
mod indexed_db;
#[cfg(target_arch = "wasm32")]
mod js;

pub use domain::{
    limits, CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode, NextEvent, Prune,
    RepositoryError, MAX_SAFE_INTEGER,
};
pub use memory::InMemoryCouncilRepository;
pub use port::{CouncilRepositoryPort, RunLog, RunOwnership};

#[cfg(target_arch = "wasm32")]
pub use indexed_db::{IndexedDbCouncilRepository, RunChange, RunFeed, Watch, SCHEMA_VERSION};
#[cfg(target_arch = "wasm32")]
pub use js::CouncilStore;

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
