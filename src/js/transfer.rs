//! `exportRuns` and `importRuns`: runs out as NDJSON in the server's row
//! shape and back in (the lines themselves: [`crate::transfer`]). Both
//! stream: export reads a run's log a page at a time, import writes a run's
//! events in batches, so neither holds a whole file.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;

use super::{
    array_items, js_error, promise, rejected, string_arg, Backend, CouncilStore, Fields, Notices,
};
use crate::domain::{limits, CouncilRun, CouncilRunEvent, RepositoryError};
use crate::time::now_rfc3339;
use crate::transfer::{
    on_line, parse_i64, parse_line, push_end_line, push_event_line, push_header_line,
    push_run_line, ExportLine,
};
use crate::vec_map::VecMap;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = exportStream)]
    fn export_stream(next: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = importLines)]
    fn import_lines(input: &JsValue, importer: &JsValue) -> Promise;
    /// `{ runs, events }`, made in one call rather than an object and a
    /// property set per field from here.
    #[wasm_bindgen(js_name = importCounts)]
    fn import_counts(runs: f64, events: f64) -> JsValue;
}

/// Export hands out chunks of about this many bytes.
const CHUNK_BYTES: usize = 256 * 1024;
/// Events read per transaction when exporting.
const PAGE: u32 = 1000;
/// Events written per transaction when importing: a run with at most this
/// many is imported in one `appendEvents` after its `createRun`.
const WRITE_EVENTS: usize = 5000;

#[wasm_bindgen]
impl CouncilStore {
    /// The runs (all, oldest first, or those of `runIds` in that order, each
    /// once) as a `ReadableStream` of UTF-8 NDJSON: a header line, then each
    /// run's row followed by its events' rows in `seq` order, then an end
    /// line with the counts. Rows carry the server tables' column names
    /// (`orchestrator_runs`, `orchestrator_events`). The stream fails with
    /// `NotFound` for an unknown id in `runIds`. Each page of a run's log is
    /// read in one transaction: export a run nobody is writing for an exact
    /// copy.
    #[wasm_bindgen(js_name = exportRuns, unchecked_return_type = "ReadableStream<Uint8Array>")]
    pub fn export_runs(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "{ runIds?: string[] }")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let wanted = export_options(options).map_err(js_error)?;
        let export = Export {
            repo: self.repo(),
            wanted,
            runs: Vec::new(),
            listed: false,
            current: None,
            runs_out: 0,
            events_out: 0,
            ended: false,
        };
        let state = Rc::new(RefCell::new(export));
        // Of the signature of a watcher's reader, `(number) => Promise`,
        // though called without an argument: each closure signature adds its
        // own adapters to the module.
        let next = Closure::<dyn FnMut(f64) -> Promise>::new(move |_: f64| {
            promise(Export::chunk(state.clone()))
        });
        Ok(export_stream(&next.into_js_value()))
    }

    /// Reads what `exportRuns` wrote (a string, a `Blob`, bytes or a
    /// `ReadableStream` of bytes or strings) into this store and resolves to
    /// `{ runs, events }`, the numbers of rows read. A run absent here is
    /// created with its events; a run stored already must have the same
    /// values, and its events are added (an event stored with the same
    /// content is a no-op), so importing a file twice changes nothing.
    /// Rejects with `Serialization` for a malformed line, `Constraint` for a
    /// conflicting event or run, both naming the line; the run being read
    /// when it fails is left as it was (a run this import created is
    /// deleted), and runs before it stay imported.
    #[wasm_bindgen(
        js_name = importRuns,
        unchecked_return_type = "Promise<{ runs: number; events: number }>"
    )]
    pub fn import_runs(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "string | Blob | ArrayBuffer | ArrayBufferView | ReadableStream<Uint8Array | string>"
        )]
        input: JsValue,
    ) -> Promise {
        let importer = Importer {
            state: Rc::new(RefCell::new(Import {
                repo: self.repo(),
                notices: self.notices(),
                header: false,
                ended: false,
                read: VecMap::default(),
                section: None,
                runs: 0,
                events: 0,
            })),
        };
        // The line number counts here, so the closure's `u32` is only
        // whether to abandon (the signature of `slow_reads`: each closure
        // signature adds its own adapters to the module, and an exported
        // class its own JavaScript class and shims). Errors come back as a
        // rejected promise, which `importLines` awaits.
        let mut number = 0;
        let line = Closure::<dyn FnMut(u32, JsValue) -> Promise>::new(
            move |abandon: u32, text: JsValue| {
                if abandon != 0 {
                    return importer.abandon();
                }
                let done = if text.is_undefined() {
                    importer.counts(number)
                } else {
                    number += 1;
                    importer.read(&text, number)
                };
                match done {
                    Ok(value) => value.unchecked_into(),
                    Err(e) => rejected(e),
                }
            },
        );
        import_lines(&input, &line.into_js_value())
    }
}

