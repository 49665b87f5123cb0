//! The export/import line format: runs and events as NDJSON in the row
//! shape of the server's SQLite tables.
//!
//! An export is UTF-8 text, one JSON object per line and `\n` after every
//! line. Each object has exactly one key, the tag, the way serde writes an
//! enum by default, so a server can read a line straight into its row
//! structs:
//!
//! ```text
//! {"council_idb_export":{"version":1,"exported_at":"2026-01-03T00:00:00.000Z"}}
//! {"orchestrator_runs":{"id":"…","goal":"…","graph_json":null,"status":"running","hitl_mode":"\"approve_plan\"","conversation_id":null,"created_at":"…","updated_at":"…"}}
//! {"orchestrator_events":{"run_id":"…","seq":0,"event_json":"{\"type\":\"plan_proposed\"}","created_at":"…","wave_index":0}}
//! {"council_idb_end":{"runs":1,"events":1}}
//! ```
//!
//! - The header comes first, tagged `council_idb_export`, with the format
//!   [`version`](EXPORT_VERSION) and the time of the export.
//! - A run is tagged `orchestrator_runs`, an event `orchestrator_events`;
//!   the keys are the columns of the server's tables of those names, in the
//!   order written above.
//! - The last line, tagged `council_idb_end`, counts the runs and events
//!   written, so that a file cut short at a line boundary is told from a
//!   whole one.
//! - `hitl_mode` is written as the server stored it: the JSON text of the
//!   mode, quotes included (the column value `"approve_plan"`), because the
//!   server reads that column with a JSON parser. `status` is the plain name
//!   (`awaiting_approval`); timestamps are written as stored.
//! - Strings are written with `"`, `\` and control characters escaped, and
//!   U+2028 and U+2029 as `\u2028` and `\u2029`, so a line is safe for any
//!   JavaScript consumer; everything else is raw UTF-8.
//!
//! [`parse_line`] reads one line, strictly:
//!
//! - `hitl_mode` quoted (the server's form) or bare (`"approve_plan"`);
//! - timestamps in any RFC 3339 form the store accepts, or in the server's
//!   `YYYY-MM-DD HH:MM:SS` (UTC, SQLite's `datetime('now')`), which is read
//!   as `YYYY-MM-DDTHH:MM:SSZ`;
//! - keys a row does not know are skipped (a server export may carry the
//!   surrogate `id` of an event row), up to [`MAX_KEYS`] keys in all;
//! - a missing column, a wrong JSON type, an integer out of range or
//!   written with a fraction or an exponent, an unknown status or mode, a
//!   duplicate key, an unknown tag, a header of another version, text after
//!   the object, a `\u` escape of a lone UTF-16 surrogate, and anything that
//!   is not JSON (a raw control character in a string, `01`, `NaN`...) are
//!   each a [`Serialization`](RepositoryError::Serialization) error. Its
//!   message starts with `line N: `, names the column (`orchestrator_events.seq`)
//!   and what was expected, and gives the byte offset in the line where
//!   the JSON itself is wrong;
//! - the store's own rules apply (id and size limits, `seq` in
//!   0..=2^53 − 1, `conversation_id` within ±(2^53 − 1)), so a line that
//!   parses holds a value the store accepts.
//!
//! A blank line (nothing but spaces, tabs and a final `\r`) is skipped:
//! [`parse_line`] returns `Ok(None)` for it, as it does for the empty
//! string after the last `\n`. A `\r\n` line end is read as `\n`.
//!
//! Which line comes where is the importer's business: this module reads one
//! line at a time and does not check that the header comes first or that
//! an event's run was on an earlier line.
//!
//! ```
//! use council_idb::transfer::{event_line, parse_line, run_line, ExportLine};
//! use council_idb::{CouncilRun, CouncilRunEvent, HitlMode};
//!
//! let run = CouncilRun::new("Summarise the report", HitlMode::ApprovePlan);
//! let line = run_line(&run);
//! assert!(line.contains(r#""hitl_mode":"\"approve_plan\"""#));
//! assert_eq!(parse_line(&line, 2)?, Some(ExportLine::Run(run.clone())));
//!
//! let event = CouncilRunEvent::new(&run.id, 0, 0, "{\"type\":\"plan_proposed\"}");
//! assert_eq!(parse_line(&event_line(&event), 3)?, Some(ExportLine::Event(event)));
//!
//! let err = parse_line(r#"{"orchestrator_events":{"run_id":"r","seq":-1}}"#, 4).unwrap_err();
//! assert_eq!(err.message(), "line 4: orchestrator_events.seq -1 is outside 0..=9007199254740991");
//! # Ok::<(), council_idb::RepositoryError>(())
//! ```

