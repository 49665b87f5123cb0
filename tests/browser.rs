//! The contract suite in a real browser, against both adapters, plus what
//! only IndexedDB has: persistence across connections, records written by
//! other code, closed and blocked databases.
#![cfg(target_arch = "wasm32")]

mod contract;

use council_idb::{
    CouncilRepositoryPort, CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode,
    InMemoryCouncilRepository, IndexedDbCouncilRepository, NextEvent, Prune, RepositoryError,
    RunLog, RunOwnership,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
function open(name, version, upgrade) {
  return new Promise((resolve, reject) => {
    const req = version ? indexedDB.open(name, version) : indexedDB.open(name);
    req.onupgradeneeded = () => upgrade && upgrade(req.result);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
export async function raw_put(name, store, record) {
  const db = await open(name);
  try {
    await new Promise((resolve, reject) => {
      const tx = db.transaction(store, "readwrite");
      tx.objectStore(store).put(record);
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}
const held = new Map();
export async function raw_hold(name, version) {
  const db = await open(name, version, () => {});
  held.set(name, db);
}
export function raw_release(name) {
  const db = held.get(name);
  if (db) db.close();
  held.delete(name);
}
export function raw_value(json) { return JSON.parse(json); }
// Makes a database with the given layout: [{name, keyPath, indexes: [[name, keyPath, unique?]]}].
export async function raw_create(name, layout) {
  const db = await open(name, 1, (db) => {
    for (const store of JSON.parse(layout)) {
      const made = db.createObjectStore(store.name, { keyPath: store.keyPath });
      for (const [index, keyPath, unique] of store.indexes ?? []) {
        made.createIndex(index, keyPath, { unique: !!unique });
      }
    }
  });
  db.close();
}
// Posts each of `values` on the channel the stores of database `name` post
// on, from one channel object (so they arrive in order), as another version
// of the crate (or any script of the origin) could.
export function post_notices(name, values) {
  const channel = new BroadcastChannel(`council-idb:${name}`);
  for (const value of values) channel.postMessage(value);
  channel.close();
}
export function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
// Makes IndexedDB look absent, as in some private modes and sandboxed frames.
let saved;
export function hide_indexed_db() {
  saved = Object.getOwnPropertyDescriptor(globalThis, "indexedDB");
  Object.defineProperty(globalThis, "indexedDB", { value: undefined, configurable: true, writable: true });
}
export function restore_indexed_db() {
  if (saved) Object.defineProperty(globalThis, "indexedDB", saved);
  else delete globalThis.indexedDB;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn raw_put(name: &str, store: &str, record: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn raw_hold(name: &str, version: u32) -> Result<JsValue, JsValue>;
    fn raw_release(name: &str);
    fn raw_value(json: &str) -> JsValue;
    #[wasm_bindgen(catch)]
    async fn raw_create(name: &str, layout: &str) -> Result<JsValue, JsValue>;
    async fn sleep(ms: u32) -> JsValue;
    fn post_notices(name: &str, values: js_sys::Array);
    fn hide_indexed_db();
    fn restore_indexed_db();
}

fn unique_name(case: &str) -> String {
    format!("council-idb-test-{case}-{}", uuid::Uuid::new_v4())
}

async fn open_fresh(case: &str) -> (IndexedDbCouncilRepository, String) {
    let name = unique_name(case);
    let repo = IndexedDbCouncilRepository::open(&name).await.expect("open");
    (repo, name)
}

async fn finish(repo: IndexedDbCouncilRepository, name: &str) {
    repo.close();
    drop(repo);
    IndexedDbCouncilRepository::delete_database(name)
        .await
        .expect("delete_database");
}

#[track_caller]
fn expect_kind<T: std::fmt::Debug>(result: Result<T, RepositoryError>, kind: &str) -> String {
    match result {
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong error: {e}");
            e.to_string()
        }
        Ok(v) => panic!("expected a {kind} error, got Ok({v:?})"),
    }
}

macro_rules! browser_cases {
    ($($case:ident),* $(,)?) => {
        mod in_memory {
            use super::*;
            $(
                #[wasm_bindgen_test]
                async fn $case() {
                    contract::$case(&InMemoryCouncilRepository::new()).await;
                }
            )*
        }
        mod indexed_db {
            use super::*;
            $(
                #[wasm_bindgen_test]
                async fn $case() {
                    let (repo, name) = open_fresh(stringify!($case)).await;
                    contract::$case(&repo).await;
                    finish(repo, &name).await;
                }
            )*
        }
    };
}

for_each_contract_case!(browser_cases);

#[wasm_bindgen_test]
async fn data_survives_close_and_reopen() {
    let (repo, name) = open_fresh("persist").await;
    let mut runs = Vec::new();
    for (i, hitl) in HitlMode::ALL.into_iter().enumerate() {
        let mut run = CouncilRun::new(format!("persisted {i}"), hitl);
        run.graph_json = Some(format!(r#"{{"n":{i}}}"#));
        run.conversation_id = Some(i as i64 * 1000);
        repo.create_run(run.clone()).await.unwrap();
        let events: Vec<CouncilRunEvent> = (0..50)
            .map(|seq| CouncilRunEvent::new(&run.id, seq, (seq / 10) as u32, format!("e{seq}")))
            .collect();
        repo.append_events(events).await.unwrap();
        runs.push(run);
    }
    repo.update_run_status(&runs[1].id, CouncilRunStatus::AwaitingApproval)
        .await
        .unwrap();
    let listed = repo.list_runs(None).await.unwrap();
    let mut logs = Vec::new();
    for run in &runs {
        logs.push(repo.list_events(&run.id).await.unwrap());
    }
    repo.close();
    drop(repo);

    let reopened = IndexedDbCouncilRepository::open(&name).await.unwrap();
    assert_eq!(reopened.list_runs(None).await.unwrap(), listed);
    for (run, log) in runs.iter().zip(&logs) {
        assert_eq!(&reopened.list_events(&run.id).await.unwrap(), log);
        assert_eq!(log.len(), 50);
    }
    assert_eq!(
        reopened.get_run(&runs[1].id).await.unwrap().unwrap().status,
        CouncilRunStatus::AwaitingApproval
    );
    finish(reopened, &name).await;
}

#[wasm_bindgen_test]
async fn corrupt_run_records_are_serialization_errors_naming_the_record() {
    let (repo, name) = open_fresh("corrupt-runs").await;
    let good = CouncilRun::new("good", HitlMode::None);
    repo.create_run(good.clone()).await.unwrap();
    let base = r#""goal":"g","graphJson":null,"hitlMode":"none","conversationId":null,"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","createdKey":"0""#;
    let cases = [
        (
            "bad-status",
            format!(r#"{{"id":"bad-status","status":"bogus",{base}}}"#),
            "status",
        ),
        (
            "bad-hitl",
            format!(
                r#"{{"id":"bad-hitl","status":"running",{}}}"#,
                base.replace(r#""hitlMode":"none""#, r#""hitlMode":7"#)
            ),
            "hitlMode",
        ),
        (
            "no-goal",
            format!(
                r#"{{"id":"no-goal","status":"running",{}}}"#,
                base.replace(r#""goal":"g","#, "")
            ),
            "goal",
        ),
        (
            "bad-conversation",
            format!(
                r#"{{"id":"bad-conversation","status":"running",{}}}"#,
                base.replace(r#""conversationId":null"#, r#""conversationId":1.5"#)
            ),
            "conversationId",
        ),
        (
            "bad-graph",
            format!(
                r#"{{"id":"bad-graph","status":"running",{}}}"#,
                base.replace(r#""graphJson":null"#, r#""graphJson":{"a":1}"#)
            ),
            "graphJson",
        ),
    ];
    for (id, json, field) in &cases {
        raw_put(&name, "runs", raw_value(json)).await.unwrap();
        let message = expect_kind(repo.get_run(id).await, "Serialization");
        assert!(message.contains(id) && message.contains(field), "{message}");
        expect_kind(repo.list_runs(None).await, "Serialization");
        expect_kind(
            repo.update_run_status(id, CouncilRunStatus::Failed).await,
            "Serialization",
        );
        // Put the record right again so the next case is seen alone.
        raw_put(
            &name,
            "runs",
            raw_value(&format!(r#"{{"id":"{id}","status":"failed",{base}}}"#)),
        )
        .await
        .unwrap();
    }
    // Nothing was lost or defaulted, and the store still works.
    assert_eq!(repo.get_run(&good.id).await.unwrap(), Some(good.clone()));
    assert_eq!(repo.list_runs(None).await.unwrap().len(), cases.len() + 1);
    raw_put(
        &name,
        "runs",
        raw_value(&format!(
            r#"{{"id":"zz","status":"running",{}}}"#,
            base.replace(r#""goal":"g""#, r#""goal":null"#)
        )),
    )
    .await
    .unwrap();
    expect_kind(repo.mark_interrupted_runs().await, "Serialization");
    assert_eq!(
        repo.get_run(&good.id).await.unwrap().unwrap().status,
        CouncilRunStatus::Running
    );
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn corrupt_event_records_are_serialization_errors_naming_the_record() {
    let (repo, name) = open_fresh("corrupt-events").await;
    let run = CouncilRun::new("events", HitlMode::None);
    repo.create_run(run.clone()).await.unwrap();
    repo.append_event(CouncilRunEvent::new(&run.id, 0, 0, "ok"))
        .await
        .unwrap();
    let id = &run.id;
    let at = r#""createdAt":"2026-01-01T00:00:00Z""#;
    for (json, field) in [
        (
            format!(r#"{{"runId":"{id}","seq":1,"eventJson":5,"waveIndex":0,{at}}}"#),
            "eventJson",
        ),
        (
            format!(r#"{{"runId":"{id}","seq":1,"eventJson":"x","waveIndex":-1,{at}}}"#),
            "waveIndex",
        ),
        (
            format!(r#"{{"runId":"{id}","seq":1,"eventJson":"x","waveIndex":"0",{at}}}"#),
            "waveIndex",
        ),
        (
            format!(r#"{{"runId":"{id}","seq":1,"eventJson":"x","waveIndex":0}}"#),
            "createdAt",
        ),
        (
            format!(r#"{{"runId":"{id}","seq":1.5,"eventJson":"x","waveIndex":1,{at}}}"#),
            "seq",
        ),
    ] {
        raw_put(&name, "events", raw_value(&json)).await.unwrap();
        let message = expect_kind(repo.list_events(id).await, "Serialization");
        assert!(
            message.contains(id.as_str()) && message.contains(field),
            "{message}"
        );
        let bad_seq_one = !json.contains("1.5");
        if bad_seq_one {
            // An append whose duplicate check meets the bad record fails too.
            let retry = CouncilRunEvent::new(id, 1, 0, "x");
            expect_kind(repo.append_event(retry).await, "Serialization");
        }
        raw_put(
            &name,
            "events",
            raw_value(&format!(
                r#"{{"runId":"{id}","seq":1,"eventJson":"fixed","waveIndex":0,{at}}}"#
            )),
        )
        .await
        .unwrap();
        if !bad_seq_one {
            // The seq 1.5 record is the only one in wave 1, so truncating
            // after wave 0 removes just it.
            repo.truncate_events_after_wave(id, 0).await.unwrap();
        }
    }
    let log = repo.list_events(id).await.unwrap();
    let texts: Vec<(i64, &str)> = log.iter().map(|e| (e.seq, e.event_json.as_str())).collect();
    assert_eq!(texts, [(0, "ok"), (1, "fixed")]);
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn a_closed_repository_gives_storage_errors_and_reopening_works() {
    let (repo, name) = open_fresh("closed").await;
    let run = CouncilRun::new("before close", HitlMode::None);
    repo.create_run(run.clone()).await.unwrap();
    repo.close();
    let message = expect_kind(repo.get_run(&run.id).await, "Storage");
    assert!(message.contains("InvalidStateError"), "{message}");
    expect_kind(
        repo.create_run(CouncilRun::new("after", HitlMode::None))
            .await,
        "Storage",
    );
    expect_kind(
        repo.append_event(CouncilRunEvent::new(&run.id, 0, 0, "x"))
            .await,
        "Storage",
    );
    expect_kind(repo.list_runs(None).await, "Storage");
    drop(repo);
    let reopened = IndexedDbCouncilRepository::open(&name).await.unwrap();
    assert_eq!(reopened.get_run(&run.id).await.unwrap(), Some(run));
    finish(reopened, &name).await;
}

#[wasm_bindgen_test]
async fn a_newer_or_foreign_database_is_a_storage_error() {
    let newer = unique_name("newer");
    raw_hold(&newer, 7).await.unwrap();
    raw_release(&newer);
    let message = expect_kind(IndexedDbCouncilRepository::open(&newer).await, "Storage");
    assert!(message.contains("VersionError"), "{message}");
    IndexedDbCouncilRepository::delete_database(&newer)
        .await
        .unwrap();

    let foreign = unique_name("foreign");
    raw_hold(&foreign, 1).await.unwrap();
    raw_release(&foreign);
    let message = expect_kind(IndexedDbCouncilRepository::open(&foreign).await, "Storage");
    assert!(message.contains("NotFoundError"), "{message}");
    IndexedDbCouncilRepository::delete_database(&foreign)
        .await
        .unwrap();
}

#[wasm_bindgen_test]
async fn a_blocked_delete_is_an_error_not_a_hang() {
    let name = unique_name("blocked");
    raw_hold(&name, 1).await.unwrap();
    let message = expect_kind(
        IndexedDbCouncilRepository::delete_database(&name).await,
        "Storage",
    );
    assert!(message.contains("blocked"), "{message}");
    // The browser keeps that delete pending: an open or a second delete
    // would wait behind it with no `blocked` event, so both are refused.
    let message = expect_kind(IndexedDbCouncilRepository::open(&name).await, "Storage");
    assert!(message.contains("has to wait"), "{message}");
    let message = expect_kind(
        IndexedDbCouncilRepository::delete_database(&name).await,
        "Storage",
    );
    assert!(message.contains("has to wait"), "{message}");
    // Once the blocking connection closes, the delete goes through and the
    // name opens again, as a new empty database.
    raw_release(&name);
    let mut reopened = None;
    for _ in 0..200 {
        if let Ok(repo) = IndexedDbCouncilRepository::open(&name).await {
            reopened = Some(repo);
            break;
        }
        sleep(10).await;
    }
    let repo = reopened.expect("the database opens again after the pending delete ends");
    assert_eq!(repo.list_runs(None).await.unwrap(), vec![]);
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn an_open_repository_gives_way_to_a_delete_elsewhere_and_comes_back() {
    let (repo, name) = open_fresh("gives-way").await;
    repo.create_run(CouncilRun::new("x", HitlMode::None))
        .await
        .unwrap();
    // The repository closes on versionchange, so the delete is not blocked.
    IndexedDbCouncilRepository::delete_database(&name)
        .await
        .unwrap();
    // The next call opens the (now empty) database again.
    assert_eq!(repo.list_runs(None).await.unwrap(), vec![]);
    let run = CouncilRun::new("after the delete", HitlMode::None);
    repo.create_run(run.clone()).await.unwrap();
    assert_eq!(repo.get_run(&run.id).await.unwrap(), Some(run));
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn a_foreign_upgrade_under_an_open_repository_is_a_storage_error_then_none() {
    let (repo, name) = open_fresh("foreign-upgrade").await;
    let run = CouncilRun::new("before the upgrade", HitlMode::None);
    repo.create_run(run.clone()).await.unwrap();
    // Another page opens the database with a newer version: ours gives way.
    raw_hold(&name, 2).await.expect("upgrade elsewhere");
    let message = expect_kind(repo.get_run(&run.id).await, "Storage");
    assert!(message.contains("VersionError"), "{message}");
    raw_release(&name);
    // Still a typed error, not a hang or a trap, on the next call too.
    expect_kind(repo.list_runs(None).await, "Storage");
    drop(repo);
    IndexedDbCouncilRepository::delete_database(&name)
        .await
        .unwrap();
}

#[wasm_bindgen_test]
async fn a_database_with_another_layout_is_refused_saying_what_differs() {
    let cases = [
        (
            "no-indexes",
            r#"[{"name":"runs","keyPath":"id"},{"name":"events","keyPath":["runId","seq"]}]"#,
            "has no index \"by_wave\"",
        ),
        (
            "wrong-key",
            r#"[{"name":"runs","keyPath":"runId","indexes":[["by_created",["createdKey","id"]],["by_status",["status","createdKey","id"]]]},
                {"name":"events","keyPath":["runId","seq"],"indexes":[["by_wave",["runId","waveIndex"]]]}]"#,
            "key path \"runId\", not \"id\"",
        ),
        (
            "unique-index",
            r#"[{"name":"runs","keyPath":"id","indexes":[["by_created",["createdKey","id"],true],["by_status",["status","createdKey","id"]]]},
                {"name":"events","keyPath":["runId","seq"],"indexes":[["by_wave",["runId","waveIndex"]]]}]"#,
            "is unique",
        ),
        (
            "wrong-index-path",
            r#"[{"name":"runs","keyPath":"id","indexes":[["by_created",["createdKey","id"]],["by_status",["status","createdKey","id"]]]},
                {"name":"events","keyPath":["runId","seq"],"indexes":[["by_wave","waveIndex"]]}]"#,
            "by_wave\" has key path \"waveIndex\"",
        ),
    ];
    for (case, layout, expected) in cases {
        let name = unique_name(case);
        raw_create(&name, layout).await.expect("raw layout");
        let message = expect_kind(IndexedDbCouncilRepository::open(&name).await, "Storage");
        assert!(message.contains(expected), "{case}: {message}");
        // The refused database is closed again: deleting it is not blocked.
        IndexedDbCouncilRepository::delete_database(&name)
            .await
            .unwrap();
    }
}

fn event(run_id: &str, seq: i64, wave: u32) -> CouncilRunEvent {
    CouncilRunEvent::new(run_id, seq, wave, format!(r#"{{"seq":{seq}}}"#))
}

/// Lock releases reach the browser asynchronously: wait until `repo` sees
/// no run owned elsewhere (or give up after a second).
async fn until_nothing_owned_elsewhere(repo: &IndexedDbCouncilRepository) {
    for _ in 0..100 {
        if repo.runs_owned_elsewhere().await.unwrap().is_empty() {
            return;
        }
        sleep(10).await;
    }
    panic!("runs still owned elsewhere after a second");
}

#[wasm_bindgen_test]
async fn a_run_belongs_to_one_live_store() {
    let (a, name) = open_fresh("owner").await;
    let b = IndexedDbCouncilRepository::open(&name).await.unwrap();
    let run = CouncilRun::new("executed by a", HitlMode::None);
    let id = run.id.clone();
    a.create_run(run).await.unwrap();
    a.append_event(event(&id, 0, 0)).await.unwrap();

    // B boots: A's run is alive, so it is not interrupted, and B may not write it.
    assert_eq!(b.mark_interrupted_runs().await.unwrap(), 0);
    assert_eq!(b.runs_owned_elsewhere().await.unwrap(), vec![id.clone()]);
    assert_eq!(
        a.runs_owned_elsewhere().await.unwrap(),
        Vec::<String>::new()
    );
    for message in [
        expect_kind(b.append_event(event(&id, 1, 0)).await, "Conflict"),
        expect_kind(b.append_events(vec![event(&id, 1, 0)]).await, "Conflict"),
        expect_kind(
            b.update_run_status(&id, CouncilRunStatus::Running).await,
            "Conflict",
        ),
        expect_kind(b.update_graph(&id, "{}").await, "Conflict"),
        expect_kind(b.truncate_events_after_wave(&id, 0).await, "Conflict"),
    ] {
        assert!(message.contains(&id), "{message}");
    }
    assert!(!b.claim_run(&id).await.unwrap());
    // Reads are never refused, and A goes on writing.
    assert_eq!(
        b.get_run(&id).await.unwrap().unwrap().status,
        CouncilRunStatus::Running
    );
    a.append_event(event(&id, 1, 1)).await.unwrap();
    assert_eq!(b.list_events(&id).await.unwrap().len(), 2);

    // A goes away: its run was left behind, and B takes it over.
    drop(a);
    until_nothing_owned_elsewhere(&b).await;
    assert_eq!(b.mark_interrupted_runs().await.unwrap(), 1);
    b.update_run_status(&id, CouncilRunStatus::Running)
        .await
        .unwrap();
    let c = IndexedDbCouncilRepository::open(&name).await.unwrap();
    assert_eq!(c.runs_owned_elsewhere().await.unwrap(), vec![id.clone()]);
    expect_kind(c.append_event(event(&id, 2, 2)).await, "Conflict");
    b.append_event(event(&id, 2, 2)).await.unwrap();

    // A final status gives the run up; C may then claim it, and B may not.
    b.update_run_status(&id, CouncilRunStatus::Completed)
        .await
        .unwrap();
    until_nothing_owned_elsewhere(&c).await;
    assert!(c.claim_run(&id).await.unwrap());
    assert!(c.claim_run(&id).await.unwrap(), "claiming twice is fine");
    expect_kind(b.update_graph(&id, "{}").await, "Conflict");
    c.release_run(&id).await.unwrap();
    until_nothing_owned_elsewhere(&b).await;
    b.update_graph(&id, "{}").await.unwrap();
    expect_kind(c.claim_run("no such run").await, "NotFound");
    drop(c);
    finish(b, &name).await;
}

#[wasm_bindgen_test]
async fn unawaited_writes_to_runs_given_up_never_conflict_with_each_other() {
    // A write to a run nobody owns takes the run's lock for its length. A
    // write letting such a lock go while the next one waited for its locks
    // made that next write fail with `Conflict` (Chromium), from this very
    // store: here the runs are given up in the middle of a stream of writes.
    let (repo, name) = open_fresh("self-conflict").await;
    let runs = ["a", "b", "c"];
    for id in runs {
        let mut run = CouncilRun::new("given up midway", HitlMode::None);
        run.id = id.into();
        repo.create_run(run).await.unwrap();
    }
    let mut next = [0i64; 3];
    let mut calls = Vec::new();
    let mut numbered = Vec::new();
    for i in 0..3000usize {
        if i == 500 {
            for id in runs {
                calls.push(repo.update_run_status(id, CouncilRunStatus::Completed));
            }
        }
        let r = i % 3;
        match (i * 7) % 5 {
            0 => {
                let other = (r + 1) % 3;
                let mut batch = Vec::new();
                for _ in 0..20 {
                    batch.push(event(runs[r], next[r], 0));
                    next[r] += 1;
                }
                for _ in 0..5 {
                    batch.push(event(runs[other], next[other], 0));
                    next[other] += 1;
                }
                calls.push(repo.append_events(batch));
            }
            1 => {
                numbered.push(repo.append_next(NextEvent::new(runs[r], 0, "{}")));
                next[r] += 1;
            }
            2 => calls.push(repo.update_graph(runs[r], "{}")),
            _ => {
                calls.push(repo.append_event(event(runs[r], next[r], 0)));
                next[r] += 1;
            }
        }
        if i % 100 == 0 {
            sleep(0).await;
        }
    }
    for (i, call) in calls.into_iter().enumerate() {
        if let Err(e) = call.await {
            panic!("call {i}: {e}");
        }
    }
    for (i, call) in numbered.into_iter().enumerate() {
        if let Err(e) = call.await {
            panic!("append_next {i}: {e}");
        }
    }
    for (r, id) in runs.iter().enumerate() {
        assert_eq!(repo.next_seq(id).await.unwrap(), next[r]);
    }
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn an_imported_run_is_not_owned_by_the_store_that_imported_it() {
    let (a, name) = open_fresh("import-owner").await;
    let b = IndexedDbCouncilRepository::open(&name).await.unwrap();
    let run = CouncilRun::new("imported while running", HitlMode::None);
    let id = run.id.clone();
    a.import_run(run, vec![event(&id, 0, 0)]).await.unwrap();
    // The import's hold on the run's lock goes with its transaction (the
    // browser may take a moment to see it go); no owner keeps it.
    until_nothing_owned_elsewhere(&b).await;
    // Another store may resume it.
    b.update_run_status(&id, CouncilRunStatus::Running)
        .await
        .unwrap();
    b.append_event(event(&id, 1, 0)).await.unwrap();
    drop(b);
    finish(a, &name).await;
}

#[wasm_bindgen_test]
async fn prune_spares_the_runs_a_live_store_owns() {
    let (a, name) = open_fresh("prune-owned").await;
    let b = IndexedDbCouncilRepository::open(&name).await.unwrap();
    let mine = CouncilRun::new("executed by a", HitlMode::None);
    let theirs = CouncilRun::new("executed by b", HitlMode::None);
    let done = CouncilRun::new("finished", HitlMode::None);
    a.create_run(mine.clone()).await.unwrap();
    b.create_run(theirs.clone()).await.unwrap();
    a.create_run(done.clone()).await.unwrap();
    a.update_run_status(&done.id, CouncilRunStatus::Completed)
        .await
        .unwrap();
    let everything = Prune {
        keep_latest: Some(0),
        ..Prune::default()
    };
    assert_eq!(a.prune_runs(&everything).await.unwrap(), vec![done.id]);
    let mut left: Vec<String> = a
        .list_runs(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    left.sort();
    let mut owned = vec![mine.id.clone(), theirs.id.clone()];
    owned.sort();
    assert_eq!(left, owned);
    // Once B lets go of its run, A's next prune takes it; A's own stays.
    b.update_run_status(&theirs.id, CouncilRunStatus::Failed)
        .await
        .unwrap();
    until_nothing_owned_elsewhere(&a).await;
    assert_eq!(a.prune_runs(&everything).await.unwrap(), vec![theirs.id]);
    assert_eq!(a.list_runs(None).await.unwrap(), vec![mine]);
    drop(b);
    finish(a, &name).await;
}

#[wasm_bindgen_test]
async fn mark_interrupted_releases_the_callers_own_runs() {
    let (a, name) = open_fresh("own-interrupt").await;
    let run = CouncilRun::new("mine", HitlMode::None);
    a.create_run(run.clone()).await.unwrap();
    // The caller says its own running runs were left behind: they go too.
    assert_eq!(a.mark_interrupted_runs().await.unwrap(), 1);
    let b = IndexedDbCouncilRepository::open(&name).await.unwrap();
    until_nothing_owned_elsewhere(&b).await;
    b.update_run_status(&run.id, CouncilRunStatus::Running)
        .await
        .unwrap();
    expect_kind(a.append_event(event(&run.id, 0, 0)).await, "Conflict");
    drop(b);
    finish(a, &name).await;
}

/// Appends 0..20 over waves 0..3, a rewind to wave 1, and new content for
/// seq 10..15, all fired at once; then whatever `lose` does; then checks that
/// every call succeeded and the log is exactly what call order gives.
async fn rewind_through(repo: &IndexedDbCouncilRepository, yield_first: bool, lose: impl FnOnce()) {
    let run = CouncilRun::new("through a lost connection", HitlMode::None);
    let id = run.id.clone();
    repo.create_run(run).await.unwrap();
    let mut calls = Vec::new();
    for seq in 0..20 {
        calls.push(repo.append_event(event(&id, seq, (seq / 5) as u32)));
    }
    calls.push(repo.truncate_events_after_wave(&id, 1));
    for seq in 10..15 {
        calls.push(repo.append_event(CouncilRunEvent::new(&id, seq, 2, "after the rewind")));
    }
    calls.push(repo.update_graph(&id, "graph after"));
    if yield_first {
        sleep(1).await;
    }
    lose();
    for (i, outcome) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        outcome.unwrap_or_else(|e| panic!("yield_first {yield_first}, call {i}: {e}"));
    }
    let events = repo.list_events(&id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (0..15).collect::<Vec<_>>()
    );
    assert!(events[10..]
        .iter()
        .all(|e| e.event_json == "after the rewind"));
    let stored = repo.get_run(&id).await.unwrap().unwrap();
    assert_eq!(stored.graph_json.as_deref(), Some("graph after"));
}

#[wasm_bindgen_test]
async fn a_lost_connection_is_reopened_and_calls_go_on_in_order() {
    let (repo, name) = open_fresh("lost-connection").await;
    // Lost with transactions in flight (they abort and run again) and calls
    // still queued; at once, and after the queue had a moment to start more.
    rewind_through(&repo, false, || repo.simulate_lost_connection(true)).await;
    rewind_through(&repo, true, || repo.simulate_lost_connection(true)).await;
    // Lost silently: the next transaction cannot start, and runs again.
    rewind_through(&repo, false, || repo.simulate_lost_connection(false)).await;
    rewind_through(&repo, true, || repo.simulate_lost_connection(false)).await;
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn prune_runs_takes_effect_in_call_order_unpolled_or_through_a_lost_connection() {
    let (repo, name) = open_fresh("prune-order").await;
    let prune = Prune {
        statuses: Some(vec![CouncilRunStatus::Completed]),
        ..Prune::default()
    };
    // Its future dropped unpolled (dropping does not cancel a call), then
    // the connection lost noticed and silently, right after the calls.
    for lose in [None, Some(true), Some(false)] {
        let run = CouncilRun::new("pruned", HitlMode::None);
        let id = run.id.clone();
        repo.create_run(run).await.unwrap();
        repo.update_run_status(&id, CouncilRunStatus::Completed)
            .await
            .unwrap();
        let pruned = repo.prune_runs(&prune);
        // Made after the prune: finds the run gone.
        let after = repo.append_event(event(&id, 0, 0));
        match lose {
            None => drop(pruned),
            Some(noticed) => {
                repo.simulate_lost_connection(noticed);
                assert_eq!(
                    pruned.await.unwrap(),
                    std::slice::from_ref(&id),
                    "lose {lose:?}"
                );
            }
        }
        expect_kind(after.await, "NotFound");
        assert_eq!(repo.get_run(&id).await.unwrap(), None, "lose {lose:?}");
        assert!(repo.list_events(&id).await.unwrap().is_empty());
    }
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn a_run_can_be_watched_from_rust() {
    use council_idb::{NextEvent, RunFeed, RunLog};
    use std::cell::RefCell;
    use std::rc::Rc;

    let (writer, name) = open_fresh("watch").await;
    let watcher = IndexedDbCouncilRepository::open(&name).await.unwrap();
    let run = CouncilRun::new("watched", HitlMode::None);
    let id = run.id.clone();
    writer.create_run(run).await.unwrap();
    for wave in 0..3 {
        writer
            .append_next(NextEvent::new(&id, wave, "before"))
            .await
            .unwrap();
    }
    // Rebuilds the log from what it receives, as a UI would.
    /// The log as rebuilt, and every batch as received.
    type Seen = (Vec<(i64, u32)>, Vec<RunFeed>);
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let sink = seen.clone();
    let watch = watcher.watch_events(&id, 0, move |batch| {
        let mut seen = sink.borrow_mut();
        match &batch {
            RunFeed::Events(events) => seen.0.extend(events.iter().map(|e| (e.seq, e.wave_index))),
            RunFeed::Rewound {
                after_wave,
                next_seq,
            } => seen
                .0
                .retain(|&(seq, wave)| wave <= *after_wave && seq < *next_seq),
            _ => {}
        }
        seen.1.push(batch);
    });
    let mut calls = Vec::new();
    for wave in 3..6 {
        calls.push(writer.append_next(NextEvent::new(&id, wave, "more")));
    }
    futures::future::join_all(calls).await;
    writer.truncate_events_after_wave(&id, 1).await.unwrap();
    writer
        .append_next(NextEvent::new(&id, 2, "after the rewind"))
        .await
        .unwrap();
    let stored: Vec<(i64, u32)> = writer
        .list_events(&id)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.seq, e.wave_index))
        .collect();
    assert_eq!(stored, vec![(0, 0), (1, 1), (2, 2)]);
    for _ in 0..200 {
        if seen.borrow().0 == stored
            && seen
                .borrow()
                .1
                .iter()
                .any(|b| matches!(b, RunFeed::Rewound { .. }))
        {
            break;
        }
        sleep(10).await;
    }
    assert_eq!(seen.borrow().0, stored);
    assert!(seen.borrow().1.contains(&RunFeed::Rewound {
        after_wave: 1,
        next_seq: 2
    }));
    writer.delete_run(&id).await.unwrap();
    for _ in 0..200 {
        if seen.borrow().1.last() == Some(&RunFeed::Deleted) {
            break;
        }
        sleep(10).await;
    }
    assert_eq!(seen.borrow().1.last(), Some(&RunFeed::Deleted));
    drop(watch);
    drop(watcher);
    finish(writer, &name).await;
}

/// Waits until `done()` holds, for at most two seconds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        sleep(10).await;
    }
    panic!("still waiting after two seconds for {what}");
}

/// Every change `watch_runs` delivers, in order, and the watch.
fn record_changes(
    repo: &IndexedDbCouncilRepository,
) -> (
    std::rc::Rc<std::cell::RefCell<Vec<council_idb::RunChange>>>,
    council_idb::Watch,
) {
    let seen = std::rc::Rc::<std::cell::RefCell<Vec<_>>>::default();
    let sink = seen.clone();
    let watch = repo.watch_runs(move |change| sink.borrow_mut().push(change));
    (seen, watch)
}

#[wasm_bindgen_test]
async fn runs_can_be_watched_from_rust_across_stores() {
    use council_idb::{RunChange, RunLog};

    let (watcher, name) = open_fresh("watch-runs").await;
    let writer = IndexedDbCouncilRepository::open(&name).await.unwrap();
    let (seen, _watch) = record_changes(&watcher);

    // Every kind of change, made through the second store.
    let run = CouncilRun::new("watched from another store", HitlMode::ApprovePlan);
    let id = run.id.clone();
    writer.create_run(run).await.unwrap();
    writer
        .update_run_status(&id, CouncilRunStatus::AwaitingApproval)
        .await
        .unwrap();
    writer.update_graph(&id, r#"{"nodes":[]}"#).await.unwrap();
    writer.append_event(event(&id, 0, 0)).await.unwrap();
    writer.append_event(event(&id, 1, 1)).await.unwrap();
    writer.append_event(event(&id, 2, 2)).await.unwrap();
    writer.truncate_events_after_wave(&id, 0).await.unwrap();
    writer.release_run(&id).await.unwrap();
    writer.delete_run(&id).await.unwrap();
    let run_id = || id.clone();
    let expected = vec![
        RunChange::Created { run_id: run_id() },
        RunChange::Status {
            run_id: run_id(),
            status: CouncilRunStatus::AwaitingApproval,
        },
        RunChange::Graph { run_id: run_id() },
        RunChange::Appended { run_id: run_id() },
        RunChange::Rewound {
            run_id: run_id(),
            after_wave: 0,
            next_seq: 1,
        },
        RunChange::Owner { run_id: run_id() },
        RunChange::Deleted { run_id: run_id() },
    ];
    // Appends to a run in quick succession may share one change: repeats
    // in a row count once.
    let in_a_row_once = || {
        let mut changes = seen.borrow().clone();
        changes.dedup();
        changes
    };
    until("every change", || in_a_row_once().len() >= expected.len()).await;
    assert_eq!(in_a_row_once(), expected);
    assert!(seen.borrow().iter().all(|c| c.run_id() == id));

    // The watcher's own store's changes arrive too, and a store that
    // closes gives up the runs it owns.
    let mine = CouncilRun::new("watched from its own store", HitlMode::None);
    watcher.create_run(mine.clone()).await.unwrap();
    until("the watcher's own change", || {
        seen.borrow().last()
            == Some(&RunChange::Created {
                run_id: mine.id.clone(),
            })
    })
    .await;
    let theirs = CouncilRun::new("owned by the writer", HitlMode::None);
    writer.create_run(theirs.clone()).await.unwrap();
    drop(writer);
    until("the closed store's release", || {
        seen.borrow().last()
            == Some(&RunChange::Owner {
                run_id: theirs.id.clone(),
            })
    })
    .await;
    finish(watcher, &name).await;
}

#[wasm_bindgen_test]
async fn odd_notices_are_skipped_or_reported_as_other_changes() {
    use council_idb::RunChange;

    let (repo, name) = open_fresh("watch-runs-odd").await;
    let (seen, _watch) = record_changes(&repo);
    let long_id = "x".repeat(council_idb::limits::ID_BYTES + 1);
    let notices = [
        // Not a change to a run: skipped.
        "null".to_owned(),
        r#""created""#.to_owned(),
        "[1, 2]".to_owned(),
        r#"{"kind": "created"}"#.to_owned(),
        r#"{"kind": 7, "runId": "r"}"#.to_owned(),
        r#"{"kind": "created", "runId": 7}"#.to_owned(),
        format!(r#"{{"kind": "created", "runId": "{long_id}"}}"#),
        // A change this version cannot read: reported as such.
        r#"{"kind": "renamed", "runId": "r1", "name": "new"}"#.to_owned(),
        r#"{"kind": "status", "runId": "r2"}"#.to_owned(),
        r#"{"kind": "status", "runId": "r3", "status": "sleeping"}"#.to_owned(),
        r#"{"kind": "rewound", "runId": "r4"}"#.to_owned(),
        r#"{"kind": "rewound", "runId": "r5", "afterWave": -1, "nextSeq": 2}"#.to_owned(),
        r#"{"kind": "rewound", "runId": "r6", "afterWave": 1, "nextSeq": 2.5}"#.to_owned(),
        r#"{"kind": "rewound", "runId": "r7", "afterWave": 4294967296, "nextSeq": 2}"#.to_owned(),
        // Well-formed, with fields this version does not know.
        r#"{"kind": "rewound", "runId": "r8", "afterWave": 1, "nextSeq": 2, "by": "x"}"#.to_owned(),
        r#"{"kind": "status", "runId": "r9", "status": "completed"}"#.to_owned(),
    ];
    post_notices(&name, notices.iter().map(|n| raw_value(n)).collect());
    until("the last notice", || seen.borrow().len() >= 9).await;
    let other = |kind: &str, run_id: &str| RunChange::Other {
        kind: kind.to_owned(),
        run_id: run_id.to_owned(),
    };
    assert_eq!(
        *seen.borrow(),
        vec![
            other("renamed", "r1"),
            other("status", "r2"),
            other("status", "r3"),
            other("rewound", "r4"),
            other("rewound", "r5"),
            other("rewound", "r6"),
            other("rewound", "r7"),
            RunChange::Rewound {
                run_id: "r8".to_owned(),
                after_wave: 1,
                next_seq: 2,
            },
            RunChange::Status {
                run_id: "r9".to_owned(),
                status: CouncilRunStatus::Completed,
            },
        ]
    );
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn a_stopped_or_dropped_run_watch_gets_nothing_more() {
    use council_idb::{RunChange, RunLog};

    let (repo, name) = open_fresh("watch-runs-stop").await;
    let writer = IndexedDbCouncilRepository::open(&name).await.unwrap();
    let (stopped, stopped_watch) = record_changes(&repo);
    let (dropped, dropped_watch) = record_changes(&repo);
    let (live, _live_watch) = record_changes(&repo);
    let first = CouncilRun::new("seen by all", HitlMode::None);
    writer.create_run(first.clone()).await.unwrap();
    until("the first change, everywhere", || {
        [&stopped, &dropped, &live]
            .iter()
            .all(|seen| seen.borrow().len() == 1)
    })
    .await;

    stopped_watch.stop();
    stopped_watch.stop(); // stopping twice is fine
    drop(dropped_watch);
    let second = CouncilRun::new("seen by the live watch only", HitlMode::None);
    writer.create_run(second.clone()).await.unwrap();
    writer.delete_run(&second.id).await.unwrap();
    // The live watch is the witness that the notices went out.
    until("the live watch's changes", || {
        live.borrow().last()
            == Some(&RunChange::Deleted {
                run_id: second.id.clone(),
            })
    })
    .await;
    let only_first = vec![RunChange::Created { run_id: first.id }];
    assert_eq!(*stopped.borrow(), only_first);
    assert_eq!(*dropped.borrow(), only_first);
    drop(stopped_watch);
    drop(writer);
    finish(repo, &name).await;
}

#[wasm_bindgen_test]
async fn close_lets_earlier_calls_finish_and_refuses_later_ones() {
    let (repo, name) = open_fresh("close-order").await;
    let run = CouncilRun::new("closing", HitlMode::None);
    let id = run.id.clone();
    let created = repo.create_run(run);
    let appended: Vec<_> = (0..50)
        .map(|seq| repo.append_event(event(&id, seq, 0)))
        .collect();
    repo.close();
    let late = repo.get_run(&id);
    created.await.unwrap();
    for outcome in futures::future::join_all(appended).await {
        outcome.unwrap();
    }
    let message = expect_kind(late.await, "Storage");
    assert!(message.contains("closed"), "{message}");
    let reopened = IndexedDbCouncilRepository::open(&name).await.unwrap();
    assert_eq!(reopened.list_events(&id).await.unwrap().len(), 50);
    finish(reopened, &name).await;
}

#[wasm_bindgen_test]
fn the_repository_is_a_send_sync_port() {
    fn assert_port<T: CouncilRepositoryPort>() {}
    assert_port::<IndexedDbCouncilRepository>();
}

#[wasm_bindgen_test]
async fn missing_indexed_db_is_a_storage_error() {
    use futures::FutureExt;
    // Other tests run interleaved with this one, so IndexedDB is hidden only
    // while each call is polled once, synchronously: without IndexedDB the
    // calls fail at once, so one poll settles them.
    hide_indexed_db();
    let opened = IndexedDbCouncilRepository::open(&unique_name("absent")).now_or_never();
    let deleted = IndexedDbCouncilRepository::delete_database("absent").now_or_never();
    restore_indexed_db();
    let message = expect_kind(opened.expect("settled in one poll"), "Storage");
    assert!(message.contains("IndexedDB is not available"), "{message}");
    expect_kind(deleted.expect("settled in one poll"), "Storage");
    // And it works again once IndexedDB is back.
    let (repo, name) = open_fresh("back").await;
    finish(repo, &name).await;
}
