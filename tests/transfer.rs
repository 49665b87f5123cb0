//! The export/import line codec: round trips of awkward values, the server's
//! forms, and every refusal with its line number.
#![cfg(not(target_arch = "wasm32"))]

use council_idb::transfer::{
    event_line, header_line, parse_line, run_line, ExportLine, EXPORT_VERSION, MAX_KEYS,
};
use council_idb::{
    limits, CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode, RepositoryError,
    MAX_SAFE_INTEGER,
};
use serde::Deserialize;

const T0: &str = "2026-01-01T00:00:00.123Z";
const T1: &str = "2026-01-01T00:00:05.123456789+00:00";

fn run(id: &str) -> CouncilRun {
    CouncilRun {
        id: id.into(),
        goal: "Summarise the report".into(),
        graph_json: Some(r#"{"nodes":[{"id":"a"}]}"#.into()),
        status: CouncilRunStatus::AwaitingApproval,
        hitl_mode: HitlMode::ApprovePlan,
        conversation_id: Some(42),
        created_at: T0.into(),
        updated_at: T1.into(),
    }
}

fn event(run_id: &str, seq: i64, event_json: &str) -> CouncilRunEvent {
    CouncilRunEvent {
        run_id: run_id.into(),
        seq,
        event_json: event_json.into(),
        created_at: T0.into(),
        wave_index: 2,
    }
}

fn parsed(line: &str) -> ExportLine {
    match parse_line(line, 7) {
        Ok(Some(value)) => value,
        other => panic!("{line:.200}: expected a value, got {other:?}"),
    }
}

/// The message of the Serialization error that `line`, as line `n`, gives.
fn refusal(line: &str, n: u64) -> String {
    match parse_line(line, n) {
        Err(RepositoryError::Serialization(message)) => message,
        other => panic!("{line:.200}: expected a Serialization error, got {other:?}"),
    }
}

/// Strings that trip up encoders.
fn awkward_texts() -> Vec<String> {
    let controls: String = (0u8..0x20).map(char::from).chain(['\u{7f}']).collect();
    vec![
        String::new(),
        "plain".into(),
        "👩‍👩‍👧 family, 🎉 party, 😀".into(),
        "評議会の実行 — 의회 — совет".into(),
        "line\u{2028}separator\u{2029}paragraph".into(),
        controls,
        r#"quote " backslash \ slash / \" \\ \u0000 \ud800"#.into(),
        "</script><!-- ]]> ' `".into(),
        "\u{feff}BOM, e\u{301} combining, \u{ffff} \u{10ffff} \u{fffd}".into(),
        "tab\there\r\nCRLF\n".into(),
        r#"{"type":"node_text_delta","text":"a\nb"}"#.into(),
    ]
}

#[test]
fn lines_have_the_documented_shape() {
    assert_eq!(
        header_line("2026-01-03T00:00:00.000Z"),
        r#"{"council_idb_export":{"version":1,"exported_at":"2026-01-03T00:00:00.000Z"}}"#
    );
    assert_eq!(
        run_line(&run("r1")),
        r#"{"orchestrator_runs":{"id":"r1","goal":"Summarise the report","graph_json":"{\"nodes\":[{\"id\":\"a\"}]}","status":"awaiting_approval","hitl_mode":"\"approve_plan\"","conversation_id":42,"created_at":"2026-01-01T00:00:00.123Z","updated_at":"2026-01-01T00:00:05.123456789+00:00"}}"#
    );
    let bare = CouncilRun {
        graph_json: None,
        conversation_id: None,
        ..run("r2")
    };
    assert!(run_line(&bare).contains(r#""graph_json":null,"#));
    assert!(run_line(&bare).contains(r#""conversation_id":null,"#));
    assert_eq!(
        event_line(&event("r1", 3, "{}")),
        r#"{"orchestrator_events":{"run_id":"r1","seq":3,"event_json":"{}","created_at":"2026-01-01T00:00:00.123Z","wave_index":2}}"#
    );
}

#[test]
fn strings_are_escaped_for_any_json_or_javascript_reader() {
    let line = event_line(&event(
        "r1",
        0,
        "a\u{2028}b\u{2029}c\n\r\t\u{0}\u{1f}\u{8}\u{c}\"\\\u{7f}é😀",
    ));
    assert!(
        line.contains(r#""event_json":"a\u2028b\u2029c\n\r\t\u0000\u001f\b\f\"\\"#),
        "{line}"
    );
    // DEL and everything from U+0080 on, but U+2028/9, are written raw.
    assert!(line.contains("\u{7f}é😀\""), "{line}");
    assert!(!line.contains(['\n', '\r', '\u{2028}', '\u{2029}']));
    assert!(!line.bytes().any(|b| b < 0x20));
}

#[test]
fn awkward_text_round_trips_byte_for_byte() {
    for text in awkward_texts() {
        let r = CouncilRun {
            goal: text.clone(),
            graph_json: Some(text.clone()),
            ..run(&format!("id {text}").chars().take(60).collect::<String>())
        };
        assert_eq!(parsed(&run_line(&r)), ExportLine::Run(r), "{text:?}");
        let e = event("r1", 1, &text);
        assert_eq!(parsed(&event_line(&e)), ExportLine::Event(e), "{text:?}");
    }
}

#[test]
fn large_values_round_trip() {
    // A 1 MB event made of escapes and multi-byte characters.
    let unit = "{\"t\":\"日本\\n\u{2028}😀\"}\n";
    let big: String = unit.repeat((1 << 20) / unit.len() + 1);
    assert!(big.len() > 1 << 20);
    let e = event("r1", MAX_SAFE_INTEGER, &big);
    assert_eq!(parsed(&event_line(&e)), ExportLine::Event(e));
    // A goal of exactly the limit.
    let r = CouncilRun {
        goal: "g".repeat(limits::GOAL_BYTES),
        ..run("r1")
    };
    assert_eq!(parsed(&run_line(&r)), ExportLine::Run(r));
}

#[test]
fn every_status_mode_and_conversation_id_round_trips() {
    for status in CouncilRunStatus::ALL {
        for hitl_mode in HitlMode::ALL {
            for conversation_id in [
                None,
                Some(0),
                Some(-1),
                Some(MAX_SAFE_INTEGER),
                Some(-MAX_SAFE_INTEGER),
            ] {
                let r = CouncilRun {
                    status,
                    hitl_mode,
                    conversation_id,
                    graph_json: None,
                    ..run("r1")
                };
                assert_eq!(parsed(&run_line(&r)), ExportLine::Run(r));
            }
        }
    }
    for wave_index in [0, 1, u32::MAX] {
        let e = CouncilRunEvent {
            wave_index,
            ..event("r1", 0, "{}")
        };
        assert_eq!(parsed(&event_line(&e)), ExportLine::Event(e));
    }
}

#[test]
fn the_header_round_trips() {
    assert_eq!(
        parsed(&header_line(T1)),
        ExportLine::Header {
            version: EXPORT_VERSION,
            exported_at: T1.into()
        }
    );
}

/// What the server's serde row structs make of a line.
#[derive(Debug, Deserialize)]
enum ServerLine {
    #[serde(rename = "council_idb_export")]
    Header {
        version: u32,
        #[allow(dead_code)]
        exported_at: String,
    },
    #[serde(rename = "orchestrator_runs")]
    Run(ServerRun),
    #[serde(rename = "orchestrator_events")]
    Event(ServerEvent),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerRun {
    id: String,
    goal: String,
    graph_json: Option<String>,
    status: String,
    hitl_mode: String,
    conversation_id: Option<i64>,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerEvent {
    run_id: String,
    seq: i64,
    event_json: String,
    created_at: String,
    wave_index: u32,
}

#[test]
fn a_server_reads_lines_into_its_row_structs() {
    let header: ServerLine = serde_json::from_str(&header_line(T0)).unwrap();
    assert!(matches!(header, ServerLine::Header { version: 1, .. }));
    for text in awkward_texts() {
        let r = CouncilRun {
            goal: text.clone(),
            ..run("r1")
        };
        let ServerLine::Run(row) = serde_json::from_str(&run_line(&r)).unwrap() else {
            panic!("not a run")
        };
        assert_eq!((row.id, row.goal), (r.id, r.goal));
        assert_eq!(row.graph_json, r.graph_json);
        assert_eq!(row.status, "awaiting_approval");
        // The server reads the column as JSON.
        let mode: HitlMode = serde_json::from_str(&row.hitl_mode).unwrap();
        assert_eq!(mode, HitlMode::ApprovePlan);
        assert_eq!(row.conversation_id, Some(42));
        assert_eq!(
            (row.created_at, row.updated_at),
            (r.created_at, r.updated_at)
        );

        let e = event("r1", 9, &text);
        let ServerLine::Event(row) = serde_json::from_str(&event_line(&e)).unwrap() else {
            panic!("not an event")
        };
        assert_eq!((row.run_id, row.seq, row.wave_index), ("r1".into(), 9, 2));
        assert_eq!(
            (row.event_json, row.created_at),
            (e.event_json, e.created_at)
        );
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A string of characters drawn mostly from the awkward ranges.
    fn text(&mut self) -> String {
        let len = self.next() % 40;
        (0..len)
            .map(|_| {
                let pick = self.next();
                let code = match pick % 6 {
                    0 => pick as u32 >> 8 & 0x3f,
                    1 => [0x22, 0x5c, 0x2f, 0x2028, 0x2029, 0x7f][(pick >> 8) as usize % 6],
                    2 => 0x80 + (pick >> 8) as u32 % 0x780,
                    3 => 0xd700 + (pick >> 8) as u32 % 0x1000,
                    4 => 0x1_0000 + (pick >> 8) as u32 % 0x10_0000,
                    _ => 0x20 + (pick >> 8) as u32 % 0x5f,
                };
                char::from_u32(code).unwrap_or('\u{fffd}')
            })
            .collect()
    }
}

#[test]
fn random_text_agrees_with_serde_json_both_ways() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let text = rng.text();
        let e = event("r1", 5, &text);
        let line = event_line(&e);
        assert_eq!(parsed(&line), ExportLine::Event(e.clone()), "{text:?}");
        let ServerLine::Event(row) = serde_json::from_str(&line).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(row.event_json, text);
        // A line written by serde_json (raw U+2028, other escapes) reads back too.
        let theirs = serde_json::json!({"orchestrator_events": {
            "run_id": "r1", "seq": 5, "event_json": text,
            "created_at": T0, "wave_index": 2,
        }})
        .to_string();
        assert_eq!(parsed(&theirs), ExportLine::Event(e), "{theirs}");
    }
}

const EVENT: &str = r#"{"orchestrator_events":{"run_id":"r1","seq":3,"event_json":"{}","created_at":"2026-01-01T00:00:00.123Z","wave_index":2}}"#;
const RUN: &str = r#"{"orchestrator_runs":{"id":"r1","goal":"g","graph_json":null,"status":"running","hitl_mode":"\"approve_plan\"","conversation_id":null,"created_at":"2026-01-01T00:00:00.123Z","updated_at":"2026-01-01T00:00:00.123Z"}}"#;

fn event_with(from: &str, to: &str) -> String {
    assert!(EVENT.contains(from), "{from}");
    EVENT.replacen(from, to, 1)
}

fn run_with(from: &str, to: &str) -> String {
    assert!(RUN.contains(from), "{from}");
    RUN.replacen(from, to, 1)
}

fn read_run(line: &str) -> CouncilRun {
    match parsed(line) {
        ExportLine::Run(run) => run,
        other => panic!("not a run: {other:?}"),
    }
}

fn read_event(line: &str) -> CouncilRunEvent {
    match parsed(line) {
        ExportLine::Event(event) => event,
        other => panic!("not an event: {other:?}"),
    }
}

#[test]
fn the_server_forms_are_read() {
    assert_eq!(read_run(RUN).hitl_mode, HitlMode::ApprovePlan);
    let bare = run_with(r#""\"approve_plan\"""#, r#""approve_each_node""#);
    assert_eq!(read_run(&bare).hitl_mode, HitlMode::ApproveEachNode);

    let sqlite_time = run_with(
        r#""updated_at":"2026-01-01T00:00:00.123Z""#,
        r#""updated_at":"2026-01-02 03:04:05""#,
    );
    assert_eq!(read_run(&sqlite_time).updated_at, "2026-01-02T03:04:05Z");
    let sqlite_time = event_with(T0, "2025-12-31 23:59:59");
    assert_eq!(read_event(&sqlite_time).created_at, "2025-12-31T23:59:59Z");

    // RFC 3339 in any form the store accepts is kept as written.
    for form in [
        "2026-01-01T00:00:00.123456789+00:00",
        "2026-01-01t00:00:00z",
        "2026-01-01 00:00:00-04:30",
        "2016-12-31T23:59:60Z",
    ] {
        assert_eq!(read_event(&event_with(T0, form)).created_at, form);
    }
}

#[test]
fn keys_a_row_does_not_know_are_skipped() {
    let with_id = EVENT.replacen("{\"run_id\"", "{\"id\":17,\"run_id\"", 1);
    assert_eq!(read_event(&with_id), read_event(EVENT));
    let with_more = event_with(
        r#""wave_index":2"#,
        r#""wave_index":2,"note":{"a":[1,-2.5e3,true,false,null,"x",{}],"b":[]},"z":"\ud83d\ude00""#,
    );
    assert_eq!(read_event(&with_more), read_event(EVENT));
    let header =
        r#"{"council_idb_export":{"exported_at":"2026-01-03 00:00:00","tool":"x","version":1}}"#;
    assert_eq!(
        parsed(header),
        ExportLine::Header {
            version: 1,
            exported_at: "2026-01-03T00:00:00Z".into()
        }
    );
}

#[test]
fn whitespace_and_line_ends() {
    for blank in ["", "\n", "\r\n", "\r", "  \t ", " \r\n"] {
        assert_eq!(parse_line(blank, 3), Ok(None), "{blank:?}");
    }
    let expected = read_event(EVENT);
    for line in [
        format!("{EVENT}\n"),
        format!("{EVENT}\r\n"),
        format!("{EVENT}\r"),
        format!(" \t{EVENT} "),
        EVENT.replace(",\"", " ,\t\"").replace("\":", "\" :\t"),
    ] {
        assert_eq!(read_event(&line), expected, "{line}");
    }
}

#[test]
fn escapes_decode_and_pairs_combine() {
    let line = event_with(
        r#""event_json":"{}""#,
        r#""event_json":"\u0041\u00e9\u65E5\uD83D\uDE00\ud83d\ude00\/\b\f\n\r\t\"\\\u2028""#,
    );
    assert_eq!(
        read_event(&line).event_json,
        "Aé日😀😀/\u{8}\u{c}\n\r\t\"\\\u{2028}"
    );
}

#[test]
fn lone_surrogates_are_refused() {
    let cases = [
        (r#"a\ud800"#, r#"\ud800"#),
        (r#"a\uD800b"#, r#"\uD800"#),
        (r#"\udc00"#, r#"\udc00"#),
        (r#"\ud800\u0041"#, r#"\ud800"#),
        (r#"é\ud800\ud800"#, r#"\ud800"#),
        (r#"\ude00\ud83d"#, r#"\ude00"#),
    ];
    for (inner, escape) in cases {
        let line = event_with(
            r#""event_json":"{}""#,
            &format!(r#""event_json":"{inner}""#),
        );
        let at = line.find(escape).unwrap();
        assert_eq!(
            refusal(&line, 12),
            format!(
                "line 12: orchestrator_events.event_json: {escape} at byte {at} is a lone \
                 UTF-16 surrogate; the store keeps text as UTF-8, which cannot hold one"
            ),
            "{inner}"
        );
    }
    let in_goal = run_with(r#""goal":"g""#, r#""goal":"\udfff""#);
    assert!(refusal(&in_goal, 2).starts_with("line 2: orchestrator_runs.goal: \\udfff at byte"));
}

#[test]
fn missing_columns_and_wrong_types_are_named() {
    let columns = [
        r#""run_id":"r1""#,
        r#""seq":3"#,
        r#""event_json":"{}""#,
        r#""created_at":"2026-01-01T00:00:00Z""#,
        r#""wave_index":2"#,
    ];
    for (i, column) in ["run_id", "seq", "event_json", "created_at", "wave_index"]
        .into_iter()
        .enumerate()
    {
        let mut members = columns.to_vec();
        members[i] = r#""other":1"#;
        let line = format!(r#"{{"orchestrator_events":{{{}}}}}"#, members.join(","));
        assert_eq!(
            refusal(&line, 4),
            format!("line 4: orchestrator_events.{column} is missing")
        );
    }
    let cases = [
        (
            event_with(r#""seq":3"#, r#""seq":"3""#),
            "orchestrator_events.seq must be an integer, got a string",
        ),
        (
            event_with(r#""seq":3"#, r#""seq":null"#),
            "orchestrator_events.seq must be an integer, got null",
        ),
        (
            event_with(r#""event_json":"{}""#, r#""event_json":{}"#),
            "orchestrator_events.event_json must be a string, got an object",
        ),
        (
            event_with(r#""event_json":"{}""#, r#""event_json":null"#),
            "orchestrator_events.event_json must be a string, got null",
        ),
        (
            event_with(r#""run_id":"r1""#, r#""run_id":["r1"]"#),
            "orchestrator_events.run_id must be a string, got an array",
        ),
        (
            run_with(r#""graph_json":null"#, r#""graph_json":true"#),
            "orchestrator_runs.graph_json must be a string or null, got a boolean",
        ),
        (
            run_with(r#""conversation_id":null"#, r#""conversation_id":"7""#),
            "orchestrator_runs.conversation_id must be an integer or null, got a string",
        ),
        (
            run_with(r#""status":"running""#, r#""status":1"#),
            "orchestrator_runs.status must be a string, got an integer",
        ),
        (
            run_with(r#""goal":"g""#, r#""goal":1.5"#),
            "orchestrator_runs.goal must be a string, got a number with a fraction or an exponent",
        ),
    ];
    for (line, message) in cases {
        assert_eq!(refusal(&line, 9), format!("line 9: {message}"), "{line}");
    }
}

#[test]
fn integers_are_exact_and_in_range() {
    let seq_range = "0..=9007199254740991";
    let cases = [
        (
            "\"seq\":1.0",
            "seq must be an integer, got a number with a fraction or an exponent".to_string(),
        ),
        (
            "\"seq\":1e2",
            "seq must be an integer, got a number with a fraction or an exponent".into(),
        ),
        (
            "\"seq\":1E+0",
            "seq must be an integer, got a number with a fraction or an exponent".into(),
        ),
        ("\"seq\":-1", format!("seq -1 is outside {seq_range}")),
        (
            "\"seq\":9007199254740992",
            format!("seq 9007199254740992 is outside {seq_range}"),
        ),
        (
            "\"seq\":123456789012345678901234567890123456789012345",
            format!("seq 1234567890123456789012345678901234567890… is outside {seq_range}"),
        ),
        (
            "\"wave_index\":-1",
            "wave_index -1 is outside 0..=4294967295".into(),
        ),
        (
            "\"wave_index\":4294967296",
            "wave_index 4294967296 is outside 0..=4294967295".into(),
        ),
    ];
    for (field, message) in cases {
        let (name, _) = field.split_once(':').unwrap();
        let start = EVENT.find(name).unwrap();
        let end = start + EVENT[start..].find([',', '}']).unwrap();
        let mut line = EVENT.to_string();
        line.replace_range(start..end, field);
        assert_eq!(
            refusal(&line, 5),
            format!("line 5: orchestrator_events.{message}"),
            "{line}"
        );
    }
    assert_eq!(
        read_event(&event_with("\"seq\":3", "\"seq\":9007199254740991")).seq,
        MAX_SAFE_INTEGER
    );
    assert_eq!(read_event(&event_with("\"seq\":3", "\"seq\":-0")).seq, 0);

    // conversation_id: a JSON integer that fits an i64, within the store's ±(2^53 − 1).
    let conversation = |value: &str| {
        run_with(
            "\"conversation_id\":null",
            &format!("\"conversation_id\":{value}"),
        )
    };
    assert_eq!(
        read_run(&conversation("-9007199254740991")).conversation_id,
        Some(-MAX_SAFE_INTEGER)
    );
    assert_eq!(
        refusal(&conversation("9223372036854775808"), 6),
        "line 6: orchestrator_runs.conversation_id 9223372036854775808 is outside \
         -9223372036854775808..=9223372036854775807"
    );
    assert_eq!(
        refusal(&conversation("9223372036854775807"), 6),
        "line 6: run r1: conversation_id 9223372036854775807 is outside ±(2^53 − 1)"
    );
    assert_eq!(
        refusal(&conversation("-9223372036854775808"), 6),
        "line 6: run r1: conversation_id -9223372036854775808 is outside ±(2^53 − 1)"
    );
    assert_eq!(
        refusal(&conversation("-9223372036854775809"), 6),
        "line 6: orchestrator_runs.conversation_id -9223372036854775809 is outside \
         -9223372036854775808..=9223372036854775807"
    );
    assert_eq!(
        refusal(&conversation("-9007199254740992"), 6),
        "line 6: run r1: conversation_id -9007199254740992 is outside ±(2^53 − 1)"
    );
    for bad in ["01", "+1", "1.", ".5", "-", "1e", "0x10", "NaN", "Infinity"] {
        let message = refusal(&conversation(bad), 6);
        assert!(message.starts_with("line 6: "), "{bad}: {message}");
        assert!(message.contains(" at byte "), "{bad}: {message}");
    }
}

#[test]
fn unknown_status_and_hitl_mode_are_refused() {
    assert_eq!(
        refusal(
            &run_with(r#""status":"running""#, r#""status":"Running""#),
            2
        ),
        "line 2: orchestrator_runs.status \"Running\" is not a run status (expected running, \
         awaiting_approval, interrupted, completed or failed)"
    );
    let mode_error = |shown: &str| {
        format!(
            "line 3: orchestrator_runs.hitl_mode {shown} is not a hitl mode (expected none, \
             approve_plan, approve_each_node or approve_tools, bare or as a JSON string)"
        )
    };
    for (value, shown) in [
        (r#""always""#, r#""always""#),
        (r#""\"approve_plan""#, r#""\"approve_plan""#),
        (r#""\"\"approve_plan\"\"""#, r#""\"\"approve_plan\"\"""#),
        (r#""\"\"""#, r#""\"\"""#),
        (r#""""#, r#""""#),
    ] {
        let line = run_with(r#""\"approve_plan\"""#, value);
        assert_eq!(refusal(&line, 3), mode_error(shown), "{line}");
    }
}

#[test]
fn timestamps_are_refused_unless_rfc3339_or_the_server_form() {
    for bad in [
        "yesterday",
        "2026-01-01T00:00:00",
        "2026-01-01",
        "2026-02-30 00:00:00",
        "2026-01-01 00:00:00.5",
        "2026-01-01_00:00:00",
    ] {
        assert_eq!(
            refusal(&event_with(T0, bad), 8),
            format!(
                "line 8: orchestrator_events.created_at \"{bad}\" is neither an RFC 3339 \
                 timestamp nor YYYY-MM-DD HH:MM:SS"
            )
        );
    }
    let long = "9".repeat(100);
    assert!(refusal(&event_with(T0, &long), 8).contains(&format!("\"{}\"…", "9".repeat(40))));
}

#[test]
fn the_store_rules_apply() {
    assert_eq!(
        refusal(&run_with(r#""id":"r1""#, r#""id":"""#), 2),
        "line 2: run id must not be empty"
    );
    let long_id = "i".repeat(limits::ID_BYTES + 1);
    assert_eq!(
        refusal(
            &run_with(r#""id":"r1""#, &format!(r#""id":"{long_id}""#)),
            2
        ),
        "line 2: run id is 257 bytes, more than the limit of 256"
    );
    assert_eq!(
        refusal(&event_with(r#""run_id":"r1""#, r#""run_id":"""#), 2),
        "line 2: orchestrator_events.run_id is 0 bytes; a run id has 1 to 256 bytes"
    );
    let big_goal = CouncilRun {
        goal: "g".repeat(limits::GOAL_BYTES + 1),
        ..run("r1")
    };
    assert_eq!(
        refusal(&run_line(&big_goal), 2),
        "line 2: goal of run \"r1\" is 1048577 bytes, more than the limit of 1048576"
    );
    let big_event = event("r1", 0, &"e".repeat(limits::JSON_BYTES + 1));
    assert_eq!(
        refusal(&event_line(&big_event), 3),
        "line 3: event_json of event 0 of run \"r1\" is 16777217 bytes, more than the limit of 16777216"
    );
}

#[test]
fn malformed_lines_are_refused_with_their_place() {
    // (line, what "{at}" stands for: the byte offset of this text in the line, message)
    let dup_seq = event_with(r#""seq":3"#, r#""seq":3,"seq":4"#);
    let dup_id = EVENT.replacen("{\"run_id\"", "{\"id\":1,\"id\":2,\"run_id\"", 1);
    let cases: Vec<(String, &str, &str)> =
        vec![
        (dup_seq, r#""seq":4"#, "duplicate key \"seq\" at byte {at}"),
        (dup_id, r#""id":2"#, "duplicate key \"id\" at byte {at}"),
        (format!("{EVENT}x"), "}x", "text after the object at byte {at+1}"),
        (format!("{EVENT} {{}}"), "} {}", "text after the object at byte {at+2}"),
        (
            format!("{}{}", &EVENT[..EVENT.len() - 1], r#","orchestrator_runs":{}}"#),
            r#","orchestrator_runs""#,
            "a second key at byte {at}; a line holds one tagged object",
        ),
        (
            EVENT.replacen("orchestrator_events", "orchestrator_event", 1),
            "\"orchestrator_event\"",
            "unknown tag \"orchestrator_event\" at byte {at} (expected orchestrator_runs, \
             orchestrator_events, council_idb_export or council_idb_end)",
        ),
        (
            r#"{"council_idb_export":{"version":2,"exported_at":"2026-01-01T00:00:00Z"}}"#.into(),
            "",
            "export version 2 is not supported (this build reads version 1)",
        ),
        (
            r#"{"council_idb_export":{"version":"1","exported_at":"2026-01-01T00:00:00Z"}}"#.into(),
            "",
            "council_idb_export.version must be an integer, got a string",
        ),
        (
            r#"{"council_idb_export":{"version":1}}"#.into(),
            "",
            "council_idb_export.exported_at is missing",
        ),
        (
            "[1]".into(),
            "[",
            "expected \"{\" opening the line's object at byte {at}, found \"[\"",
        ),
        (
            "{}".into(),
            "}",
            "expected a tag (\"orchestrator_runs\", \"orchestrator_events\", \
             \"council_idb_export\" or \"council_idb_end\") at byte {at}, found \"}\"",
        ),
        (
            r#"{"orchestrator_runs":5}"#.into(),
            "5",
            "expected \"{\" opening the orchestrator_runs object at byte {at}, found \"5\"",
        ),
        (
            EVENT[..EVENT.len() - 1].into(),
            "",
            "expected \"}\" closing the line's object at byte {end}, found the end of the line",
        ),
        (
            event_with(r#""{}""#, "\"a\tb\""),
            "\t",
            "orchestrator_events.event_json: unescaped control character \"\\t\" in a string \
             at byte {at}",
        ),
        (
            event_with(r#""{}""#, r#""a\xb""#),
            r"\x",
            "orchestrator_events.event_json: invalid escape \\x at byte {at}",
        ),
        (
            event_with(r#""{}""#, r#""\é""#),
            r"\é",
            "orchestrator_events.event_json: invalid escape \\é at byte {at}",
        ),
        (
            event_with(r#""{}""#, r#""\u12""#),
            r"\u12",
            "orchestrator_events.event_json: \\u at byte {at} is not followed by four hex digits",
        ),
        (
            r#"{"orchestrator_events":{"run_id":"r1"#.into(),
            "",
            "orchestrator_events.run_id: unterminated string at byte {end}",
        ),
        (
            event_with(r#""seq":3,"#, r#""seq":3,,"#),
            ",,",
            "expected a key at byte {at+1}, found \",\"",
        ),
        (
            event_with(r#""seq":3"#, r#""seq" 3"#),
            " 3",
            "expected \":\" after a key at byte {at+1}, found \"3\"",
        ),
        (
            event_with(r#""seq":3"#, r#""seq":nul"#),
            "nul",
            "orchestrator_events.seq: expected a JSON value at byte {at}, found \"n\"",
        ),
        (
            event_with(r#""seq":3"#, r#""seq":01"#),
            "01",
            "expected \",\" or \"}\" at byte {at+1}, found \"1\"",
        ),
        // No trailing comma, in a row or in a skipped value.
        (
            event_with(r#""wave_index":2}"#, r#""wave_index":2,}"#),
            ",}",
            "expected a key at byte {at+1}, found \"}\"",
        ),
        (
            event_with(r#""seq":3"#, r#""seq":3,"x":[1,]"#),
            ",]",
            "orchestrator_events.x: expected a JSON value at byte {at+1}, found \"]\"",
        ),
        (
            event_with(r#""seq":3"#, r#""seq":3,"x":{"a":1,}"#),
            ",}",
            "orchestrator_events.x: expected a key at byte {at+1}, found \"}\"",
        ),
        (
            event_with(r#""seq":3"#, r#""seq":3,"x":[1 2]"#),
            " 2",
            "orchestrator_events.x: expected \",\" or \"]\" at byte {at+1}, found \"2\"",
        ),
    ];
    for (line, needle, message) in cases {
        let at = line.find(needle).unwrap();
        let message = message
            .replace("{at}", &at.to_string())
            .replace("{at+1}", &(at + 1).to_string())
            .replace("{at+2}", &(at + 2).to_string())
            .replace("{end}", &line.len().to_string());
        assert_eq!(refusal(&line, 11), format!("line 11: {message}"), "{line}");
    }
}

#[test]
fn unknown_values_are_bounded() {
    let many: String = (0..MAX_KEYS).map(|i| format!("\"k{i}\":0,")).collect();
    let line = EVENT.replacen("{\"run_id\"", &format!("{{{many}\"run_id\""), 1);
    assert_eq!(
        refusal(&line, 1),
        format!("line 1: orchestrator_events has more than {MAX_KEYS} keys")
    );
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let line = EVENT.replacen("{\"run_id\"", &format!("{{\"x\":{deep},\"run_id\""), 1);
    assert_eq!(
        refusal(&line, 1),
        "line 1: orchestrator_events.x: value nested more than 32 deep at byte 60"
    );
    let empty = r#"{"x":[],"y":{},"z":[ ],"w":{ },"run_id""#;
    assert_eq!(
        read_event(&EVENT.replacen("{\"run_id\"", empty, 1)),
        read_event(EVENT)
    );
    let fine = format!("{}0{}", "[{\"a\":".repeat(15), "}]".repeat(15));
    let line = EVENT.replacen("{\"run_id\"", &format!("{{\"x\":{fine},\"run_id\""), 1);
    assert_eq!(read_event(&line), read_event(EVENT));
}

#[test]
fn the_end_line_counts_runs_and_events() {
    let line = council_idb::transfer::end_line(3, 12_345);
    assert_eq!(line, r#"{"council_idb_end":{"runs":3,"events":12345}}"#);
    assert_eq!(
        parse_line(&line, 9).unwrap(),
        Some(ExportLine::End {
            runs: 3,
            events: 12_345
        })
    );
    assert!(refusal(r#"{"council_idb_end":{"runs":-1,"events":0}}"#, 4).starts_with("line 4: "));
    assert!(refusal(r#"{"council_idb_end":{"runs":1}}"#, 5).contains("events is missing"));
}