/// `{ runIds }` of `exportRuns`.
fn export_options(options: JsValue) -> Result<Option<Vec<String>>, RepositoryError> {
    // A plain `JsValue` rather than an `Option`, absent when `null` or
    // `undefined` as an `Option` would be: no externref table slot taken in
    // JavaScript and given back in wasm.
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    let f = Fields::new(&options, "exportRuns options", &["runIds"])?;
    let Some(ids) = f.optional("runIds", false)? else {
        return Ok(None);
    };
    if !Array::is_array(&ids) {
        return Err(RepositoryError::Constraint(
            "exportRuns options.runIds must be an array of run ids".into(),
        ));
    }
    // A loop rather than collecting `Result`s: that adapter is compiled
    // for this one use. By index: `Array::iter` is code of its own.
    let mut wanted = Vec::new();
    let items = array_items(&ids, "exportRuns options.runIds")?;
    for i in 0..items.length() {
        wanted.push(string_arg(
            &items.get(i),
            &"exportRuns options.runIds[]",
            limits::ID_BYTES,
        )?);
    }
    Ok(Some(wanted))
}

struct Export {
    repo: Rc<dyn Backend>,
    wanted: Option<Vec<String>>,
    /// The runs not written yet, the next one last, listed by the first
    /// chunk, which writes the header and sets `listed`.
    runs: Vec<CouncilRun>,
    listed: bool,
    /// The run whose events are being written, and the next seq to read.
    current: Option<(String, i64)>,
    runs_out: u64,
    events_out: u64,
    /// Whether the end line was written: the next chunk is `undefined`.
    ended: bool,
}

impl Export {
    /// The next lines, about [`CHUNK_BYTES`] of them, as a string (which
    /// `exportStream` encodes as UTF-8); `undefined` at the end.
    ///
    /// The export stays borrowed in `state` for the whole chunk, across its
    /// awaits: the stream pulls a chunk only once the one before it is
    /// read, never two at once, and nothing else reaches it. (Taking it out
    /// and putting it back compiled to more. After a failure it is not read
    /// again: the stream it feeds has failed. One future for the whole
    /// pull: each future nested in another costs wasm.)
    #[allow(clippy::await_holding_refcell_ref)] // never two chunks at once
    async fn chunk(state: Rc<RefCell<Export>>) -> Result<JsValue, RepositoryError> {
        let mut borrowed = state.borrow_mut();
        let export = &mut *borrowed;
        if export.ended {
            return Ok(JsValue::UNDEFINED);
        }
        let mut out = String::new();
        if !export.listed {
            push_header_line(&mut out, &now_rfc3339());
            // The runs to export, read here rather than in an async fn of
            // their own: a nested future costs wasm.
            let runs = match &export.wanted {
                // Newest first: the oldest is popped first.
                None => export.repo.list_runs(None).await?,
                Some(ids) => {
                    let mut runs: Vec<CouncilRun> = Vec::with_capacity(ids.len());
                    for id in ids {
                        // An id given twice is exported once, where it
                        // first comes: a file holding a run twice is one
                        // importRuns refuses. (A plain search: a sort or a
                        // map compiled to more.)
                        let mut seen = false;
                        for run in &runs {
                            seen |= run.id == *id;
                        }
                        if seen {
                            continue;
                        }
                        match export.repo.get_run(id).await? {
                            Some(run) => runs.push(run),
                            None => return Err(crate::domain::run_not_found(id)),
                        }
                    }
                    runs.reverse();
                    runs
                }
            };
            export.runs = runs;
            export.listed = true;
        }
        while out.len() < CHUNK_BYTES {
            if let Some((run_id, from)) = &mut export.current {
                // A page of events from `from` on; a full page may have more
                // after it. (The run stays in place across the await rather
                // than being taken out and put back.)
                let events = export.repo.list_events_page(run_id, *from, PAGE).await?;
                for event in &events {
                    push_event_line(&mut out, event);
                }
                export.events_out += events.len() as u64;
                match events.last() {
                    Some(last) if events.len() == PAGE as usize => *from = last.seq + 1,
                    _ => export.current = None,
                }
                continue;
            }
            match export.runs.pop() {
                Some(run) => {
                    push_run_line(&mut out, &run);
                    export.runs_out += 1;
                    export.current = Some((run.id, 0));
                }
                None => {
                    push_end_line(&mut out, export.runs_out, export.events_out);
                    export.ended = true;
                    break;
                }
            }
        }
        drop(borrowed);
        // As a string, which `exportStream` encodes: passing text is in
        // the module already, where bytes brought a binding of their own.
        Ok(JsValue::from_str(&out))
    }
}

