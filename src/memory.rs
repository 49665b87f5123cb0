//! An in-memory adapter: the reference for the contract, and a store for
//! tests and for pages that must not persist.

use std::sync::{Mutex, MutexGuard};

use std::future::{ready, Future};
use std::pin::Pin;

use crate::domain::{
    check_duplicate, check_event, check_graph, check_import, check_new_run, run_not_found,
    CouncilRun, CouncilRunEvent, CouncilRunStatus, NextEvent, Prune, RepositoryError,
};
use crate::port::{CouncilRepositoryPort, RunLog, RunOwnership};
use crate::time::{timestamp_after, Instant};
use crate::vec_map::{sorted_order, VecMap};

/// Keeps runs and events in memory; gone when dropped.
///
/// ```
/// # futures::executor::block_on(async {
/// use council_idb::{CouncilRepositoryPort, CouncilRun, HitlMode, InMemoryCouncilRepository};
///
/// let repo = InMemoryCouncilRepository::new();
/// let run = CouncilRun::new("Plan a trip", HitlMode::None);
/// repo.create_run(run.clone()).await?;
/// assert_eq!(repo.get_run(&run.id).await?, Some(run));
/// # Ok::<(), council_idb::RepositoryError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct InMemoryCouncilRepository {
    state: Mutex<State>,
}

/// Runs by id, each with its event log: a run's events live and die with
/// it, and one map by run id (rather than a second one for the logs) is one
/// `VecMap` compiled for string keys instead of two.
#[derive(Debug, Default)]
struct State {
    runs: VecMap<String, StoredRun>,
}

#[derive(Debug, Clone)]
struct StoredRun {
    run: CouncilRun,
    created: Instant,
    /// `(after_wave, next_seq)` of every truncation, oldest first: what a
    /// watcher compares against to learn of rewinds.
    rewinds: Vec<Rewind>,
    /// The run's events by seq.
    events: VecMap<i64, CouncilRunEvent>,
}

impl StoredRun {
    /// The seq after the last event, 0 for an empty log.
    fn next_seq(&self) -> i64 {
        self.events.keys().next_back().map_or(0, |last| last + 1)
    }

    /// Copies of the events from seq `from` on, at most `limit`: every read
    /// of events goes through here, so the copying loop is compiled once.
    /// (A loop into a vector of the right size: `collect` compiled to more.)
    fn events_from(&self, from: i64, limit: usize) -> Vec<CouncilRunEvent> {
        let events = self.events.tail_from(&from).take(limit);
        let mut copies = Vec::with_capacity(events.size_hint().0);
        for (_, event) in events {
            copies.push(event.clone());
        }
        copies
    }
}

/// `(after_wave, next_seq)` of one truncation.
pub(crate) type Rewind = (u32, i64);

impl InMemoryCouncilRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-changed (every
        // change below is checked first, then applied), so a poisoned lock is
        // safe to keep using.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn stored(&self, run_id: &str) -> Result<&StoredRun, RepositoryError> {
        self.runs.get(run_id).ok_or_else(|| run_not_found(run_id))
    }

    fn stored_mut(&mut self, run_id: &str) -> Result<&mut StoredRun, RepositoryError> {
        self.runs
            .get_mut(run_id)
            .ok_or_else(|| run_not_found(run_id))
    }

    fn run_mut(&mut self, run_id: &str) -> Result<&mut CouncilRun, RepositoryError> {
        self.stored_mut(run_id).map(|s| &mut s.run)
    }

    /// Checks `event` against storage and appends it, unless its log holds
    /// its seq already; `written` gets the position of its run and its seq
    /// when it is written.
    fn append(
        &mut self,
        event: CouncilRunEvent,
        written: &mut Vec<(usize, i64)>,
    ) -> Result<(), RepositoryError> {
        check_event(&event)?;
        let at = self
            .runs
            .position(event.run_id.as_str())
            .ok_or_else(|| run_not_found(&event.run_id))?;
        let log = &mut self.runs.value_at_mut(at).events;
        match log.get(&event.seq) {
            Some(existing) => check_duplicate(existing, &event),
            None => {
                written.push((at, event.seq));
                log.insert(event.seq, event);
                Ok(())
            }
        }
    }
}

