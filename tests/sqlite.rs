//! Export lines against the server's SQLite tables, with the SQL of
//! `tests/sql/` (the statements the README gives `sqlite3` users):
//!
//! - lines from [`run_line`]/[`event_line`] loaded by `load-export.sql` come
//!   back from the tables byte for byte, `hitl_mode` in the server's form;
//! - rows written the way the server wrote them, turned into lines by
//!   `export-ndjson.sql`, parse into the expected runs and events. Those
//!   lines are also `tests/fixtures/from-sqlite.ndjson`, for the browser
//!   tests; `UPDATE_FIXTURES=1 cargo test --test sqlite` rewrites it.
#![cfg(not(target_arch = "wasm32"))]

use council_idb::transfer::{end_line, event_line, header_line, parse_line, run_line, ExportLine};
use council_idb::{CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode, MAX_SAFE_INTEGER};
use rusqlite::{named_params, Connection};

const SCHEMA: &str = include_str!("sql/server-schema.sql");
const LOAD_EXPORT: &str = include_str!("sql/load-export.sql");
const EXPORT_NDJSON: &str = include_str!("sql/export-ndjson.sql");
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/from-sqlite.ndjson"
);

fn server_db() -> Connection {
    let db = Connection::open_in_memory().unwrap();
    db.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    db.execute_batch(SCHEMA).unwrap();
    db
}

/// Text that encoders and SQLite's JSON functions could get wrong.
fn tricky(n: usize) -> String {
    let texts = [
        "Plan a trip to 京都 ✈️ — 👩‍👩‍👧 «quotes» \"double\" 'single' \\back\\slash",
        "line\nbreak\ttab\rreturn\u{8}\u{c}\u{1}\u{1f}\u{7f}",
        "separators \u{2028} and \u{2029}, BOM \u{feff}, max \u{10ffff}",
        r#"{"type":"node_text_delta","text":"a \"quoted\" \\n, not a newline","n":1.5e3}"#,
        "nul \u{0} inside",
        "</script>, 'a','b', \"c\",\"d\"",
    ];
    texts[n % texts.len()].to_string()
}

fn store_runs() -> Vec<CouncilRun> {
    vec![
        CouncilRun {
            id: "0b7f0b3e-9d2a-4c55-9a51-2f8e3c1d4a01".into(),
            goal: tricky(0),
            graph_json: Some(tricky(3)),
            status: CouncilRunStatus::AwaitingApproval,
            hitl_mode: HitlMode::ApprovePlan,
            conversation_id: Some(-MAX_SAFE_INTEGER),
            created_at: "2026-01-01T00:00:00.123Z".into(),
            updated_at: "2026-01-01T00:00:09.123456789+00:00".into(),
        },
        CouncilRun {
            id: "run with \"quotes\", commas\tand 京".into(),
            goal: tricky(1),
            graph_json: None,
            status: CouncilRunStatus::Completed,
            hitl_mode: HitlMode::None,
            conversation_id: None,
            created_at: "2026-01-02T01:00:00+02:00".into(),
            updated_at: "2026-01-02T01:00:00.5+02:00".into(),
        },
        CouncilRun {
            id: "r3".into(),
            goal: tricky(2),
            graph_json: Some(String::new()),
            status: CouncilRunStatus::Failed,
            hitl_mode: HitlMode::ApproveTools,
            conversation_id: Some(MAX_SAFE_INTEGER),
            created_at: "2026-01-03T00:00:00Z".into(),
            updated_at: "2026-01-03T00:00:00Z".into(),
        },
    ]
}

fn store_events(runs: &[CouncilRun]) -> Vec<CouncilRunEvent> {
    let mut events = Vec::new();
    for (r, run) in runs.iter().enumerate() {
        for seq in 0..6 {
            events.push(CouncilRunEvent {
                run_id: run.id.clone(),
                seq,
                event_json: tricky(r + seq as usize),
                created_at: format!("2026-01-0{}T00:00:{seq:02}.000Z", r + 1),
                wave_index: [0, 0, 1, 2, 7, u32::MAX][seq as usize],
            });
        }
    }
    let long: String = "{\"t\":\"日本\\n😀\"}\n\u{2028}".repeat(50_000);
    assert!(long.len() > 1 << 20);
    events.push(CouncilRunEvent {
        run_id: runs[0].id.clone(),
        seq: MAX_SAFE_INTEGER,
        event_json: long,
        created_at: "2026-01-01T00:01:00Z".into(),
        wave_index: 9,
    });
    events
}