/// What `importRuns` feeds the lines of its input to (see `src/glue.js`).
struct Importer {
    state: Rc<RefCell<Import>>,
}

struct Import {
    repo: Rc<dyn Backend>,
    notices: Notices,
    header: bool,
    ended: bool,
    /// Each run read so far: its line, and the run's section until its
    /// events come. (One map rather than a map of lines and one of runs
    /// waiting: each value type compiles the map's methods again.)
    read: VecMap<String, (u64, Option<Section>)>,
    /// The run whose events are being read.
    section: Option<Section>,
    runs: u64,
    events: u64,
}

/// One run of the input: its row, and its events not written yet.
struct Section {
    run: CouncilRun,
    line: u64,
    /// Whether the stored run was looked at (and created if absent).
    checked: bool,
    /// Whether this import created the run (and deletes it if it fails).
    created: bool,
    /// The last seq read, and its line.
    last: Option<(i64, u64)>,
    events: Vec<CouncilRunEvent>,
    /// The seq and line of each of `events`, to name the line a batch
    /// error is about; kept while the batch is written.
    lines: Vec<(i64, u64)>,
}

/// A `Constraint` error about line `line`, for a message of its own. A
/// message with values in it is one `format!` with `line N: ` at its head:
/// formatting it apart and then prefixing it costs more.
fn at_line(line: u64, message: &str) -> RepositoryError {
    RepositoryError::Constraint(on_line(line, message))
}