/// The operations, done at once: a call takes effect when it is made.
impl InMemoryCouncilRepository {
    fn do_create_run(&self, run: CouncilRun) -> Result<(), RepositoryError> {
        let created = check_new_run(&run)?;
        let mut state = self.state();
        if state.runs.contains_key(&run.id) {
            return Err(RepositoryError::AlreadyExists(format!(
                "run \"{}\" exists already",
                run.id
            )));
        }
        state.runs.insert(
            run.id.clone(),
            StoredRun {
                run,
                created,
                rewinds: Vec::new(),
                events: VecMap::default(),
            },
        );
        Ok(())
    }

    fn do_update_run_status(
        &self,
        run_id: &str,
        status: CouncilRunStatus,
    ) -> Result<(), RepositoryError> {
        self.do_update(run_id, Some(status), None)
    }

    fn do_update_graph(&self, run_id: &str, graph_json: &str) -> Result<(), RepositoryError> {
        check_graph(run_id, graph_json)?;
        self.do_update(run_id, None, Some(graph_json))
    }

    /// Sets the status or the graph given and moves `updated_at` forward:
    /// one body for both updates.
    fn do_update(
        &self,
        run_id: &str,
        status: Option<CouncilRunStatus>,
        graph_json: Option<&str>,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        let run = state.run_mut(run_id)?;
        if let Some(status) = status {
            run.status = status;
        }
        if let Some(graph_json) = graph_json {
            run.graph_json = Some(graph_json.to_owned());
        }
        run.updated_at = timestamp_after(&run.updated_at);
        Ok(())
    }

    fn do_append_event(&self, event: CouncilRunEvent) -> Result<(), RepositoryError> {
        self.do_append_events(vec![event])
    }

    fn do_append_events(&self, events: Vec<CouncilRunEvent>) -> Result<(), RepositoryError> {
        let mut state = self.state();
        // Each event in turn is checked against its log as it stands,
        // holding the events of this call before it, and moves in, uncopied;
        // one whose seq the log holds by now passed as a faithful retry (of
        // a stored event or of one written just before) and is dropped. The
        // first that fails takes the ones this call wrote out again, so a
        // call that fails writes nothing. (Rather than sorting the call's
        // events to find repeats first: less code, and no copies.)
        let mut written: Vec<(usize, i64)> = Vec::new();
        for event in events {
            if let Err(e) = state.append(event, &mut written) {
                for (at, seq) in written {
                    state.runs.value_at_mut(at).events.remove(&seq);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    pub(crate) fn do_get_run(&self, run_id: &str) -> Result<Option<CouncilRun>, RepositoryError> {
        Ok(self.state().runs.get(run_id).map(|s| s.run.clone()))
    }

    pub(crate) fn do_list_runs(
        &self,
        status_filter: Option<CouncilRunStatus>,
    ) -> Result<Vec<CouncilRun>, RepositoryError> {
        let state = self.state();
        // Plain loops: the iterator chains they replace compiled to more.
        let mut runs: Vec<&StoredRun> = Vec::new();
        for stored in state.runs.values() {
            if status_filter.is_none_or(|f| stored.run.status == f) {
                runs.push(stored);
            }
        }
        let newest_first = |a: usize, b: usize| {
            let (a, b) = (runs[a], runs[b]);
            (b.created, &b.run.id).cmp(&(a.created, &a.run.id))
        };
        let order = sorted_order(runs.len(), &newest_first);
        let mut listed = Vec::with_capacity(order.len());
        for at in order {
            listed.push(runs[at].run.clone());
        }
        Ok(listed)
    }

    pub(crate) fn do_list_events(
        &self,
        run_id: &str,
    ) -> Result<Vec<CouncilRunEvent>, RepositoryError> {
        self.do_list_events_page(run_id, i64::MIN, usize::MAX)
    }

    fn do_list_events_page(
        &self,
        run_id: &str,
        from_seq: i64,
        limit: usize,
    ) -> Result<Vec<CouncilRunEvent>, RepositoryError> {
        let state = self.state();
        let stored = state.runs.get(run_id);
        Ok(stored.map_or_else(Vec::new, |s| s.events_from(from_seq, limit)))
    }

    fn do_mark_interrupted_runs(&self) -> Result<u64, RepositoryError> {
        let mut state = self.state();
        let mut count = 0;
        for stored in state.runs.values_mut() {
            if stored.run.status == CouncilRunStatus::Running {
                stored.run.status = CouncilRunStatus::Interrupted;
                stored.run.updated_at = timestamp_after(&stored.run.updated_at);
                count += 1;
            }
        }
        Ok(count)
    }

    fn do_truncate_events_after_wave(
        &self,
        run_id: &str,
        wave_index: u32,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        let stored = state.stored_mut(run_id)?;
        stored.events.retain(|_, e| e.wave_index <= wave_index);
        let next_seq = stored.next_seq();
        stored.rewinds.push((wave_index, next_seq));
        Ok(())
    }
}

type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RepositoryError>> + Send + 'a>>;

fn done<'a, T: Send + 'a>(outcome: Result<T, RepositoryError>) -> PortFuture<'a, T> {
    Box::pin(ready(outcome))
}

/// Each method does its work when called and returns a future that is
/// already resolved, so calls apply in the order they are made.
impl CouncilRepositoryPort for InMemoryCouncilRepository {
    fn create_run<'life0, 'async_trait>(
        &'life0 self,
        run: CouncilRun,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_create_run(run))
    }

    fn update_run_status<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
        status: CouncilRunStatus,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_update_run_status(run_id, status))
    }