use crate::domain::{
    check_event, check_new_run, limits, CouncilRun, CouncilRunEvent, CouncilRunStatus, HitlMode,
    RepositoryError, MAX_SAFE_INTEGER,
};
use crate::time::Instant;
use std::fmt::Write;
use std::ops::Range;

/// The format version written in the header; [`parse_line`] reads only this
/// one.
pub const EXPORT_VERSION: u32 = 1;

/// The most keys one row object may hold, known columns and skipped ones
/// together.
pub const MAX_KEYS: usize = 64;

const HEADER_TAG: &str = "council_idb_export";
const RUNS_TAG: &str = "orchestrator_runs";
const EVENTS_TAG: &str = "orchestrator_events";
const END_TAG: &str = "council_idb_end";
/// The tags, in the order of their readers in `read_line`.
const TAGS: [&str; 4] = [HEADER_TAG, RUNS_TAG, EVENTS_TAG, END_TAG];

/// How deep a skipped value (of a key a row does not know) may nest.
const MAX_DEPTH: u32 = 32;

/// One parsed line of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportLine {
    /// The first line of an export.
    Header {
        /// The format version, [`EXPORT_VERSION`].
        version: u32,
        /// When the export was made (RFC 3339).
        exported_at: String,
    },
    /// A row of `orchestrator_runs`.
    Run(CouncilRun),
    /// A row of `orchestrator_events`.
    Event(CouncilRunEvent),
    /// The last line of an export: how many runs and events it holds.
    End {
        /// Rows of `orchestrator_runs` in the export.
        runs: u64,
        /// Rows of `orchestrator_events` in the export.
        events: u64,
    },
}

/// The header line for an export made at `exported_at` (RFC 3339), without
/// the trailing `\n`.
pub fn header_line(exported_at: &str) -> String {
    let mut out = String::new();
    push_header_line(&mut out, exported_at);
    out.pop();
    out
}

/// The end line of an export of `runs` runs and `events` events, without the
/// trailing `\n`.
pub fn end_line(runs: u64, events: u64) -> String {
    let mut out = String::new();
    push_end_line(&mut out, runs, events);
    out.pop();
    out
}

/// The line of a run, without the trailing `\n`.
pub fn run_line(run: &CouncilRun) -> String {
    let mut out = String::new();
    push_run_line(&mut out, run);
    out.pop();
    out
}

/// The line of an event, without the trailing `\n`.
pub fn event_line(event: &CouncilRunEvent) -> String {
    let mut out = String::new();
    push_event_line(&mut out, event);
    out.pop();
    out
}

// The `push_*_line` functions append a line and its `\n` to the text the
// export is building: no `String` per line to allocate and copy. (The
// functions above take the `\n` off again.)

/// Appends [`header_line`] and its `\n`.
pub(crate) fn push_header_line(out: &mut String, exported_at: &str) {
    let mut line = LineWriter::new(out, HEADER_TAG, exported_at.len());
    line.integer("version", i64::from(EXPORT_VERSION));
    line.string("exported_at", exported_at);
    line.finish();
}

/// Appends [`end_line`] and its `\n`.
pub(crate) fn push_end_line(out: &mut String, runs: u64, events: u64) {
    let mut line = LineWriter::new(out, END_TAG, 0);
    line.integer("runs", runs.min(MAX_SAFE_INTEGER as u64) as i64);
    line.integer("events", events.min(MAX_SAFE_INTEGER as u64) as i64);
    line.finish();
}

/// Appends [`run_line`] and its `\n`.
pub(crate) fn push_run_line(out: &mut String, run: &CouncilRun) {
    let graph_len = run.graph_json.as_ref().map_or(0, String::len);
    let mut line = LineWriter::new(out, RUNS_TAG, run.id.len() + run.goal.len() + graph_len);
    line.string("id", &run.id);
    line.string("goal", &run.goal);
    match &run.graph_json {
        Some(graph) => line.string("graph_json", graph),
        None => line.null("graph_json"),
    }
    line.string("status", run.status.as_str());
    // The column holds JSON text, so the value is the mode's JSON string,
    // `"\"approve_plan\""`. A mode's name needs no escaping.
    line.key("hitl_mode");
    line.out.push_str("\"\\\"");
    line.out.push_str(run.hitl_mode.as_str());
    line.out.push_str("\\\"\"");
    match run.conversation_id {
        Some(id) => line.integer("conversation_id", id),
        None => line.null("conversation_id"),
    }
    line.string("created_at", &run.created_at);
    line.string("updated_at", &run.updated_at);
    line.finish();
}