impl Importer {
    /// The import failed: the run being read, or the one a write failed on
    /// (which [`write`](Self::write) leaves as the run being read), is put
    /// back as it was (deleted if this import created it).
    fn abandon(&self) -> Promise {
        let state = self.state.clone();
        // The section is read in place, the import borrowed across the
        // await: `importLines` calls this last, with no write under way.
        // (Moving the section into the future compiled to more.)
        #[allow(clippy::await_holding_refcell_ref)] // the last call
        promise(async move {
            let import = state.borrow();
            if let Some(section) = import.section.as_ref().filter(|s| s.created) {
                let _ = import.repo.delete_run(&section.run.id).await;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// What the import's closure returns at the end of the input, after
    /// line `last`.
    fn counts(&self, last: u64) -> Result<JsValue, RepositoryError> {
        let import = self.state.borrow();
        if !import.header {
            return Err(RepositoryError::Serialization(
                "the input is empty: no council-idb export header".into(),
            ));
        }
        if !import.ended {
            // `last` as an integer: formatting an f64 would pull ~20 KB of
            // float printing into the module.
            return Err(RepositoryError::Serialization(format!(
                "the input ends at line {last} without its end line: it is truncated"
            )));
        }
        Ok(import_counts(import.runs as f64, import.events as f64))
    }

    fn read(&self, text: &JsValue, number: u64) -> Result<JsValue, RepositoryError> {
        // The text is dropped once parsed, not on each way out below.
        let line = parse_line(
            &string_arg(text, &format_args!("line {number}"), usize::MAX)?,
            number,
        )?;
        let Some(line) = line else {
            return Ok(JsValue::UNDEFINED);
        };
        let mut import = self.state.borrow_mut();
        if import.ended {
            return Err(at_line(number, "a line after the end line"));
        }
        // What the line completes, to write, and whether the last of it
        // stays the run being read: one call of `write` for every kind of
        // line.
        let (sections, keep) = match line {
            ExportLine::Header { .. } if import.header => {
                return Err(at_line(number, "a second header line"))
            }
            ExportLine::Header { .. } => {
                import.header = true;
                return Ok(JsValue::UNDEFINED);
            }
            _ if !import.header => {
                return Err(RepositoryError::Serialization(on_line(
                    number,
                    "the input does not start with a council-idb export header",
                )))
            }
            ExportLine::Run(run) => {
                // One look-up: an entry of an earlier line is a repeat.
                let (first, waiting) = import
                    .read
                    .get_or_insert_with(run.id.clone(), || (number, None));
                if *first != number {
                    return Err(RepositoryError::Constraint(format!(
                        "line {number}: run \"{}\" appears a second time (first at line {first})",
                        run.id
                    )));
                }
                *waiting = Some(Section::new(run, number));
                import.runs += 1;
                // A run's line ends the events of the run before it.
                (one(import.section.take()), false)
            }
            ExportLine::Event(event) => {
                // The run whose events this event ends, if any.
                let mut done = None;
                if import
                    .section
                    .as_ref()
                    .is_none_or(|s| s.run.id != event.run_id)
                {
                    // The first event of a run read earlier: the events of
                    // the run before it are complete.
                    let (line, section) = match import.read.get_mut(&event.run_id) {
                        Some((line, section)) => (*line, section.take()),
                        None => {
                            return Err(RepositoryError::Constraint(format!(
                                "line {number}: an event of run \"{}\" before that run's line",
                                event.run_id
                            )))
                        }
                    };
                    let Some(section) = section else {
                        return Err(RepositoryError::Constraint(format!(
                            "line {number}: an event of run \"{}\" (line {line}) after other \
                             runs' events: a run's events come together",
                            event.run_id
                        )));
                    };
                    done = import.section.replace(section);
                }
                let section = import.section.as_mut().expect("a section is open");
                if let Some((seq, at)) = section.last {
                    if event.seq == seq {
                        return Err(RepositoryError::Constraint(format!(
                            "line {number}: repeats seq {seq} of line {at}"
                        )));
                    }
                    if event.seq < seq {
                        return Err(RepositoryError::Constraint(format!(
                            "line {number}: seq {} after seq {seq} (line {at}): a run's events \
                             come in ascending seq order",
                            event.seq
                        )));
                    }
                }
                section.last = Some((event.seq, number));
                section.lines.push((event.seq, number));
                section.events.push(event);
                let full = section.events.len() >= WRITE_EVENTS;
                import.events += 1;
                if full {
                    // The events read so far of the run being read, which
                    // stays open for the events after them. (`done` is
                    // empty: an event that opens its run leaves one event.)
                    (one(import.section.take()), true)
                } else {
                    (one(done), false)
                }
            }
            ExportLine::End { runs, events } => {
                if (runs, events) != (import.runs, import.events) {
                    return Err(RepositoryError::Serialization(format!(
                        "line {number}: the end line counts {runs} runs and {events} events, \
                         the input has {} and {}: lines are missing or were added",
                        import.runs, import.events
                    )));
                }
                import.ended = true;
                // The last run's events, then the runs without events, in
                // id order. Their entries stay, emptied (no line is read
                // after the end): taking the map's pairs compiled to more.
                let mut rest = one(import.section.take());
                for (_, section) in import.read.values_mut() {
                    if let Some(section) = section.take() {
                        rest.push(section);
                    }
                }
                (rest, false)
            }
        };
        drop(import);
        Ok(self.write(sections, keep))
    }

    /// Writes `sections` one after another: creates each run if absent
    /// (checks it is the same if present), then appends the events read so
    /// far. A run it creates takes those events in the same transaction:
    /// all of a run of up to [`WRITE_EVENTS`] events, or nothing. A failure
    /// puts the run it failed on back as the run being read, for
    /// [`abandon`](Self::abandon) (which `importLines` calls on any failure)
    /// to delete if this import created it: no third await here. With
    /// `keep`, the last section is put back as the run being read once it is
    /// written. `undefined` when there is nothing to write.
    ///
    /// One future for a batch of the run being read and for runs read
    /// whole, with nothing nested in it: each async fn is a state machine of
    /// its own in the wasm module.
    fn write(&self, mut sections: Vec<Section>, keep: bool) -> JsValue {
        if sections.is_empty() {
            return JsValue::UNDEFINED;
        }
        let state = self.state.clone();
        // The import stays borrowed across the awaits: `importLines` reads
        // the next line, or abandons, only once this is written.
        #[allow(clippy::await_holding_refcell_ref)] // never two at once
        promise(async move {
            let mut import = state.borrow_mut();
            let import = &mut *import;
            let repo = &import.repo;
            let mut i = 0;
            while let Some(section) = sections.get_mut(i) {
                // Nothing of a run not checked yet was written: a failure
                // here has nothing to undo.
                let create = !section.checked
                    && match repo.get_run(&section.run.id).await? {
                        None => true,
                        Some(stored) => {
                            section.same_as(&stored)?;
                            false
                        }
                    };
                section.checked = true;
                i += 1;
                let appended = !section.events.is_empty();
                if !create && !appended {
                    continue;
                }
                // Taken after the look-up's await: a value held across an
                // await point is one more field of the future.
                let events = std::mem::take(&mut section.events);
                // One await for either call (both are boxed futures of one
                // type): each await point adds to the future's code.
                let written = if create {
                    repo.import_run(section.run.clone(), events)
                } else {
                    repo.append_events(events)
                }
                .await;
                if let Err(e) = written {
                    let e = section.batch_error(e, create);
                    import.section = Some(sections.swap_remove(i - 1));
                    return Err(e);
                }
                // The events' lines stay until their batch is written, for
                // batch_error.
                section.lines.clear();
                if create {
                    section.created = true;
                    import.notices.post("created", &section.run.id);
                }
                if appended {
                    import.notices.post("appended", &section.run.id);
                }
            }
            if keep {
                import.section = sections.pop();
            }
            Ok(JsValue::UNDEFINED)
        })
        .into()
    }
}

/// The section, if any, as a list. (One small function where collecting
/// and extending from options compiled several.)
fn one(section: Option<Section>) -> Vec<Section> {
    let mut sections = Vec::new();
    if let Some(section) = section {
        sections.push(section);
    }
    sections
}

impl Section {
    fn new(run: CouncilRun, line: u64) -> Self {
        Section {
            run,
            line,
            checked: false,
            created: false,
            last: None,
            events: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Refuses a run stored with other values than this one.
    fn same_as(&self, stored: &CouncilRun) -> Result<(), RepositoryError> {
        // The stored run has this id: it is the same run when no other
        // column differs (and `==` would compare them all a second time).
        let differences = differences(stored, &self.run);
        if differences.is_empty() {
            return Ok(());
        }
        Err(RepositoryError::Constraint(format!(
            "line {}: run \"{}\" is stored already with other values ({differences}); \
             importRuns does not overwrite a stored run",
            self.line, self.run.id,
        )))
    }

    /// The error of writing the batch whose events' seqs and lines are
    /// `self.lines`, placed on its line. A conflict the error does not place
    /// is on the run's line when creating it, else on the batch's first
    /// event's.
    fn batch_error(&self, e: RepositoryError, create: bool) -> RepositoryError {
        let fallback = match self.lines.first() {
            Some(&(_, line)) if !create => line,
            _ => self.line,
        };
        let at = conflicting_line(&e, &self.lines).unwrap_or(fallback);
        match e {
            RepositoryError::Constraint(m) => at_line(at, &m),
            other => other,
        }
    }
}

/// The line of the event a batch error names by its seq (`lines` holds
/// each event's seq and line).
fn conflicting_line(err: &RepositoryError, lines: &[(i64, u64)]) -> Option<u64> {
    // Plain loops: the iterator adapters compile to more.
    let message = err.message();
    let bytes = message.as_bytes();
    let mut at = 0;
    while bytes.get(at..at + 4)? != b"seq " {
        at += 1;
    }
    let mut end = at + 4;
    while bytes.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let seq = parse_i64(message.get(at + 4..end).filter(|d| !d.is_empty())?)?;
    for &(s, line) in lines {
        if s == seq {
            return Some(line);
        }
    }
    None
}

/// The fields in which two versions of a run differ, named as columns.
/// (One call per column into one `String`: an array of the comparisons
/// looped over, or an iterator chain collected and joined, compiles to
/// more.)
fn differences(stored: &CouncilRun, incoming: &CouncilRun) -> String {
    let mut out = String::new();
    note(&mut out, "goal", stored.goal != incoming.goal);
    note(
        &mut out,
        "graph_json",
        stored.graph_json != incoming.graph_json,
    );
    note(&mut out, "status", stored.status != incoming.status);
    note(
        &mut out,
        "hitl_mode",
        stored.hitl_mode != incoming.hitl_mode,
    );
    note(
        &mut out,
        "conversation_id",
        stored.conversation_id != incoming.conversation_id,
    );
    note(
        &mut out,
        "created_at",
        stored.created_at != incoming.created_at,
    );
    note(
        &mut out,
        "updated_at",
        stored.updated_at != incoming.updated_at,
    );
    out
}

/// Adds `column` to the list `out` if it `differs`.
fn note(out: &mut String, column: &str, differs: bool) {
    if differs {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(column);
    }
}
