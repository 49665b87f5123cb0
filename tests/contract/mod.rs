//! The contract of `CouncilRepositoryPort`, written once and run against every
//! adapter: natively by `tests/native.rs`, in browsers by `tests/browser.rs`.
//!
//! Each case takes a fresh, empty repository.

#![allow(dead_code)]

use council_idb::{
    CouncilRepositoryPort, CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode, NextEvent,
    Prune, RepositoryError, RunLog,
};

/// Calls `$m!` with the name of every contract case, so each entry file
/// makes one test per case without listing them again.
#[macro_export]
macro_rules! for_each_contract_case {
    ($m:ident) => {
        $m!(
            create_then_get_returns_the_same_run,
            create_with_existing_id_is_already_exists,
            create_with_empty_id_is_constraint,
            create_with_bad_timestamp_is_constraint,
            create_with_unsafe_conversation_id_is_constraint,
            updates_of_unknown_run_are_not_found,
            update_status_changes_status_and_moves_updated_at,
            update_graph_stores_the_string_and_moves_updated_at,
            append_to_unknown_run_is_not_found,
            append_with_seq_out_of_range_is_constraint,
            append_retry_with_same_content_is_ok_and_stores_nothing,
            append_conflicting_event_is_constraint_and_keeps_the_stored_one,
            append_events_is_all_or_nothing,
            concurrent_appends_each_get_their_own_verdict,
            get_run_of_unknown_id_is_none,
            list_runs_is_newest_first_by_instant,
            list_runs_breaks_ties_by_id,
            list_runs_filters_by_status,
            list_events_is_in_seq_order_and_empty_for_unknown_run,
            event_json_is_kept_verbatim,
            mark_interrupted_runs_touches_only_running_runs,
            truncate_removes_exactly_the_later_waves_of_that_run,
            truncate_of_unknown_run_is_not_found,
            rewind_then_continue_after_last_seq,
            volume_5000_events_over_3_runs_and_10_waves,
            calls_take_effect_in_call_order_not_await_order,
            unawaited_append_then_truncate_leaves_no_later_wave,
            append_to_a_run_whose_create_is_not_awaited_succeeds,
            unawaited_updates_and_reads_see_every_earlier_call,
            interleaved_calls_end_as_if_each_was_awaited,
            list_runs_orders_sub_millisecond_instants,
            next_seq_is_after_the_last_stored_seq,
            append_next_numbers_events_in_call_order,
            append_next_goes_on_after_a_rewind,
            delete_run_removes_the_run_and_its_events_only,
            prune_runs_deletes_what_every_criterion_selects,
            list_events_page_reads_a_log_a_page_at_a_time,
            import_run_stores_a_run_with_its_events_all_or_nothing
        );
    };
}

fn run_at(id: &str, created_at: &str) -> CouncilRun {
    let mut run = CouncilRun::new(format!("goal of {id}"), HitlMode::ApprovePlan);
    run.id = id.to_owned();
    run.created_at = created_at.to_owned();
    run.updated_at = created_at.to_owned();
    run
}