/// Appends [`event_line`] and its `\n`.
pub(crate) fn push_event_line(out: &mut String, event: &CouncilRunEvent) {
    let mut line = LineWriter::new(out, EVENTS_TAG, event.run_id.len() + event.event_json.len());
    line.string("run_id", &event.run_id);
    line.integer("seq", event.seq);
    line.string("event_json", &event.event_json);
    line.string("created_at", &event.created_at);
    line.integer("wave_index", i64::from(event.wave_index));
    line.finish();
}

/// Reads line `line_no` (1-based, used in error messages) of an export.
///
/// A trailing `\n` or `\r\n` is ignored. Returns `Ok(None)` for a blank
/// line. See the [module docs](self) for what is accepted and refused.
pub fn parse_line(line: &str, line_no: u64) -> Result<Option<ExportLine>, RepositoryError> {
    let line = without_last(line, b'\n');
    let line = without_last(line, b'\r');
    // A loop: `all` compiles a fold of its own.
    let mut blank = true;
    for b in line.bytes() {
        if !matches!(b, b' ' | b'\t') {
            blank = false;
            break;
        }
    }
    if blank {
        return Ok(None);
    }
    read_line(line)
        .map(Some)
        .map_err(|fault| RepositoryError::Serialization(on_line(line_no, &fault)))
}

/// `text` without its last byte if that is `byte`, an ASCII one. (Byte
/// tests here and below: `strip_suffix` and `strip_prefix` with a `char`
/// compile a pattern search each.)
fn without_last(text: &str, byte: u8) -> &str {
    match text.as_bytes().last() {
        Some(&last) if last == byte => part(text, 0..text.len() - 1),
        _ => text,
    }
}

/// `line N: message`, for a message made apart (a parse failure's, or one
/// without values in it).
pub(crate) fn on_line(line: u64, message: &str) -> String {
    format!("line {line}: {message}")
}

// ---------------------------------------------------------------- writing

/// Writes one line, `{"tag":{"key":value,...}}` and `\n`, into `out`.
struct LineWriter<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> LineWriter<'o> {
    /// Starts the line; `text_len` is about how long its texts are.
    fn new(out: &'o mut String, tag: &str, text_len: usize) -> Self {
        out.reserve(text_len + 256);
        out.push_str("{\"");
        out.push_str(tag);
        out.push_str("\":{");
        LineWriter { out, first: true }
    }

    fn key(&mut self, name: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
    }

    fn string(&mut self, name: &str, value: &str) {
        self.key(name);
        push_json_string(self.out, value);
    }

    fn integer(&mut self, name: &str, value: i64) {
        self.key(name);
        // Into the line itself: `to_string` would allocate a String.
        let _ = write!(self.out, "{value}");
    }

    fn null(&mut self, name: &str) {
        self.key(name);
        self.out.push_str("null");
    }

    /// Ends the line, `\n` included.
    fn finish(self) {
        self.out.push_str("}}\n");
    }
}

/// `text[range]`, or `""` where `range` does not fall on character
/// boundaries (never, for the positions kept here). Slicing with `[]`
/// brings its panic message's formatting, ~4 KB of wasm. A `Range`, not any
/// `SliceIndex`, so that it is compiled once: `a..` is spelt
/// `a..text.len()`.
fn part(text: &str, range: Range<usize>) -> &str {
    text.get(range).unwrap_or("")
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut plain_from = 0;
    for (at, c) in text.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            '\u{2028}' => "\\u2028",
            '\u{2029}' => "\\u2029",
            c if c < ' ' => "",
            _ => continue,
        };
        out.push_str(part(text, plain_from..at));
        if escape.is_empty() {
            // Other control characters: \u00XX.
            out.push_str("\\u00");
            out.push(char::from(HEX[c as usize >> 4]));
            out.push(char::from(HEX[c as usize & 0xf]));
        } else {
            out.push_str(escape);
        }
        plain_from = at + c.len_utf8();
    }
    out.push_str(part(text, plain_from..text.len()));
    out.push('"');
}