    fn update_graph<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
        graph_json: &'life2 str,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_update_graph(run_id, graph_json))
    }

    fn append_event<'life0, 'async_trait>(
        &'life0 self,
        event: CouncilRunEvent,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_append_event(event))
    }

    fn append_events<'life0, 'async_trait>(
        &'life0 self,
        events: Vec<CouncilRunEvent>,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_append_events(events))
    }

    fn get_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, Option<CouncilRun>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_get_run(run_id))
    }

    fn list_runs<'life0, 'async_trait>(
        &'life0 self,
        status_filter: Option<CouncilRunStatus>,
    ) -> PortFuture<'async_trait, Vec<CouncilRun>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_list_runs(status_filter))
    }

    fn list_events<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, Vec<CouncilRunEvent>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_list_events(run_id))
    }

    fn mark_interrupted_runs<'life0, 'async_trait>(&'life0 self) -> PortFuture<'async_trait, u64>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_mark_interrupted_runs())
    }

    fn truncate_events_after_wave<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
        wave_index: u32,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_truncate_events_after_wave(run_id, wave_index))
    }
}

/// One store, nobody to share with: every run may be written.
impl RunOwnership for InMemoryCouncilRepository {
    fn claim_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.state().stored(run_id).map(|_| true))
    }

    fn release_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        _run_id: &'life1 str,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(Ok(()))
    }

    fn runs_owned_elsewhere<'life0, 'async_trait>(
        &'life0 self,
    ) -> PortFuture<'async_trait, Vec<String>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        done(Ok(Vec::new()))
    }
}