fn event(run_id: &str, seq: i64, wave: u32) -> CouncilRunEvent {
    CouncilRunEvent::new(
        run_id,
        seq,
        wave,
        format!(r#"{{"type":"node_text_delta","seq":{seq},"wave":{wave}}}"#),
    )
}

async fn new_run(repo: &impl CouncilRepositoryPort, goal: &str) -> CouncilRun {
    let run = CouncilRun::new(goal, HitlMode::None);
    repo.create_run(run.clone()).await.expect("create_run");
    run
}

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(result: Result<T, RepositoryError>, kind: &str) {
    match result {
        Err(e) => assert_eq!(e.kind(), kind, "wrong error: {e}"),
        Ok(v) => panic!("expected a {kind} error, got Ok({v:?})"),
    }
}

fn seqs(events: &[CouncilRunEvent]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

/// Our own timestamps are `YYYY-MM-DDTHH:MM:SS.mmmZ`, where text order is time order.
#[track_caller]
fn assert_later(after: &str, before: &str) {
    assert!(
        after.len() == 24 && after.ends_with('Z'),
        "unexpected form {after}"
    );
    assert!(after > before, "{after} is not later than {before}");
}

pub async fn create_then_get_returns_the_same_run(repo: &impl CouncilRepositoryPort) {
    let mut run = CouncilRun::new("Write a haiku about rust", HitlMode::ApproveEachNode);
    run.graph_json = Some(r#"{"nodes":[]}"#.into());
    run.conversation_id = Some(-42);
    repo.create_run(run.clone()).await.unwrap();
    assert_eq!(repo.get_run(&run.id).await.unwrap(), Some(run.clone()));

    let mut bare = CouncilRun::new("", HitlMode::None);
    bare.conversation_id = Some((1 << 53) - 1);
    repo.create_run(bare.clone()).await.unwrap();
    assert_eq!(repo.get_run(&bare.id).await.unwrap(), Some(bare));
}

pub async fn create_with_existing_id_is_already_exists(repo: &impl CouncilRepositoryPort) {
    let run = new_run(repo, "first").await;
    let mut again = CouncilRun::new("second", HitlMode::ApproveTools);
    again.id = run.id.clone();
    assert_kind(repo.create_run(again).await, "AlreadyExists");
    assert_eq!(repo.get_run(&run.id).await.unwrap(), Some(run));
}

pub async fn create_with_empty_id_is_constraint(repo: &impl CouncilRepositoryPort) {
    let mut run = CouncilRun::new("no id", HitlMode::None);
    run.id = String::new();
    assert_kind(repo.create_run(run).await, "Constraint");
    assert!(repo.list_runs(None).await.unwrap().is_empty());
}

pub async fn create_with_bad_timestamp_is_constraint(repo: &impl CouncilRepositoryPort) {
    for bad in [
        "",
        "yesterday",
        "2026-01-01",
        "2026-01-01 00:00",
        "2026-02-30T00:00:00Z",
        "1735689600",
    ] {
        let mut run = CouncilRun::new("bad time", HitlMode::None);
        run.created_at = bad.into();
        let id = run.id.clone();
        assert_kind(repo.create_run(run).await, "Constraint");
        assert_eq!(repo.get_run(&id).await.unwrap(), None, "{bad:?} was stored");
    }
    let mut run = CouncilRun::new("bad update time", HitlMode::None);
    run.updated_at = "later".into();
    assert_kind(repo.create_run(run).await, "Constraint");
}

pub async fn create_with_unsafe_conversation_id_is_constraint(repo: &impl CouncilRepositoryPort) {
    for bad in [1i64 << 53, -(1i64 << 53), i64::MAX, i64::MIN] {
        let mut run = CouncilRun::new("big conversation", HitlMode::None);
        run.conversation_id = Some(bad);
        assert_kind(repo.create_run(run).await, "Constraint");
    }
}

pub async fn updates_of_unknown_run_are_not_found(repo: &impl CouncilRepositoryPort) {
    assert_kind(
        repo.update_run_status("nope", CouncilRunStatus::Completed)
            .await,
        "NotFound",
    );
    assert_kind(repo.update_graph("nope", "{}").await, "NotFound");
    assert_eq!(repo.get_run("nope").await.unwrap(), None);
}

pub async fn update_status_changes_status_and_moves_updated_at(repo: &impl CouncilRepositoryPort) {
    let run = new_run(repo, "status").await;
    let mut last = run.updated_at.clone();
    for status in [
        CouncilRunStatus::AwaitingApproval,
        CouncilRunStatus::Running,
        CouncilRunStatus::Failed,
        CouncilRunStatus::Completed,
    ] {
        repo.update_run_status(&run.id, status).await.unwrap();
        let stored = repo.get_run(&run.id).await.unwrap().unwrap();
        assert_eq!(stored.status, status);
        assert_later(&stored.updated_at, &last);
        assert_eq!(stored.created_at, run.created_at);
        assert_eq!(stored.goal, run.goal);
        last = stored.updated_at;
    }
}

pub async fn update_graph_stores_the_string_and_moves_updated_at(
    repo: &impl CouncilRepositoryPort,
) {
    let run = new_run(repo, "graph").await;
    let graph = r#"{ "nodes": [ {"id":"a","status":"done"} ], "note": "spacing  kept" }"#;
    repo.update_graph(&run.id, graph).await.unwrap();
    let first = repo.get_run(&run.id).await.unwrap().unwrap();
    assert_eq!(first.graph_json.as_deref(), Some(graph));
    assert_later(&first.updated_at, &run.updated_at);
    repo.update_graph(&run.id, "not json at all").await.unwrap();
    let second = repo.get_run(&run.id).await.unwrap().unwrap();
    assert_eq!(second.graph_json.as_deref(), Some("not json at all"));
    assert_later(&second.updated_at, &first.updated_at);
    assert_eq!(second.status, CouncilRunStatus::Running);
}

pub async fn append_to_unknown_run_is_not_found(repo: &impl CouncilRepositoryPort) {
    assert_kind(repo.append_event(event("ghost", 0, 0)).await, "NotFound");
    assert!(repo.list_events("ghost").await.unwrap().is_empty());
}

pub async fn append_with_seq_out_of_range_is_constraint(repo: &impl CouncilRepositoryPort) {
    let run = new_run(repo, "seq range").await;
    for bad in [-1, 1i64 << 53, i64::MAX, i64::MIN] {
        assert_kind(
            repo.append_event(event(&run.id, bad, 0)).await,
            "Constraint",
        );
    }
    let mut bad_time = event(&run.id, 0, 0);
    bad_time.created_at = "noon".into();
    assert_kind(repo.append_event(bad_time).await, "Constraint");
    assert!(repo.list_events(&run.id).await.unwrap().is_empty());

    let top = (1i64 << 53) - 1;
    repo.append_event(event(&run.id, top, 0)).await.unwrap();
    repo.append_event(event(&run.id, 0, 0)).await.unwrap();
    assert_eq!(
        seqs(&repo.list_events(&run.id).await.unwrap()),
        vec![0, top]
    );
}

pub async fn append_retry_with_same_content_is_ok_and_stores_nothing(
    repo: &impl CouncilRepositoryPort,
) {
    let run = new_run(repo, "retry").await;
    let original = event(&run.id, 0, 0);
    repo.append_event(original.clone()).await.unwrap();
    let mut retry = original.clone();
    retry.created_at = "2030-01-01T00:00:00Z".into();
    repo.append_event(retry).await.unwrap();
    assert_eq!(repo.list_events(&run.id).await.unwrap(), vec![original]);
}

pub async fn append_conflicting_event_is_constraint_and_keeps_the_stored_one(
    repo: &impl CouncilRepositoryPort,
) {
    let run = new_run(repo, "conflict").await;
    let original = event(&run.id, 3, 1);
    repo.append_event(original.clone()).await.unwrap();
    let mut other_json = original.clone();
    other_json.event_json = r#"{"type":"something_else"}"#.into();
    assert_kind(repo.append_event(other_json).await, "Constraint");
    let mut other_wave = original.clone();
    other_wave.wave_index = 2;
    assert_kind(repo.append_event(other_wave).await, "Constraint");
    assert_eq!(repo.list_events(&run.id).await.unwrap(), vec![original]);
}

pub async fn append_events_is_all_or_nothing(repo: &impl CouncilRepositoryPort) {
    let a = new_run(repo, "batch a").await;
    let b = new_run(repo, "batch b").await;
    repo.append_event(event(&a.id, 0, 0)).await.unwrap();

    // A good batch over two runs, with a faithful retry of a stored event.
    let batch = vec![
        event(&a.id, 0, 0),
        event(&a.id, 1, 0),
        event(&b.id, 0, 0),
        event(&a.id, 2, 1),
    ];
    repo.append_events(batch).await.unwrap();
    assert_eq!(seqs(&repo.list_events(&a.id).await.unwrap()), vec![0, 1, 2]);
    assert_eq!(seqs(&repo.list_events(&b.id).await.unwrap()), vec![0]);

    // Each kind of bad event in the middle of a batch: nothing is written.
    let mut conflicting = event(&a.id, 1, 0);
    conflicting.event_json = "changed".into();
    let mut duplicate_in_batch = event(&b.id, 5, 0);
    duplicate_in_batch.event_json = "different".into();
    for (bad, kind) in [
        (
            vec![event(&a.id, 3, 1), event("ghost", 0, 0), event(&a.id, 4, 1)],
            "NotFound",
        ),
        (
            vec![event(&a.id, 3, 1), event(&a.id, -5, 0), event(&a.id, 4, 1)],
            "Constraint",
        ),
        (
            vec![event(&a.id, 3, 1), conflicting, event(&a.id, 4, 1)],
            "Constraint",
        ),
        (
            vec![event(&b.id, 5, 0), event(&a.id, 3, 1), duplicate_in_batch],
            "Constraint",
        ),
    ] {
        assert_kind(repo.append_events(bad).await, kind);
        assert_eq!(seqs(&repo.list_events(&a.id).await.unwrap()), vec![0, 1, 2]);
        assert_eq!(seqs(&repo.list_events(&b.id).await.unwrap()), vec![0]);
    }
    repo.append_events(Vec::new()).await.unwrap();
}

pub async fn get_run_of_unknown_id_is_none(repo: &impl CouncilRepositoryPort) {
    assert_eq!(
        repo.get_run("00000000-0000-4000-8000-000000000000")
            .await
            .unwrap(),
        None
    );
    assert_eq!(repo.get_run("").await.unwrap(), None);
}

pub async fn list_runs_is_newest_first_by_instant(repo: &impl CouncilRepositoryPort) {
    // Written in shuffled order and mixed RFC 3339 forms; ids name the true order.
    let runs = [
        ("r3", "2026-01-01T01:00:00.000000001+00:00"),
        ("r1", "2026-01-01T05:30:00+05:30"),
        ("r5", "2026-01-01T00:00:01-02:00"),
        ("r2", "2026-01-01T00:59:59.999Z"),
        ("r4", "2026-01-01T02:00:00.5+01:00"),
        ("r0", "2025-12-31T23:59:59.999999999z"),
    ];
    for (id, at) in runs {
        repo.create_run(run_at(id, at)).await.unwrap();
    }
    let listed: Vec<String> = repo
        .list_runs(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ["r5", "r4", "r3", "r2", "r1", "r0"]);
    // The stored strings are the ones given.
    let r1 = repo.get_run("r1").await.unwrap().unwrap();
    assert_eq!(r1.created_at, "2026-01-01T05:30:00+05:30");
}

pub async fn list_runs_breaks_ties_by_id(repo: &impl CouncilRepositoryPort) {
    for (id, at) in [
        ("b", "2026-01-01T00:00:00Z"),
        ("c", "2026-01-01T01:00:00+01:00"),
        ("a", "2026-01-01T00:00:00.000+00:00"),
        ("z", "2025-01-01T00:00:00Z"),
    ] {
        repo.create_run(run_at(id, at)).await.unwrap();
    }
    let listed: Vec<String> = repo
        .list_runs(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ["c", "b", "a", "z"]);
}

pub async fn list_runs_filters_by_status(repo: &impl CouncilRepositoryPort) {
    let statuses = [
        CouncilRunStatus::Running,
        CouncilRunStatus::Completed,
        CouncilRunStatus::Running,
        CouncilRunStatus::Failed,
        CouncilRunStatus::AwaitingApproval,
        CouncilRunStatus::Completed,
    ];
    for (i, status) in statuses.iter().enumerate() {
        let id = format!("run-{i}");
        repo.create_run(run_at(&id, &format!("2026-02-0{}T00:00:00Z", i + 1)))
            .await
            .unwrap();
        if *status != CouncilRunStatus::Running {
            repo.update_run_status(&id, *status).await.unwrap();
        }
    }
    for status in CouncilRunStatus::ALL {
        let listed = repo.list_runs(Some(status)).await.unwrap();
        let expected: Vec<String> = (0..statuses.len())
            .rev()
            .filter(|&i| statuses[i] == status)
            .map(|i| format!("run-{i}"))
            .collect();
        let ids: Vec<String> = listed.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, expected, "filter {status}");
        assert!(listed.iter().all(|r| r.status == status));
    }
    assert_eq!(repo.list_runs(None).await.unwrap().len(), statuses.len());
}

pub async fn list_events_is_in_seq_order_and_empty_for_unknown_run(
    repo: &impl CouncilRepositoryPort,
) {
    let run = new_run(repo, "order").await;
    for seq in [5, 0, 3, 10, 1, 2, 4] {
        repo.append_event(event(&run.id, seq, (seq / 3) as u32))
            .await
            .unwrap();
    }
    let events = repo.list_events(&run.id).await.unwrap();
    assert_eq!(seqs(&events), vec![0, 1, 2, 3, 4, 5, 10]);
    assert!(events
        .iter()
        .all(|e| e.run_id == run.id && e.wave_index == (e.seq / 3) as u32));
    assert!(repo.list_events("unknown").await.unwrap().is_empty());
    // A run whose id is a prefix of another's sees only its own events.
    let mut prefix = CouncilRun::new("prefix", HitlMode::None);
    prefix.id = run.id[..8].to_owned();
    repo.create_run(prefix.clone()).await.unwrap();
    assert!(repo.list_events(&prefix.id).await.unwrap().is_empty());
}

pub async fn event_json_is_kept_verbatim(repo: &impl CouncilRepositoryPort) {
    let run = new_run(repo, "verbatim").await;
    let texts = [
        r#"{"type":"node_text_delta","text":"héllo 🌍 \u0000 \"quoted\""}"#.to_string(),
        "not json {{{".to_string(),
        String::new(),
        "  {\"spaced\" :  1 }\n".to_string(),
        "x".repeat(200_000),
    ];
    for (seq, text) in texts.iter().enumerate() {
        let mut e = event(&run.id, seq as i64, 0);
        e.event_json = text.clone();
        repo.append_event(e).await.unwrap();
    }
    let stored: Vec<String> = repo
        .list_events(&run.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_json)
        .collect();
    assert_eq!(stored, texts);
}

pub async fn mark_interrupted_runs_touches_only_running_runs(repo: &impl CouncilRepositoryPort) {
    assert_eq!(repo.mark_interrupted_runs().await.unwrap(), 0);
    let mut runs = Vec::new();
    for (i, status) in [
        CouncilRunStatus::Running,
        CouncilRunStatus::AwaitingApproval,
        CouncilRunStatus::Running,
        CouncilRunStatus::Completed,
        CouncilRunStatus::Failed,
        CouncilRunStatus::Running,
    ]
    .into_iter()
    .enumerate()
    {
        let run = new_run(repo, &format!("run {i}")).await;
        if status != CouncilRunStatus::Running {
            repo.update_run_status(&run.id, status).await.unwrap();
        }
        runs.push((repo.get_run(&run.id).await.unwrap().unwrap(), status));
    }
    assert_eq!(repo.mark_interrupted_runs().await.unwrap(), 3);
    for (before, status) in &runs {
        let after = repo.get_run(&before.id).await.unwrap().unwrap();
        if *status == CouncilRunStatus::Running {
            assert_eq!(after.status, CouncilRunStatus::Interrupted);
            assert_later(&after.updated_at, &before.updated_at);
        } else {
            assert_eq!(&after, before, "a {status} run was touched");
        }
    }
    assert_eq!(repo.mark_interrupted_runs().await.unwrap(), 0);
    assert!(repo
        .list_runs(Some(CouncilRunStatus::Running))
        .await
        .unwrap()
        .is_empty());
}

pub async fn truncate_removes_exactly_the_later_waves_of_that_run(
    repo: &impl CouncilRepositoryPort,
) {
    let run = new_run(repo, "truncate").await;
    let other = new_run(repo, "bystander").await;
    // Waves are not monotonic in seq (as after an earlier rewind).
    let waves = [0u32, 0, 1, 2, 1, 3, 2, 0, 4, 1, 2];
    let mut batch = Vec::new();
    for (seq, wave) in waves.iter().enumerate() {
        batch.push(event(&run.id, seq as i64, *wave));
        batch.push(event(&other.id, seq as i64, *wave));
    }
    repo.append_events(batch).await.unwrap();
    let other_before = repo.list_events(&other.id).await.unwrap();

    repo.truncate_events_after_wave(&run.id, 1).await.unwrap();
    let kept = repo.list_events(&run.id).await.unwrap();
    let expected: Vec<i64> = (0..waves.len() as i64)
        .filter(|&s| waves[s as usize] <= 1)
        .collect();
    assert_eq!(seqs(&kept), expected);
    assert!(kept.iter().all(|e| e.wave_index <= 1));
    assert_eq!(repo.list_events(&other.id).await.unwrap(), other_before);

    repo.truncate_events_after_wave(&run.id, 1).await.unwrap();
    assert_eq!(seqs(&repo.list_events(&run.id).await.unwrap()), expected);
    repo.truncate_events_after_wave(&run.id, u32::MAX)
        .await
        .unwrap();
    assert_eq!(seqs(&repo.list_events(&run.id).await.unwrap()), expected);
    repo.truncate_events_after_wave(&run.id, 0).await.unwrap();
    assert_eq!(
        seqs(&repo.list_events(&run.id).await.unwrap()),
        vec![0, 1, 7]
    );
    assert_eq!(repo.list_events(&other.id).await.unwrap(), other_before);
}

pub async fn truncate_of_unknown_run_is_not_found(repo: &impl CouncilRepositoryPort) {
    assert_kind(
        repo.truncate_events_after_wave("ghost", 0).await,
        "NotFound",
    );
}

pub async fn rewind_then_continue_after_last_seq(repo: &impl CouncilRepositoryPort) {
    // The orchestrator's rewind: truncate, reset, run again. Restarting seq at
    // 0 collides with surviving events and is refused, not silently dropped.
    let run = new_run(repo, "rewind").await;
    for seq in 0..9 {
        repo.append_event(event(&run.id, seq, (seq / 3) as u32))
            .await
            .unwrap();
    }
    repo.update_run_status(&run.id, CouncilRunStatus::Completed)
        .await
        .unwrap();
    repo.truncate_events_after_wave(&run.id, 1).await.unwrap();
    repo.update_graph(&run.id, r#"{"reset":true}"#)
        .await
        .unwrap();
    repo.update_run_status(&run.id, CouncilRunStatus::Running)
        .await
        .unwrap();

    assert_kind(repo.append_event(event(&run.id, 0, 2)).await, "Constraint");
    let survivors = repo.list_events(&run.id).await.unwrap();
    let next = survivors.last().map_or(0, |e| e.seq + 1);
    assert_eq!(next, 6);
    for seq in next..next + 3 {
        repo.append_event(event(&run.id, seq, 2)).await.unwrap();
    }
    let log = repo.list_events(&run.id).await.unwrap();
    assert_eq!(seqs(&log), (0..9).collect::<Vec<_>>());
    assert_eq!(
        log.iter().map(|e| e.wave_index).collect::<Vec<_>>(),
        [0, 0, 0, 1, 1, 1, 2, 2, 2]
    );
    assert_eq!(
        repo.get_run(&run.id).await.unwrap().unwrap().status,
        CouncilRunStatus::Running
    );
}

pub async fn volume_5000_events_over_3_runs_and_10_waves(repo: &impl CouncilRepositoryPort) {
    let runs = [
        new_run(repo, "v0").await,
        new_run(repo, "v1").await,
        new_run(repo, "v2").await,
    ];
    let per_run = [2000i64, 1700, 1300];
    let mut all = Vec::new();
    for (run, &count) in runs.iter().zip(&per_run) {
        for seq in 0..count {
            all.push(event(&run.id, seq, (seq * 10 / count) as u32));
        }
    }
    assert_eq!(all.len(), 5000);
    // Interleave runs, in batches, as a live council would.
    all.sort_by_key(|e| (e.seq, e.run_id.clone()));
    for chunk in all.chunks(1000) {
        repo.append_events(chunk.to_vec()).await.unwrap();
    }
    for (run, &count) in runs.iter().zip(&per_run) {
        let log = repo.list_events(&run.id).await.unwrap();
        assert_eq!(seqs(&log), (0..count).collect::<Vec<_>>());
    }
    let before_1 = repo.list_events(&runs[1].id).await.unwrap();
    let before_2 = repo.list_events(&runs[2].id).await.unwrap();
    repo.truncate_events_after_wave(&runs[0].id, 4)
        .await
        .unwrap();
    let kept = repo.list_events(&runs[0].id).await.unwrap();
    assert_eq!(kept.len(), 1000, "waves 0..=4 of 2000 events over 10 waves");
    assert!(kept.iter().all(|e| e.wave_index <= 4));
    assert_eq!(seqs(&kept), (0..1000).collect::<Vec<_>>());
    assert_eq!(repo.list_events(&runs[1].id).await.unwrap(), before_1);
    assert_eq!(repo.list_events(&runs[2].id).await.unwrap(), before_2);
}

pub async fn concurrent_appends_each_get_their_own_verdict(repo: &impl CouncilRepositoryPort) {
    // Appends issued together (as a streaming executor does) may be written
    // together, but each call still gets the verdict it would get alone.
    let run = new_run(repo, "concurrent").await;
    let mut original = event(&run.id, 5, 0);
    original.event_json = "original".into();
    repo.append_event(original.clone()).await.unwrap();

    let mut calls = Vec::new();
    for seq in 0..300 {
        calls.push(repo.append_event(event(&run.id, seq, (seq / 100) as u32)));
    }
    calls.push(repo.append_event(event("ghost", 0, 0)));
    calls.push(repo.append_event(event(&run.id, -1, 0)));
    calls.push(repo.append_event(event(&run.id, 7, 0))); // a faithful retry of seq 7
    let results = futures::future::join_all(calls).await;

    for (seq, result) in results[..300].iter().enumerate() {
        if seq == 5 {
            assert_eq!(result.as_ref().map_err(|e| e.kind()), Err("Constraint"));
        } else {
            assert_eq!(result, &Ok(()), "seq {seq}");
        }
    }
    assert_eq!(results[300].as_ref().map_err(|e| e.kind()), Err("NotFound"));
    assert_eq!(
        results[301].as_ref().map_err(|e| e.kind()),
        Err("Constraint")
    );
    assert_eq!(results[302], Ok(()));
    let log = repo.list_events(&run.id).await.unwrap();
    assert_eq!(seqs(&log), (0..300).collect::<Vec<_>>());
    assert_eq!(log[5], original);
}

pub async fn calls_take_effect_in_call_order_not_await_order(repo: &impl CouncilRepositoryPort) {
    // The truncate is awaited before the append that was called first: the
    // append must still come first, so the truncate removes it.
    let run = new_run(repo, "call order").await;
    let append = repo.append_event(event(&run.id, 0, 3));
    let truncate = repo.truncate_events_after_wave(&run.id, 1);
    truncate.await.unwrap();
    append.await.unwrap();
    assert!(repo.list_events(&run.id).await.unwrap().is_empty());

    // A read called before a write does not see it, whatever is awaited first.
    let read = repo.get_run(&run.id);
    let update = repo.update_run_status(&run.id, CouncilRunStatus::Completed);
    update.await.unwrap();
    assert_eq!(
        read.await.unwrap().unwrap().status,
        CouncilRunStatus::Running
    );
    // A future that is dropped unawaited still took effect.
    drop(repo.update_graph(&run.id, "dropped but done"));
    let stored = repo.get_run(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.graph_json.as_deref(), Some("dropped but done"));
}

pub async fn unawaited_append_then_truncate_leaves_no_later_wave(
    repo: &impl CouncilRepositoryPort,
) {
    // The defect of issue 8: appends fired without awaiting, then a rewind.
    let run = new_run(repo, "rewind under load").await;
    let mut pending = Vec::new();
    for seq in 0..4 {
        pending.push(repo.append_event(event(&run.id, seq, seq as u32)));
    }
    pending.push(repo.truncate_events_after_wave(&run.id, 1));
    // After the rewind, seq 2 and 3 are free again for new content.
    pending.push(repo.append_event(CouncilRunEvent::new(&run.id, 2, 2, "after rewind")));
    for outcome in futures::future::join_all(pending).await {
        outcome.unwrap();
    }
    let kept = repo.list_events(&run.id).await.unwrap();
    assert_eq!(seqs(&kept), vec![0, 1, 2]);
    assert_eq!(kept[2].event_json, "after rewind");
}

pub async fn append_to_a_run_whose_create_is_not_awaited_succeeds(
    repo: &impl CouncilRepositoryPort,
) {
    let run = CouncilRun::new("created and used at once", HitlMode::None);
    let create = repo.create_run(run.clone());
    let first = repo.append_event(event(&run.id, 0, 0));
    let batch = repo.append_events(vec![event(&run.id, 1, 0), event(&run.id, 2, 1)]);
    let status = repo.update_run_status(&run.id, CouncilRunStatus::AwaitingApproval);
    let read = repo.list_events(&run.id);
    // Await in reverse: the outcome must not depend on it.
    assert_eq!(seqs(&read.await.unwrap()), vec![0, 1, 2]);
    status.await.unwrap();
    batch.await.unwrap();
    first.await.unwrap();
    create.await.unwrap();
    let stored = repo.get_run(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, CouncilRunStatus::AwaitingApproval);
}

pub async fn unawaited_updates_and_reads_see_every_earlier_call(repo: &impl CouncilRepositoryPort) {
    let run = new_run(repo, "updates").await;
    let graph = repo.update_graph(&run.id, "g1");
    let approval = repo.update_run_status(&run.id, CouncilRunStatus::AwaitingApproval);
    let seen_between = repo.get_run(&run.id);
    let graph2 = repo.update_graph(&run.id, "g2");
    let done = repo.update_run_status(&run.id, CouncilRunStatus::Completed);
    let seen_after = repo.get_run(&run.id);
    let listed = repo.list_runs(Some(CouncilRunStatus::Completed));
    let (after, between) = (
        seen_after.await.unwrap().unwrap(),
        seen_between.await.unwrap().unwrap(),
    );
    assert_eq!(
        (between.graph_json.as_deref(), between.status),
        (Some("g1"), CouncilRunStatus::AwaitingApproval)
    );
    assert_eq!(
        (after.graph_json.as_deref(), after.status),
        (Some("g2"), CouncilRunStatus::Completed)
    );
    assert!(after.updated_at > between.updated_at);
    assert_eq!(listed.await.unwrap(), vec![after]);
    for outcome in futures::future::join_all([graph, approval, graph2, done]).await {
        outcome.unwrap();
    }
}

pub async fn interleaved_calls_end_as_if_each_was_awaited(repo: &impl CouncilRepositoryPort) {
    // One script of calls, run twice: once awaiting each call, once firing
    // all of them and awaiting none until the end. Same results, same state.
    async fn script(repo: &impl CouncilRepositoryPort, id: &str, await_each: bool) -> Vec<String> {
        let run = run_at(id, "2026-01-01T00:00:00Z");
        let mut calls: Vec<
            std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send + '_>>,
        > = Vec::new();
        macro_rules! call {
            ($f:expr) => {{
                let f = $f;
                let boxed: std::pin::Pin<
                    Box<dyn std::future::Future<Output = String> + Send + '_>,
                > = Box::pin(async move { format!("{:?}", f.await) });
                calls.push(boxed);
                if await_each {
                    let last = calls.pop().unwrap();
                    calls.push(Box::pin(futures::future::ready(last.await)));
                }
            }};
        }
        call!(repo.create_run(run.clone()));
        for seq in 0..6 {
            call!(repo.append_event(event(id, seq, (seq / 2) as u32)));
        }
        call!(repo.append_event(event(id, 1, 0))); // a faithful retry
        call!(repo.append_event(CouncilRunEvent::new(id, 2, 1, "conflicting")));
        call!(repo.update_graph(id, "graph before rewind"));
        call!(repo.truncate_events_after_wave(id, 0));
        call!(repo.append_events(vec![event(id, 2, 1), event(id, 3, 1)]));
        call!(repo.update_run_status(id, CouncilRunStatus::Completed));
        call!(repo.append_event(event("nobody", 0, 0)));
        call!(repo.create_run(run.clone()));
        let mut out = Vec::new();
        for call in calls {
            out.push(call.await);
        }
        let events = repo.list_events(id).await.unwrap();
        out.push(format!(
            "{:?}",
            events
                .iter()
                .map(|e| (e.seq, e.wave_index, e.event_json.clone()))
                .collect::<Vec<_>>()
        ));
        let stored = repo.get_run(id).await.unwrap().unwrap();
        out.push(format!("{:?} {:?}", stored.status, stored.graph_json));
        out
    }
    let awaited = script(repo, "awaited", true).await;
    let fired = script(repo, "fired", false).await;
    assert_eq!(awaited.len(), fired.len());
    for (a, f) in awaited.iter().zip(&fired) {
        assert_eq!(a.replace("awaited", "ID"), f.replace("fired", "ID"));
    }
    // And the script did what it says: the conflict and the unknown run failed.
    assert!(awaited.iter().any(|r| r.contains("Constraint")));
    assert!(awaited.iter().any(|r| r.contains("NotFound")));
    assert!(awaited.iter().any(|r| r.contains("AlreadyExists")));
}

pub async fn list_runs_orders_sub_millisecond_instants(repo: &impl CouncilRepositoryPort) {
    // Created within one millisecond, written in several RFC 3339 forms.
    let runs = [
        run_at("a", "2026-01-01T00:00:00.0002Z"),
        run_at("b", "2026-01-01T00:00:00.0001Z"),
        run_at("c", "2026-01-01T00:00:00.00015+00:00"),
        run_at("d", "2026-01-01T01:00:00.00005+01:00"),
        run_at("e", "2026-01-01T00:00:00.000199999Z"),
    ];
    for run in &runs {
        repo.create_run(run.clone()).await.unwrap();
    }
    let order: Vec<String> = repo
        .list_runs(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(order, ["a", "e", "c", "b", "d"]);
}

pub async fn next_seq_is_after_the_last_stored_seq(repo: &impl RunLog) {
    assert_kind(repo.next_seq("nobody").await, "NotFound");
    let run = new_run(repo, "numbering").await;
    assert_eq!(repo.next_seq(&run.id).await.unwrap(), 0);
    repo.append_events((0..5).map(|seq| event(&run.id, seq, 0)).collect())
        .await
        .unwrap();
    assert_eq!(repo.next_seq(&run.id).await.unwrap(), 5);
    // A gap the caller made: the next seq is after the highest one.
    repo.append_event(event(&run.id, 10, 1)).await.unwrap();
    assert_eq!(repo.next_seq(&run.id).await.unwrap(), 11);
    // Another run's events do not count.
    let other = new_run(repo, "other").await;
    repo.append_event(event(&other.id, 99, 0)).await.unwrap();
    assert_eq!(repo.next_seq(&run.id).await.unwrap(), 11);
}

pub async fn append_next_numbers_events_in_call_order(repo: &impl RunLog) {
    assert_kind(
        repo.append_next(NextEvent::new("nobody", 0, "{}")).await,
        "NotFound",
    );
    // Created, numbered and read without awaiting anything until the end.
    let run = CouncilRun::new("numbered", HitlMode::None);
    let id = run.id.clone();
    let created = repo.create_run(run);
    let mut numbered = Vec::new();
    for i in 0..100 {
        numbered.push(repo.append_next(NextEvent::new(&id, i / 10, format!("{{\"i\":{i}}}"))));
    }
    // An explicit seq in the middle: numbering goes on after it.
    let explicit = repo.append_event(event(&id, 150, 10));
    let after = repo.append_next(NextEvent::new(&id, 10, "after explicit"));
    let mut bad = NextEvent::new(&id, 10, "bad time");
    bad.created_at = "yesterday".into();
    let refused = repo.append_next(bad);
    created.await.unwrap();
    let seqs: Vec<i64> = futures::future::join_all(numbered)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    explicit.await.unwrap();
    assert_eq!(after.await.unwrap(), 151);
    assert_kind(refused.await, "Constraint");
    let stored = repo.list_events(&id).await.unwrap();
    assert_eq!(stored.len(), 102);
    assert_eq!(stored[42].event_json, r#"{"i":42}"#);
    assert_eq!(stored[42].wave_index, 4);
    assert_eq!(repo.next_seq(&id).await.unwrap(), 152);
}

pub async fn append_next_goes_on_after_a_rewind(repo: &impl RunLog) {
    let run = new_run(repo, "rewind with numbering").await;
    for wave in 0..4 {
        for _ in 0..3 {
            repo.append_next(NextEvent::new(&run.id, wave, "{}"))
                .await
                .unwrap();
        }
    }
    // Rewind to wave 1 and go on at once, nothing awaited in between.
    let truncate = repo.truncate_events_after_wave(&run.id, 1);
    let first = repo.append_next(NextEvent::new(&run.id, 2, "again"));
    let second = repo.append_next(NextEvent::new(&run.id, 2, "again"));
    truncate.await.unwrap();
    assert_eq!((first.await.unwrap(), second.await.unwrap()), (6, 7));
    let stored = repo.list_events(&run.id).await.unwrap();
    assert_eq!(seqs(&stored), (0..8).collect::<Vec<_>>());
    assert!(stored[6..].iter().all(|e| e.event_json == "again"));
}

pub async fn delete_run_removes_the_run_and_its_events_only(repo: &impl RunLog) {
    assert_kind(repo.delete_run("nobody").await, "NotFound");
    let doomed = new_run(repo, "doomed").await;
    let kept = new_run(repo, "kept").await;
    for seq in 0..20 {
        repo.append_event(event(&doomed.id, seq, 0)).await.unwrap();
        repo.append_event(event(&kept.id, seq, 0)).await.unwrap();
    }
    // Appends fired before the delete are deleted with it; a read after it
    // sees nothing.
    let late = repo.append_event(event(&doomed.id, 20, 0));
    let deleted = repo.delete_run(&doomed.id);
    let read = repo.get_run(&doomed.id);
    late.await.unwrap();
    deleted.await.unwrap();
    assert_eq!(read.await.unwrap(), None);
    assert!(repo.list_events(&doomed.id).await.unwrap().is_empty());
    assert_kind(repo.delete_run(&doomed.id).await, "NotFound");
    assert_kind(
        repo.append_event(event(&doomed.id, 21, 0)).await,
        "NotFound",
    );
    assert_eq!(repo.list_events(&kept.id).await.unwrap().len(), 20);
    assert_eq!(repo.list_runs(None).await.unwrap(), vec![kept]);
    // The id is free again.
    let mut again = CouncilRun::new("reborn", HitlMode::None);
    again.id = doomed.id.clone();
    repo.create_run(again).await.unwrap();
    assert_eq!(repo.next_seq(&doomed.id).await.unwrap(), 0);
}

pub async fn prune_runs_deletes_what_every_criterion_selects(repo: &impl RunLog) {
    assert_kind(repo.prune_runs(&Prune::default()).await, "Constraint");
    let bad_time = Prune {
        older_than: Some("last week".into()),
        ..Prune::default()
    };
    assert_kind(repo.prune_runs(&bad_time).await, "Constraint");
    use CouncilRunStatus::{Completed, Failed, Interrupted};
    let statuses = [
        Completed,
        Failed,
        Completed,
        Interrupted,
        Completed,
        Completed,
    ];
    for (day, status) in (1..).zip(statuses) {
        let run = run_at(&format!("r{day}"), &format!("2026-01-0{day}T00:00:00Z"));
        repo.create_run(run).await.unwrap();
        repo.update_run_status(&format!("r{day}"), status)
            .await
            .unwrap();
        for seq in 0..5 {
            repo.append_event(event(&format!("r{day}"), seq, 0))
                .await
                .unwrap();
        }
    }
    let ids = |runs: Vec<CouncilRun>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let pruned = |prune: Prune| async move {
        let mut ids = repo.prune_runs(&prune).await.unwrap();
        ids.sort();
        ids
    };

    let failed = Prune {
        statuses: Some(vec![Failed]),
        ..Prune::default()
    };
    assert_eq!(pruned(failed).await, ["r2"]);
    assert!(repo.list_events("r2").await.unwrap().is_empty());
    // Both criteria must hold: completed and created before 4 January.
    let old_completed = Prune {
        older_than: Some("2026-01-04T00:00:00+00:00".into()),
        statuses: Some(vec![Completed]),
        ..Prune::default()
    };
    assert_eq!(pruned(old_completed).await, ["r1", "r3"]);
    assert_eq!(ids(repo.list_runs(None).await.unwrap()), ["r6", "r5", "r4"]);
    // The newest run is kept whatever its status.
    let keep_one = Prune {
        keep_latest: Some(1),
        ..Prune::default()
    };
    assert_eq!(pruned(keep_one.clone()).await, ["r4", "r5"]);
    assert_eq!(pruned(keep_one).await, Vec::<String>::new());
    assert_eq!(ids(repo.list_runs(None).await.unwrap()), ["r6"]);
    assert_eq!(repo.list_events("r6").await.unwrap().len(), 5);
    for gone in ["r1", "r2", "r3", "r4", "r5"] {
        assert!(repo.list_events(gone).await.unwrap().is_empty(), "{gone}");
    }
}

pub async fn list_events_page_reads_a_log_a_page_at_a_time(repo: &impl RunLog) {
    let run = new_run(repo, "paged").await;
    let other = new_run(repo, "other").await;
    let seqs: Vec<i64> = (0..25).filter(|s| s % 7 != 3).collect();
    for &seq in &seqs {
        repo.append_event(event(&run.id, seq, 0)).await.unwrap();
        repo.append_event(event(&other.id, seq, 0)).await.unwrap();
    }
    let mut read = Vec::new();
    let mut from = 0;
    loop {
        let page = repo.list_events_page(&run.id, from, 6).await.unwrap();
        assert!(page.len() <= 6);
        assert!(page.iter().all(|e| e.run_id == run.id));
        read.extend(page.iter().map(|e| e.seq));
        match page.last() {
            Some(last) if page.len() == 6 => from = last.seq + 1,
            _ => break,
        }
    }
    assert_eq!(read, seqs);
    let from_gap: Vec<i64> = repo
        .list_events_page(&run.id, 3, 2)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(from_gap, [4, 5]);
    assert!(repo
        .list_events_page("nobody", 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(repo
        .list_events_page(&run.id, 1000, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn import_run_stores_a_run_with_its_events_all_or_nothing(repo: &impl RunLog) {
    let mut run = run_at("imported", "2026-01-01T00:00:00Z");
    run.status = CouncilRunStatus::Completed;
    let events: Vec<CouncilRunEvent> = (0..10)
        .map(|s| event("imported", s, (s / 3) as u32))
        .collect();
    repo.import_run(run.clone(), events.clone()).await.unwrap();
    assert_eq!(repo.get_run("imported").await.unwrap(), Some(run.clone()));
    assert_eq!(repo.list_events("imported").await.unwrap(), events);
    // A stored run is never imported over.
    assert_kind(
        repo.import_run(run.clone(), vec![event("imported", 10, 0)])
            .await,
        "AlreadyExists",
    );
    assert_eq!(repo.list_events("imported").await.unwrap(), events);
    // A bad event takes the run with it.
    let other = run_at("other", "2026-01-02T00:00:00Z");
    let mut clash = vec![event("other", 0, 0), event("other", 0, 0)];
    clash[1].event_json = "{\"different\":true}".into();
    assert_kind(repo.import_run(other.clone(), clash).await, "Constraint");
    assert_eq!(repo.get_run("other").await.unwrap(), None);
    assert_kind(
        repo.import_run(other.clone(), vec![event("imported", 11, 0)])
            .await,
        "Constraint",
    );
    assert_eq!(repo.get_run("other").await.unwrap(), None);
    assert!(repo.list_events("imported").await.unwrap().len() == 10);
    // A run without events is imported too, and takes appends after.
    repo.import_run(other.clone(), Vec::new()).await.unwrap();
    repo.append_event(event("other", 0, 0)).await.unwrap();
    assert_eq!(repo.next_seq("other").await.unwrap(), 1);
}