// ---------------------------------------------------------------- reading

/// A parse failure's message, without the `line N: ` prefix.
type Fault = String;

fn read_line(line: &str) -> Result<ExportLine, Fault> {
    let mut p = Parser { text: line, pos: 0 };
    p.expect(b'{', "\"{\" opening the line's object")?;
    if p.peek() != Some(b'"') {
        return Err(p.unexpected(
            "a tag (\"orchestrator_runs\", \"orchestrator_events\", \"council_idb_export\" or \"council_idb_end\")",
        ));
    }
    let tag_at = p.pos;
    let tag = p.string()?;
    // The table, and which reader reads it: its place in `TAGS`, found by
    // one comparison in a loop rather than one per name.
    let mut reader = 0;
    while TAGS.get(reader).is_some_and(|known| *known != tag) {
        reader += 1;
    }
    let Some(&table) = TAGS.get(reader) else {
        return Err(format!(
            "unknown tag {} at byte {tag_at} (expected orchestrator_runs, \
             orchestrator_events, council_idb_export or council_idb_end)",
            shown(&tag)
        ));
    };
    p.expect(b':', "\":\" after the tag")?;
    let mut row = p.row(table)?;
    p.skip_ws();
    if p.peek() == Some(b',') {
        return Err(format!(
            "a second key at byte {}; a line holds one tagged object",
            p.pos
        ));
    }
    p.expect(b'}', "\"}\" closing the line's object")?;
    if p.pos < line.len() {
        return Err(format!("text after the object at byte {}", p.pos));
    }
    // The row is read in place and dropped here, once, whichever reader
    // fails: each early return dropping its own values costs wasm.
    match reader {
        0 => read_header(&mut row),
        1 => read_run(&mut row),
        2 => read_event(&mut row),
        _ => read_end(&mut row),
    }
}

fn read_header(row: &mut Row<'_>) -> Result<ExportLine, Fault> {
    let version = row.integer("version", i64::MIN, i64::MAX)?;
    if version != i64::from(EXPORT_VERSION) {
        return Err(format!(
            "export version {version} is not supported (this build reads version {EXPORT_VERSION})"
        ));
    }
    let mut exported_at = String::new();
    row.timestamp("exported_at", &mut exported_at)?;
    Ok(ExportLine::Header {
        version: EXPORT_VERSION,
        exported_at,
    })
}

fn read_end(row: &mut Row<'_>) -> Result<ExportLine, Fault> {
    let runs = row.integer("runs", 0, MAX_SAFE_INTEGER)? as u64;
    let events = row.integer("events", 0, MAX_SAFE_INTEGER)? as u64;
    Ok(ExportLine::End { runs, events })
}

fn read_run(row: &mut Row<'_>) -> Result<ExportLine, Fault> {
    // Columns are read into a run made empty here, so that a failure drops
    // that one value rather than the columns read before it, each.
    let mut run = CouncilRun {
        id: String::new(),
        goal: String::new(),
        graph_json: None,
        status: CouncilRunStatus::Running,
        hitl_mode: HitlMode::None,
        conversation_id: None,
        created_at: String::new(),
        updated_at: String::new(),
    };
    run_columns(row, &mut run)?;
    check_new_run(&run).map_err(|e| e.message().to_owned())?;
    Ok(ExportLine::Run(run))
}

fn run_columns(row: &mut Row<'_>, run: &mut CouncilRun) -> Result<(), Fault> {
    row.string("id", &mut run.id)?;
    row.string("goal", &mut run.goal)?;
    run.graph_json = row.optional_string("graph_json")?;
    // One buffer for the names of the status and the mode.
    let mut name = String::new();
    row.string("status", &mut name)?;
    // The names are written out in the messages: lists built from `ALL`
    // compiled to more (a test checks them against the enums).
    run.status = CouncilRunStatus::parse(&name).ok_or_else(|| {
        format!(
            "{RUNS_TAG}.status {} is not a run status (expected running, awaiting_approval, \
             interrupted, completed or failed)",
            shown(&name),
        )
    })?;
    row.string("hitl_mode", &mut name)?;
    // The server's column holds the mode as JSON text: `"approve_plan"`.
    let bare = match name.as_bytes() {
        [b'"', .., b'"'] => part(&name, 1..name.len() - 1),
        _ => &name,
    };
    run.hitl_mode = HitlMode::parse(bare).ok_or_else(|| {
        format!(
            "{RUNS_TAG}.hitl_mode {} is not a hitl mode (expected none, approve_plan, \
             approve_each_node or approve_tools, bare or as a JSON string)",
            shown(&name),
        )
    })?;
    run.conversation_id = row.optional_integer("conversation_id", i64::MIN, i64::MAX)?;
    row.timestamp("created_at", &mut run.created_at)?;
    row.timestamp("updated_at", &mut run.updated_at)?;
    Ok(())
}