#[test]
fn an_export_loads_into_the_server_tables_byte_for_byte() {
    let runs = store_runs();
    let events = store_events(&runs);
    let db = server_db();
    db.execute_batch("CREATE TEMP TABLE export_lines (line TEXT);")
        .unwrap();
    {
        let mut insert = db
            .prepare("INSERT INTO export_lines (line) VALUES (?1)")
            .unwrap();
        insert
            .execute([header_line("2026-01-04T00:00:00.000Z")])
            .unwrap();
        for run in &runs {
            insert.execute([run_line(run) + "\r"]).unwrap();
        }
        for event in &events {
            insert.execute([event_line(event)]).unwrap();
        }
        insert
            .execute([end_line(runs.len() as u64, events.len() as u64)])
            .unwrap();
        // What a file edited on another system may hold.
        insert.execute([""]).unwrap();
        insert.execute([" \r"]).unwrap();
    }
    db.execute_batch(LOAD_EXPORT).unwrap();

    let mut stored_runs = db
        .prepare(
            "SELECT id, goal, graph_json, status, hitl_mode, conversation_id, created_at,
                    updated_at, typeof(conversation_id)
             FROM orchestrator_runs ORDER BY rowid",
        )
        .unwrap();
    let stored_runs: Vec<(CouncilRun, String)> = stored_runs
        .query_map([], |row| {
            let hitl_mode: String = row.get(4)?;
            Ok((
                CouncilRun {
                    id: row.get(0)?,
                    goal: row.get(1)?,
                    graph_json: row.get(2)?,
                    status: CouncilRunStatus::parse(&row.get::<_, String>(3)?).unwrap(),
                    // The server reads the column with a JSON parser.
                    hitl_mode: serde_json::from_str(&hitl_mode).unwrap(),
                    conversation_id: row.get(5)?,
                    created_at: row.get(6)?,
                    updated_at: row.get(7)?,
                },
                row.get(8)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let modes: Vec<String> = db
        .prepare("SELECT hitl_mode FROM orchestrator_runs ORDER BY rowid")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        modes,
        ["\"approve_plan\"", "\"none\"", "\"approve_tools\""],
        "hitl_mode is stored as JSON text"
    );
    let (read_runs, conversation_types): (Vec<_>, Vec<_>) = stored_runs.into_iter().unzip();
    assert_eq!(read_runs, runs);
    assert_eq!(conversation_types, ["integer", "null", "integer"]);

    let read_events: Vec<(CouncilRunEvent, String, String)> = db
        .prepare(
            "SELECT run_id, seq, event_json, created_at, wave_index, typeof(seq),
                    typeof(wave_index)
             FROM orchestrator_events ORDER BY id",
        )
        .unwrap()
        .query_map([], |row| {
            Ok((
                CouncilRunEvent {
                    run_id: row.get(0)?,
                    seq: row.get(1)?,
                    event_json: row.get(2)?,
                    created_at: row.get(3)?,
                    wave_index: row.get(4)?,
                },
                row.get(5)?,
                row.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read_events.len(), events.len());
    for ((read, seq_type, wave_type), event) in read_events.iter().zip(&events) {
        assert_eq!(read, event);
        assert_eq!(
            (seq_type.as_str(), wave_type.as_str()),
            ("integer", "integer")
        );
    }

    // The schema is the server's: deleting a run takes its events with it.
    db.execute("DELETE FROM orchestrator_runs WHERE id = 'r3'", [])
        .unwrap();
    let left: i64 = db
        .query_row(
            "SELECT count(*) FROM orchestrator_events WHERE run_id = 'r3'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

/// Rows as the server's SQL adapter wrote them: `hitl_mode` as JSON text,
/// `updated_at` from `datetime('now')` after an update.
const SERVER_ROWS: &str = r#"
INSERT INTO orchestrator_runs VALUES
    ('5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f', 'Plan a trip to 京都 ✈️, "cheap"', '{"nodes":[{"id":"a","title":"Find flights, hotels"}]}',
     'completed', '"approve_plan"', 7, '2026-01-02T03:00:00.123456789+00:00', '2026-01-02 03:04:05'),
    ('a0000000-0000-4000-8000-000000000002', 'Write a haiku' || char(10) || 'about rain', NULL,
     'interrupted', '"none"', NULL, '2026-01-02T04:00:00+00:00', '2026-01-02T04:00:00+00:00'),
    ('a0000000-0000-4000-8000-000000000003', 'Review the diff', '{}',
     'awaiting_approval', '"approve_each_node"', -3, '2026-01-02T05:00:00+00:00', '2026-01-02 05:10:00');

INSERT INTO orchestrator_events (run_id, seq, event_json, created_at, wave_index) VALUES
    ('5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f', 0, '{"type":"plan_proposed","graph":{"nodes":[]}}',
     '2026-01-02T03:00:01.000000000+00:00', 0),
    ('5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f', 1,
     '{"type":"node_text_delta","text":"line one' || char(10) || 'line two' || char(9) || 'tabbed, \"quoted\", back\\slash"}',
     '2026-01-02T03:00:02+00:00', 1),
    ('5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f', 2,
     '{"type":"node_text_delta","text":"雨が降る 🌧️' || char(8232) || 'next' || char(8233) || 'para"}',
     '2026-01-02 03:00:03', 1),
    ('5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f', 3,
     'control' || char(1) || char(27) || char(127) || ' chars, not JSON at all',
     '2026-01-02T03:00:04+00:00', 2),
    ('a0000000-0000-4000-8000-000000000003', 0, '{"type":"node_started","node":"a"}',
     '2026-01-02T05:00:01+00:00', 4294967295);

-- wave_index left to its default, as an old row would have it.
INSERT INTO orchestrator_events (run_id, seq, event_json, created_at) VALUES
    ('a0000000-0000-4000-8000-000000000002', 0, '{"type":"run_started"}', '2026-01-02 04:00:01');
"#;

fn expected_from_server() -> Vec<ExportLine> {
    let run1 = "5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f";
    let run2 = "a0000000-0000-4000-8000-000000000002";
    let run3 = "a0000000-0000-4000-8000-000000000003";
    let event = |run_id: &str, seq, wave_index, event_json: &str, created_at: &str| {
        ExportLine::Event(CouncilRunEvent {
            run_id: run_id.into(),
            seq,
            event_json: event_json.into(),
            created_at: created_at.into(),
            wave_index,
        })
    };
    vec![
        ExportLine::Header {
            version: 1,
            exported_at: "2026-01-03T00:00:00.000Z".into(),
        },
        ExportLine::Run(CouncilRun {
            id: run1.into(),
            goal: "Plan a trip to 京都 ✈️, \"cheap\"".into(),
            graph_json: Some(r#"{"nodes":[{"id":"a","title":"Find flights, hotels"}]}"#.into()),
            status: CouncilRunStatus::Completed,
            hitl_mode: HitlMode::ApprovePlan,
            conversation_id: Some(7),
            created_at: "2026-01-02T03:00:00.123456789+00:00".into(),
            updated_at: "2026-01-02T03:04:05Z".into(),
        }),
        ExportLine::Run(CouncilRun {
            id: run2.into(),
            goal: "Write a haiku\nabout rain".into(),
            graph_json: None,
            status: CouncilRunStatus::Interrupted,
            hitl_mode: HitlMode::None,
            conversation_id: None,
            created_at: "2026-01-02T04:00:00+00:00".into(),
            updated_at: "2026-01-02T04:00:00+00:00".into(),
        }),
        ExportLine::Run(CouncilRun {
            id: run3.into(),
            goal: "Review the diff".into(),
            graph_json: Some("{}".into()),
            status: CouncilRunStatus::AwaitingApproval,
            hitl_mode: HitlMode::ApproveEachNode,
            conversation_id: Some(-3),
            created_at: "2026-01-02T05:00:00+00:00".into(),
            updated_at: "2026-01-02T05:10:00Z".into(),
        }),
        event(
            run1,
            0,
            0,
            r#"{"type":"plan_proposed","graph":{"nodes":[]}}"#,
            "2026-01-02T03:00:01.000000000+00:00",
        ),
        event(
            run1,
            1,
            1,
            "{\"type\":\"node_text_delta\",\"text\":\"line one\nline two\ttabbed, \\\"quoted\\\", back\\\\slash\"}",
            "2026-01-02T03:00:02+00:00",
        ),
        event(
            run1,
            2,
            1,
            "{\"type\":\"node_text_delta\",\"text\":\"雨が降る 🌧️\u{2028}next\u{2029}para\"}",
            "2026-01-02T03:00:03Z",
        ),
        event(
            run1,
            3,
            2,
            "control\u{1}\u{1b}\u{7f} chars, not JSON at all",
            "2026-01-02T03:00:04+00:00",
        ),
        event(run2, 0, 0, r#"{"type":"run_started"}"#, "2026-01-02T04:00:01Z"),
        event(
            run3,
            0,
            u32::MAX,
            r#"{"type":"node_started","node":"a"}"#,
            "2026-01-02T05:00:01+00:00",
        ),
        ExportLine::End { runs: 3, events: 6 },
    ]
}

#[test]
fn server_rows_export_with_sql_and_parse_into_the_domain() {
    let db = server_db();
    db.execute_batch(SERVER_ROWS).unwrap();
    let lines: Vec<String> = db
        .prepare(EXPORT_NDJSON)
        .unwrap()
        .query_map(
            named_params! {":exported_at": "2026-01-03T00:00:00.000Z"},
            |row| row.get(0),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let parsed: Vec<ExportLine> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| match parse_line(line, i as u64 + 1) {
            Ok(Some(value)) => value,
            other => panic!("line {}: {line}: {other:?}", i + 1),
        })
        .collect();
    assert_eq!(parsed, expected_from_server());

    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    if std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1") {
        std::fs::write(FIXTURE, &text).unwrap();
    } else {
        let committed = std::fs::read_to_string(FIXTURE).unwrap_or_default();
        assert!(
            committed == text,
            "{FIXTURE} differs from what export-ndjson.sql makes now; \
             UPDATE_FIXTURES=1 cargo test --test sqlite rewrites it"
        );
    }
    // The fixture is read the way an importer reads a file: line by line.
    for (i, line) in text.lines().enumerate() {
        assert_eq!(
            parse_line(line, i as u64 + 1).unwrap().as_ref(),
            parsed.get(i)
        );
    }
}