impl InMemoryCouncilRepository {
    /// For a watcher: the run's rewinds and its events from seq `from` on,
    /// or `None` when the run does not exist.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn tail(
        &self,
        run_id: &str,
        from: i64,
    ) -> Option<(Vec<Rewind>, Vec<CouncilRunEvent>)> {
        let state = self.state();
        let stored = state.runs.get(run_id)?;
        Some((stored.rewinds.clone(), stored.events_from(from, usize::MAX)))
    }

    fn do_next_seq(&self, run_id: &str) -> Result<i64, RepositoryError> {
        self.state().stored(run_id).map(StoredRun::next_seq)
    }

    fn do_append_next(&self, event: NextEvent) -> Result<i64, RepositoryError> {
        let seq = self.do_next_seq(&event.run_id)?;
        self.do_append_events(vec![event.numbered(seq)])?;
        Ok(seq)
    }

    fn do_import_run(
        &self,
        run: CouncilRun,
        events: Vec<CouncilRunEvent>,
    ) -> Result<(), RepositoryError> {
        check_import(&run, &events)?;
        let id = run.id.clone();
        self.do_create_run(run)?;
        // Undone on failure. (Another thread could see the run before its
        // events; a browser has one.)
        self.do_append_events(events).inspect_err(|_| {
            self.state().runs.remove(id.as_str());
        })
    }

    /// Nothing is owned in memory: every run the policy selects goes.
    fn do_prune_runs(&self, prune: &Prune) -> Result<Vec<String>, RepositoryError> {
        let runs = self.do_list_runs(None)?;
        let mut ids = Vec::new();
        let mut state = self.state();
        for run in prune.select(&runs)? {
            state.runs.remove(run.id.as_str());
            ids.push(run.id.clone());
        }
        Ok(ids)
    }

    fn do_delete_run(&self, run_id: &str) -> Result<(), RepositoryError> {
        match self.state().runs.remove(run_id) {
            Some(_) => Ok(()),
            None => Err(run_not_found(run_id)),
        }
    }
}

impl RunLog for InMemoryCouncilRepository {
    fn next_seq<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, i64>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_next_seq(run_id))
    }

    fn append_next<'life0, 'async_trait>(
        &'life0 self,
        event: NextEvent,
    ) -> PortFuture<'async_trait, i64>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_append_next(event))
    }

    fn delete_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_delete_run(run_id))
    }

    fn import_run<'life0, 'async_trait>(
        &'life0 self,
        run: CouncilRun,
        events: Vec<CouncilRunEvent>,
    ) -> PortFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_import_run(run, events))
    }

    fn list_events_page<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run_id: &'life1 str,
        from_seq: i64,
        limit: u32,
    ) -> PortFuture<'async_trait, Vec<CouncilRunEvent>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_list_events_page(run_id, from_seq, limit as usize))
    }

    fn prune_runs<'life0, 'life1, 'async_trait>(
        &'life0 self,
        prune: &'life1 Prune,
    ) -> PortFuture<'async_trait, Vec<String>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        done(self.do_prune_runs(prune))
    }
}

#[cfg(test)]
mod tests {
    use super::InMemoryCouncilRepository;
    use crate::{CouncilRepositoryPort, CouncilRun, CouncilRunEvent, HitlMode};
    use futures::executor::block_on;

    /// Repeats of one (run, seq) within a call are checked against the
    /// first of them, however many there are and wherever they stand.
    #[test]
    fn repeats_within_a_call_are_checked_against_the_first() {
        let repo = InMemoryCouncilRepository::new();
        let run = CouncilRun::new("repeats", HitlMode::None);
        block_on(repo.create_run(run.clone())).unwrap();
        let event = |seq, json: &str| CouncilRunEvent::new(&run.id, seq, 0, json);
        let retries = vec![event(1, "a"), event(0, "b"), event(1, "a"), event(1, "a")];
        block_on(repo.append_events(retries)).unwrap();
        let stored = block_on(repo.list_events(&run.id)).unwrap();
        assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1]);

        let changed = vec![event(2, "c"), event(2, "c"), event(3, "d"), event(2, "x")];
        let err = block_on(repo.append_events(changed)).unwrap_err();
        assert_eq!(err.kind(), "Constraint");
        assert!(err.message().starts_with(&format!(
            "run {} already has an event with seq 2 and different content",
            run.id
        )));
        assert_eq!(block_on(repo.list_events(&run.id)).unwrap().len(), 2);
    }
}