fn read_event(row: &mut Row<'_>) -> Result<ExportLine, Fault> {
    // As for a run: one value to drop on a failure.
    let mut event = CouncilRunEvent {
        run_id: String::new(),
        seq: 0,
        event_json: String::new(),
        created_at: String::new(),
        wave_index: 0,
    };
    event_columns(row, &mut event)?;
    check_event(&event).map_err(|e| e.message().to_owned())?;
    Ok(ExportLine::Event(event))
}

fn event_columns(row: &mut Row<'_>, event: &mut CouncilRunEvent) -> Result<(), Fault> {
    row.string("run_id", &mut event.run_id)?;
    if event.run_id.is_empty() || event.run_id.len() > limits::ID_BYTES {
        return Err(format!(
            "{EVENTS_TAG}.run_id is {} bytes; a run id has 1 to {} bytes",
            event.run_id.len(),
            limits::ID_BYTES
        ));
    }
    event.seq = row.integer("seq", 0, MAX_SAFE_INTEGER)?;
    row.string("event_json", &mut event.event_json)?;
    row.timestamp("created_at", &mut event.created_at)?;
    // In range: read as 0..=u32::MAX.
    event.wave_index = row.integer("wave_index", 0, i64::from(u32::MAX))? as u32;
    Ok(())
}

/// `text` as a JSON string, for a message; cut after 40 characters. (Not
/// `{:?}`: Debug formatting would add a kilobyte to the wasm module.)
fn shown(text: &str) -> String {
    let mut quoted = String::new();
    match text.char_indices().nth(40) {
        Some((cut, _)) => {
            push_json_string(&mut quoted, part(text, 0..cut));
            quoted.push('…');
        }
        None => push_json_string(&mut quoted, text),
    }
    quoted
}

/// A JSON value of a row. Strings are decoded; numbers keep their text so
/// that integers are read exactly.
enum Value<'a> {
    Null,
    Bool,
    String(String),
    Number { text: &'a str, integer: bool },
    Array,
    Object,
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool => "a boolean",
            Value::String(_) => "a string",
            Value::Number { integer: true, .. } => "an integer",
            Value::Number { .. } => "a number with a fraction or an exponent",
            Value::Array => "an array",
            Value::Object => "an object",
        }
    }
}

/// The keys and values of one row object, taken out column by column.
struct Row<'a> {
    table: &'static str,
    fields: Vec<(String, Value<'a>)>,
}

impl<'a> Row<'a> {
    /// Refuses `key` (at byte `key_at`) when the row has it already or is
    /// full.
    fn check_key(&self, key: &str, key_at: usize) -> Result<(), Fault> {
        if self.find(key).is_some() {
            return Err(format!("duplicate key {} at byte {key_at}", shown(key)));
        }
        if self.fields.len() == MAX_KEYS {
            return Err(format!("{} has more than {MAX_KEYS} keys", self.table));
        }
        Ok(())
    }

    /// Adds `key` and its value as read, or names the key in the fault.
    fn add(&mut self, key: String, value: Result<Value<'a>, Fault>) -> Result<(), Fault> {
        let value = value.map_err(|fault| format!("{}.{key}: {fault}", self.table))?;
        self.fields.push((key, value));
        Ok(())
    }

    /// Where `key` is in `fields`. (One loop for the look-up of a column
    /// and the check for a repeated key; an index loop, as `position`
    /// compiled to more.)
    fn find(&self, key: &str) -> Option<usize> {
        let mut i = 0;
        while let Some((k, _)) = self.fields.get(i) {
            if k == key {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    fn take(&mut self, column: &str) -> Result<Value<'a>, Fault> {
        match self.find(column) {
            Some(i) => Ok(self.fields.swap_remove(i).1),
            None => Err(format!("{}.{column} is missing", self.table)),
        }
    }

    fn wrong_type(&self, column: &str, expected: &str, got: &Value<'_>) -> Fault {
        format!(
            "{}.{column} must be {expected}, got {}",
            self.table,
            got.kind()
        )
    }

    /// The value of `column`, a string, or an integer where `integer`;
    /// `null` too where `nullable`, as `None`. (One function for the four
    /// kinds of column: each costs wasm.)
    fn typed(
        &mut self,
        column: &str,
        integer: bool,
        nullable: bool,
    ) -> Result<Option<Value<'a>>, Fault> {
        let value = self.take(column)?;
        let fits = match value {
            Value::Null if nullable => return Ok(None),
            Value::String(_) => !integer,
            Value::Number { integer: whole, .. } => integer && whole,
            _ => false,
        };
        if fits {
            return Ok(Some(value));
        }
        const EXPECTED: [[&str; 2]; 2] = [
            ["a string", "a string or null"],
            ["an integer", "an integer or null"],
        ];
        Err(self.wrong_type(
            column,
            EXPECTED[usize::from(integer)][usize::from(nullable)],
            &value,
        ))
    }

    /// A string column; `null` too where `nullable`, as `None`.
    fn text(&mut self, column: &str, nullable: bool) -> Result<Option<String>, Fault> {
        Ok(match self.typed(column, false, nullable)? {
            Some(Value::String(text)) => Some(text),
            _ => None,
        })
    }

    fn optional_string(&mut self, column: &str) -> Result<Option<String>, Fault> {
        self.text(column, true)
    }

    /// A string column, into `to`: the field it is for, so that the old
    /// value is dropped here rather than in each reader.
    fn string(&mut self, column: &str, to: &mut String) -> Result<(), Fault> {
        // Never `None`: not nullable.
        *to = self.text(column, false)?.unwrap_or_default();
        Ok(())
    }

    /// A timestamp, into `to`: RFC 3339 as given, or the server's
    /// `YYYY-MM-DD HH:MM:SS` as `YYYY-MM-DDTHH:MM:SSZ`.
    fn timestamp(&mut self, column: &str, to: &mut String) -> Result<(), Fault> {
        self.string(column, to)?;
        if Instant::parse(to).is_some() {
            return Ok(());
        }
        if to.len() == 19 && to.as_bytes()[10] == b' ' {
            // Pushed rather than formatted: no formatting for two pieces.
            let mut utc = String::from(part(to, 0..10));
            utc.push('T');
            utc.push_str(part(to, 11..19));
            utc.push('Z');
            if Instant::parse(&utc).is_some() {
                *to = utc;
                return Ok(());
            }
        }
        Err(format!(
            "{}.{column} {} is neither an RFC 3339 timestamp nor YYYY-MM-DD HH:MM:SS",
            self.table,
            shown(to)
        ))
    }

    /// An integer column in `min..=max`; `null` too where `nullable`, as
    /// `None`.
    fn number(
        &mut self,
        column: &str,
        min: i64,
        max: i64,
        nullable: bool,
    ) -> Result<Option<i64>, Fault> {
        match self.typed(column, true, nullable)? {
            Some(Value::Number { text, .. }) => self.in_range(column, text, min, max).map(Some),
            _ => Ok(None),
        }
    }

    fn optional_integer(&mut self, column: &str, min: i64, max: i64) -> Result<Option<i64>, Fault> {
        self.number(column, min, max, true)
    }

    fn integer(&mut self, column: &str, min: i64, max: i64) -> Result<i64, Fault> {
        // Never `None`: not nullable.
        self.number(column, min, max, false)
            .map(Option::unwrap_or_default)
    }

    fn in_range(&self, column: &str, text: &str, min: i64, max: i64) -> Result<i64, Fault> {
        match parse_i64(text) {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            _ => {
                // Digits are ASCII, so any byte index is a char boundary.
                let (head, more) = if text.len() > 40 {
                    (part(text, 0..40), "…")
                } else {
                    (text, "")
                };
                Err(format!(
                    "{}.{column} {head}{more} is outside {min}..={max}",
                    self.table
                ))
            }
        }
    }
}

/// The value of an integer token (`-?[0-9]+`), or `None` outside the i64
/// range. (`str::parse` would pull 128-bit multiplication into the wasm
/// module for its overflow check.)
pub(crate) fn parse_i64(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, part(text, 1..text.len())),
        _ => (false, text),
    };
    let limit = i64::MAX as u64 + u64::from(negative);
    let mut magnitude: u64 = 0;
    for b in digits.bytes() {
        let digit = u64::from(b.wrapping_sub(b'0'));
        if digit > 9 || magnitude > (limit - digit) / 10 {
            return None;
        }
        magnitude = magnitude * 10 + digit;
    }
    // For i64::MIN the magnitude is 2^63, whose cast is i64::MIN itself.
    let value = magnitude as i64;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A strict JSON reader over one line, for the flat objects of this format.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// Inlined: a call returns the `Option` through memory, which costs
    /// more at each of the many places that peek than the look itself.
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// "expected X at byte N, found Y".
    fn unexpected(&self, expected: &str) -> Fault {
        let found = match self.char_at(self.pos) {
            Some(c) => shown(c),
            None => "the end of the line".into(),
        };
        format!("expected {expected} at byte {}, found {found}", self.pos)
    }

    /// The character at byte `at` (a character boundary), as text; `None`
    /// at the end. (One function for the three messages that show one.)
    fn char_at(&self, at: usize) -> Option<&'a str> {
        let rest = part(self.text, at..self.text.len());
        let c = rest.chars().next()?;
        Some(part(rest, 0..c.len_utf8()))
    }

    /// `byte`, with any whitespace before and after it (where the format
    /// allows whitespace around each of its bytes: one call rather than
    /// three at each place).
    fn expect(&mut self, byte: u8, expected: &str) -> Result<(), Fault> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            self.skip_ws();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// The object of one row: a key may appear once, and at most
    /// [`MAX_KEYS`] of them.
    fn row(&mut self, table: &'static str) -> Result<Row<'a>, Fault> {
        if self.peek() != Some(b'{') {
            return Err(self.unexpected(&format!("\"{{\" opening the {table} object")));
        }
        let mut row = Row {
            table,
            fields: Vec::new(),
        };
        self.members(b'}', 0, Some(&mut row))?;
        Ok(row)
    }

    fn value(&mut self, depth: u32) -> Result<Value<'a>, Fault> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            // One call for the three words.
            Some(first @ (b'n' | b't' | b'f')) => {
                let (word, value) = match first {
                    b'n' => ("null", Value::Null),
                    b't' => ("true", Value::Bool),
                    _ => ("false", Value::Bool),
                };
                self.literal(word, value)
            }
            Some(b'{' | b'[') if depth == MAX_DEPTH => Err(format!(
                "value nested more than {MAX_DEPTH} deep at byte {}",
                self.pos
            )),
            // One call for both: each is inlined code. (`}` and `]` are two
            // after `{` and `[` in ASCII.)
            Some(open @ (b'{' | b'[')) => {
                self.members(open + 2, depth + 1, None)?;
                Ok(if open == b'{' {
                    Value::Object
                } else {
                    Value::Array
                })
            }
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    /// The members of the object (`close` is `}`) or array (`]`) whose
    /// opening bracket is next, their values at `depth`. The values of a
    /// row's object are kept in `row`; those of a nested value are checked
    /// and dropped. One loop for all three: each copy costs wasm.
    fn members(
        &mut self,
        close: u8,
        depth: u32,
        mut row: Option<&mut Row<'a>>,
    ) -> Result<(), Fault> {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            // An object's key, checked against the row's keys when it is
            // the row's; then the value, read by one call in all three
            // cases (each call site of `value` costs wasm).
            let mut key = None;
            if close == b'}' {
                if self.peek() != Some(b'"') {
                    return Err(self.unexpected("a key"));
                }
                let key_at = self.pos;
                let name = self.string()?;
                self.expect(b':', "\":\" after a key")?;
                if let Some(row) = row.as_deref() {
                    row.check_key(&name, key_at)?;
                }
                key = Some(name);
            }
            let value = self.value(depth);
            match (row.as_deref_mut(), key) {
                (Some(row), Some(key)) => row.add(key, value)?,
                _ => drop(value?),
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => {
                    return Err(self.unexpected(if close == b']' {
                        "\",\" or \"]\""
                    } else {
                        "\",\" or \"}\""
                    }))
                }
            }
        }
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, Fault> {
        if part(self.text, self.pos..self.text.len()).starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<Value<'a>, Fault> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else {
            self.required_digits()?;
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            self.required_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.required_digits()?;
        }
        Ok(Value::Number {
            text: part(self.text, start..self.pos),
            integer,
        })
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), Fault> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.unexpected("a digit"));
        }
        self.digits();
        Ok(())
    }

    /// A string whose `"` is next, unescaped.
    fn string(&mut self) -> Result<String, Fault> {
        self.pos += 1;
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        let mut plain_from = self.pos;
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                return Err(format!("unterminated string at byte {}", self.pos));
            };
            match b {
                // The text before the end or an escape: one push for both.
                b'"' | b'\\' => {
                    out.push_str(part(self.text, plain_from..self.pos));
                    if b == b'"' {
                        self.pos += 1;
                        return Ok(out);
                    }
                    out.push(self.escape()?);
                    plain_from = self.pos;
                }
                0..=0x1f => {
                    return Err(format!(
                        "unescaped control character {} in a string at byte {}",
                        shown(self.char_at(self.pos).unwrap_or_default()),
                        self.pos
                    ))
                }
                _ => self.pos += 1,
            }
        }
    }

    /// The character of the escape whose `\` is next; moves past it. (The
    /// caller pushes it: each `String::push` of a `char` is its own UTF-8
    /// encoder.)
    fn escape(&mut self) -> Result<char, Fault> {
        let at = self.pos;
        self.pos = at + 2;
        Ok(match self.text.as_bytes().get(at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = self.hex4(at)?;
                let mut code = unit;
                // A high surrogate and a low one after it make one char.
                // (Surrogates by their top six bits: 0xd800..=0xdbff high,
                // 0xdc00..=0xdfff low; `contains` is a call of its own.)
                if unit & 0xfc00 == 0xd800
                    && part(self.text, self.pos..self.text.len()).starts_with("\\u")
                {
                    let low = self.hex4(self.pos)?;
                    if low & 0xfc00 == 0xdc00 {
                        code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                    }
                }
                // A surrogate left alone is not a char.
                return char::from_u32(code)
                    .ok_or_else(|| lone_surrogate(part(self.text, at..at + 6), at));
            }
            _ => {
                return Err(match self.char_at(at + 1) {
                    Some(c) => format!("invalid escape \\{c} at byte {at}"),
                    None => format!("unterminated string at byte {}", self.text.len()),
                });
            }
        })
    }

    /// The code unit of the `\uXXXX` at `at`; moves past it.
    fn hex4(&mut self, at: usize) -> Result<u32, Fault> {
        // An index loop: a fold over the digits compiled to more.
        let mut unit = 0;
        let mut i = at + 2;
        while i < at + 6 {
            let digit = self.text.as_bytes().get(i);
            match digit.and_then(|&h| char::from(h).to_digit(16)) {
                Some(value) => unit = unit * 16 + value,
                None => {
                    return Err(format!(
                        "\\u at byte {at} is not followed by four hex digits"
                    ))
                }
            }
            i += 1;
        }
        self.pos = at + 6;
        Ok(unit)
    }
}

fn lone_surrogate(escape: &str, at: usize) -> Fault {
    format!(
        "{escape} at byte {at} is a lone UTF-16 surrogate; the store keeps text as UTF-8, \
         which cannot hold one"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a, b or c`.
    fn listed(names: &[&str]) -> String {
        let (last, rest) = names.split_last().unwrap();
        format!("{} or {last}", rest.join(", "))
    }

    /// The names a wrong status or mode's message lists, written out in
    /// `run_columns`, are those of the enums.
    #[test]
    fn listed_names_are_the_enums() {
        let run = run_line(&CouncilRun::new("g", HitlMode::None));
        let status = parse_line(&run.replace("\"running\"", "\"x\""), 1).unwrap_err();
        let statuses = listed(&CouncilRunStatus::ALL.map(CouncilRunStatus::as_str));
        assert!(status
            .message()
            .ends_with(&format!("(expected {statuses})")));
        let mode = parse_line(&run.replace("\\\"none\\\"", "x"), 1).unwrap_err();
        let modes = listed(&HitlMode::ALL.map(HitlMode::as_str));
        let expected = format!("(expected {modes}, bare or as a JSON string)");
        assert!(mode.message().ends_with(&expected), "{}", mode.message());
    }
}
