// exportRuns / importRuns in Chromium, Firefox and WebKit: a byte-exact round
// trip of hard text, idempotent re-import, 100k events through a Blob, the
// file a SQL server writes, and every kind of bad input refused with the
// store unchanged and still working.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ENGINES, launchBrowser, repoRoot, serveDirectory } from "./support.mjs";

let server;
before(async () => {
  server = await serveDirectory();
});
after(async () => {
  await server?.close();
});

/** The server's datetime('now') form (`YYYY-MM-DD HH:MM:SS`) reads as UTC RFC 3339. */
const utc = (t) => (t.includes("T") ? t : t.replace(" ", "T") + "Z");

const fromSqlite = readFileSync(`${repoRoot}/tests/fixtures/from-sqlite.ndjson`, "utf8");

for (const engine of ENGINES) describe(engine, { timeout: 240_000 }, () => {
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    browser = await launchBrowser(engine);
    page = await browser.newPage();
    page.onPageError((e) => pageErrors.push(e));
    await page.goto(`${server.url}/tests/js/fixtures/page.html`);
    await page.waitForFunction(() => window.ready === true);
    // Helpers the cases share, defined once in the page.
    await page.evaluate(() => {
      window.text = (stream) => new Response(stream).text();
      window.snapshot = async (store) => {
        const runs = await store.listRuns();
        const events = {};
        for (const run of runs) events[run.id] = await store.listEvents(run.id);
        return { runs, events };
      };
      window.fresh = async (tag) => {
        const name = `transfer-${tag}-${crypto.randomUUID()}`;
        return [await window.CouncilStore.open(name), name];
      };
      window.drop = async (store, name) => {
        store.close();
        await window.CouncilStore.deleteDatabase(name);
      };
      window.failure = async (promise) => {
        try {
          await promise;
          return null;
        } catch (e) {
          return { name: e.name, kind: e.kind, message: e.message, causeMessage: e.cause?.message };
        }
      };
    });
  });

  after(async () => {
    await browser?.close();
    assert.deepEqual(pageErrors, []);
  });

  test("hard text round-trips byte for byte, and a second import changes nothing", async () => {
    const out = await page.evaluate(async () => {
      const [a, nameA] = await window.fresh("a");
      const [b, nameB] = await window.fresh("b");
      const hard = 'émoji 🧭 中文 \u2028 \u2029 "quotes" \\ back \n new \t tab \u0000 nul \u001f';
      const long = "x".repeat(1 << 20) + "🧭";
      await a.createRun({ id: "r1", goal: hard, graphJson: JSON.stringify({ hard }), hitlMode: "approve_plan",
        conversationId: -42, createdAt: "2026-01-01T00:00:00.123456789+02:00" });
      await a.createRun({ id: "r2 🧭", goal: "second", createdAt: "2026-01-02T00:00:00Z" });
      await a.updateRunStatus("r1", "completed");
      await a.updateRunStatus("r2 🧭", "interrupted");
      for (let seq = 0; seq < 30; seq++) {
        a.appendEvent({ runId: "r1", seq, waveIndex: seq % 4, eventJson: JSON.stringify({ seq, hard }) });
      }
      await a.appendEvent({ runId: "r1", seq: 30, waveIndex: 5, eventJson: long });
      await a.appendEvent({ runId: "r2 🧭", seq: 7, waveIndex: 0, eventJson: hard });
      const file = await window.text(a.exportRuns());
      // No options, `undefined` and `null` all export every run.
      const lineCounts = [];
      for (const options of [undefined, null, {}]) {
        lineCounts.push((await window.text(a.exportRuns(options))).split("\n").length);
      }
      const first = await b.importRuns(file);
      const again = await b.importRuns(new Blob([file]));
      const before = await window.snapshot(a);
      const after = await window.snapshot(b);
      const only = await window.text(a.exportRuns({ runIds: ["r2 🧭"] }));
      const unknown = await window.failure(a.exportRuns({ runIds: ["nope"] }).getReader().read());
      // An id given twice is written once, and the file imports.
      const twice = await window.text(a.exportRuns({ runIds: ["r2 🧭", "r1", "r2 🧭", "r1"] }));
      const [c, nameC] = await window.fresh("c");
      const twiceImported = await window.failure(c.importRuns(twice));
      await window.drop(c, nameC);
      await window.drop(a, nameA);
      await window.drop(b, nameB);
      return { file, lineCounts, first, again, before, after, only, unknown, twice, twiceImported, bytes: new TextEncoder().encode(file).length };
    });
    const lines = out.file.split("\n");
    assert.equal(lines.at(-1), "", "every line ends with \\n");
    assert.match(lines[0], /^\{"council_idb_export":\{"version":1,"exported_at":"[^"]+"\}\}$/);
    assert.equal(lines.at(-2), '{"council_idb_end":{"runs":2,"events":32}}');
    assert.deepEqual(out.lineCounts, [lines.length, lines.length, lines.length]);
    const run = JSON.parse(lines[1]).orchestrator_runs;
    assert.deepEqual(Object.keys(run), ["id", "goal", "graph_json", "status", "hitl_mode", "conversation_id", "created_at", "updated_at"]);
    assert.equal(run.hitl_mode, '"approve_plan"');
    assert.equal(run.id, "r1", "oldest run first");
    assert.deepEqual(Object.keys(JSON.parse(lines[2]).orchestrator_events), ["run_id", "seq", "event_json", "created_at", "wave_index"]);
    assert.ok(!out.file.includes("\u2028") && out.file.includes("\\u2028"), "U+2028 is escaped");
    assert.deepEqual(out.first, { runs: 2, events: 32 });
    assert.deepEqual(out.again, { runs: 2, events: 32 });
    assert.deepEqual(out.after, out.before);
    assert.equal(out.only.split("\n").length, 5, "header, run, one event, end, empty");
    assert.equal(out.unknown.kind, "NotFound");
    const twice = out.twice.split("\n");
    assert.deepEqual(twice.slice(1, -2).filter((l) => l.startsWith('{"orchestrator_runs"')).map((l) => JSON.parse(l).orchestrator_runs.id),
      ["r2 🧭", "r1"], "each run once, in the order given");
    assert.equal(twice.at(-2), '{"council_idb_end":{"runs":2,"events":32}}');
    assert.equal(out.twiceImported, null);
  });

  // 100k events through IndexedDB cost ~35 s in Chromium here (the
  // appends and the import's writes), so the 100k stream runs between
  // in-memory stores and IndexedDB gets 12k: past a page of export reads
  // (1,000) and a batch of import writes (5,000) several times over.
  for (const [label, count, open] of [
    ["in memory", 100_000, "inMemory"],
    ["IndexedDB", 12_345, "open"],
  ]) {
    test(`${count} events stream out and back in through a Blob (${label})`, async () => {
      const out = await page.evaluate(async ([count, open]) => {
        const make = async (tag) =>
          open === "inMemory" ? [window.CouncilStore.inMemory(), null] : window.fresh(tag);
        const [a, nameA] = await make("big-a");
        const [b, nameB] = await make("big-b");
        await a.createRun({ id: "big", goal: "many events" });
        const batch = [];
        const writes = [];
        for (let seq = 0; seq < count; seq++) {
          batch.push({ runId: "big", seq, waveIndex: seq >> 12, eventJson: `{"type":"node_text_delta","seq":${seq},"text":"tok ${seq}"}` });
          if (batch.length === 10_000 || seq === count - 1) writes.push(a.appendEvents(batch.splice(0)));
        }
        await Promise.all(writes);
        await a.updateRunStatus("big", "completed");
        let chunks = 0;
        const counted = a.exportRuns().pipeThrough(new TransformStream({
          transform(chunk, controller) {
            chunks += 1;
            controller.enqueue(chunk);
          },
        }));
        const blob = await new Response(counted).blob();
        const imported = await b.importRuns(blob);
        const events = await b.listEvents("big");
        const ok = events.length === count && events.every((e, i) => e.seq === i && e.eventJson.includes(`"seq":${i},`));
        const run = await b.getRun("big");
        if (nameA) await window.drop(a, nameA);
        if (nameB) await window.drop(b, nameB);
        return { imported, ok, chunks, size: blob.size, status: run.status };
      }, [count, open]);
      assert.deepEqual(out.imported, { runs: 1, events: count });
      assert.ok(out.ok, "every event back, in order, with its content");
      assert.equal(out.status, "completed");
      // The export came in chunks of about 256 KiB, not as one piece.
      assert.ok(out.chunks >= Math.floor(out.size / (512 * 1024)) && out.chunks > 1, `${out.chunks} chunks for ${out.size} bytes`);
    });
  }

  test("the rows a SQL server wrote import as the values they hold", async () => {
    const out = await page.evaluate(async (file) => {
      const [s, name] = await window.fresh("sql");
      const imported = await s.importRuns(file);
      const snap = await window.snapshot(s);
      const back = await window.text(s.exportRuns());
      await window.drop(s, name);
      return { imported, snap, back };
    }, fromSqlite);
    const rows = fromSqlite.trim().split("\n").slice(1, -1).map((l) => JSON.parse(l));
    const runs = rows.filter((r) => r.orchestrator_runs).map((r) => r.orchestrator_runs);
    const events = rows.filter((r) => r.orchestrator_events).map((r) => r.orchestrator_events);
    assert.deepEqual(out.imported, { runs: runs.length, events: events.length });
    for (const row of runs) {
      const got = out.snap.runs.find((r) => r.id === row.id);
      assert.ok(got, row.id);
      assert.equal(got.goal, row.goal);
      assert.equal(got.graphJson, row.graph_json);
      assert.equal(got.status, row.status);
      assert.equal(JSON.stringify(got.hitlMode), row.hitl_mode);
      assert.equal(got.conversationId, row.conversation_id);
      assert.equal(got.createdAt, utc(row.created_at));
      assert.equal(got.updatedAt, utc(row.updated_at));
    }
    for (const row of events) {
      const got = out.snap.events[row.run_id].find((e) => e.seq === row.seq);
      assert.deepEqual(got, { runId: row.run_id, seq: row.seq, eventJson: row.event_json, createdAt: utc(row.created_at), waveIndex: row.wave_index });
    }
    assert.equal(out.back.split("\n").length - 3, runs.length + events.length);
  });

  test("bad input is refused with its line, and the store is unchanged and works", async () => {
    const out = await page.evaluate(async () => {
      const [s, name] = await window.fresh("bad");
      await s.createRun({ id: "kept", goal: "stays", createdAt: "2026-01-01T00:00:00Z" });
      await s.updateRunStatus("kept", "completed");
      await s.appendEvent({ runId: "kept", seq: 0, waveIndex: 0, eventJson: "{}" });
      const good = await window.text(s.exportRuns());
      const [header, keptRun, keptEvent, end] = good.trim().split("\n");
      const run = (id, extra = {}) => JSON.stringify({ orchestrator_runs: { id, goal: "g", graph_json: null, status: "completed",
        hitl_mode: "none", conversation_id: null, created_at: "2026-02-01T00:00:00Z", updated_at: "2026-02-01T00:00:00Z", ...extra } });
      const ev = (runId, seq, extra = {}) => JSON.stringify({ orchestrator_events: { run_id: runId, seq, event_json: `{"n":${seq}}`,
        created_at: "2026-02-01T00:00:00Z", wave_index: 0, ...extra } });
      const endOf = (runs, events) => JSON.stringify({ council_idb_end: { runs, events } });
      const file = (...lines) => lines.join("\n") + "\n";
      const cases = {
        empty: "",
        notAnExport: file(run("new1"), ev("new1", 0), endOf(1, 1)),
        truncatedMidLine: file(header, run("new1"), ev("new1", 0)).slice(0, -20),
        truncatedAtLine: file(header, run("new1"), ev("new1", 0)),
        wrongVersion: file(header.replace('"version":1', '"version":2'), run("new1"), endOf(1, 0)),
        wrongType: file(header, run("new1"), ev("new1", "zero"), endOf(1, 1)),
        unknownStatus: file(header, run("new1", { status: "paused" }), endOf(1, 0)),
        duplicateLine: file(header, run("new1"), ev("new1", 0), ev("new1", 0), endOf(1, 2)),
        runAfterItsEvents: file(header, ev("new1", 0), run("new1"), endOf(1, 1)),
        runTwice: file(header, run("new1"), ev("new1", 0), run("new1"), endOf(2, 1)),
        conflictingEvent: file(header, keptRun, keptEvent.replace('"event_json":"{}"', '"event_json":"{\\"x\\":1}"'), endOf(1, 1)),
        otherRunValues: file(header, keptRun.replace('"goal":"stays"', '"goal":"changed"'), endOf(1, 0)),
        otherRunColumns: file(header, keptRun.replace('"goal":"stays"', '"goal":"changed"').replace('"status":"completed"', '"status":"failed"'), endOf(1, 0)),
        wrongCounts: file(header, run("new1"), ev("new1", 0), endOf(1, 5)),
        loneSurrogate: file(header, run("new1"), ev("new1", 0, { event_json: "\\ud800" }).replace("\\\\ud800", "\\ud800"), endOf(1, 1)),
        tenMegabyteLine: file(header, run("new1"), "x".repeat(10 << 20), endOf(1, 1)),
        afterEnd: file(header, keptRun, endOf(1, 0), keptEvent),
        notText: 42,
        // Refused as an argument, not with the trap's own error.
        proxyWhoseTrapThrows: new Proxy(new Blob([good]), { getPrototypeOf() { throw new Error("trap"); } }),
        // The caller's stream fails after its first chunk: a typed error,
        // with the stream's own as its cause.
        failingStream: new ReadableStream({
          start(c) { c.enqueue(new TextEncoder().encode(header + "\n")); },
          pull(c) { c.error(new TypeError("boom")); },
        }),
      };
      const results = {};
      for (const [label, input] of Object.entries(cases)) {
        results[label] = await window.failure(s.importRuns(input));
      }
      results.invalidUtf8 = await window.failure(s.importRuns(new Uint8Array([...new TextEncoder().encode(header + "\n"), 0xff, 0xfe, 10])));
      const unchanged = (await window.text(s.exportRuns())).split("\n").slice(1).join("\n") === good.split("\n").slice(1).join("\n");
      const works = await s.importRuns(file(header, run("new2"), ev("new2", 0), endOf(1, 1)));
      const list = (await s.listRuns()).map((r) => r.id);
      await window.drop(s, name);
      return { results, unchanged, works, list, end };
    });
    for (const [label, failure] of Object.entries(out.results)) {
      assert.ok(failure, `${label} was accepted`);
      assert.equal(failure.name, "CouncilStoreError", label);
      assert.ok(["Serialization", "Constraint"].includes(failure.kind), `${label}: ${failure.kind} ${failure.message}`);
    }
    const r = out.results;
    assert.match(r.truncatedAtLine.message, /truncated/);
    assert.match(r.wrongVersion.message, /^line 1: .*version 2/);
    assert.match(r.wrongType.message, /^line 3: .*seq/);
    assert.match(r.unknownStatus.message, /^line 2: .*paused/);
    assert.match(r.duplicateLine.message, /^line 4: repeats seq 0 of line 3/);
    assert.match(r.runAfterItsEvents.message, /^line 2: /);
    assert.match(r.runTwice.message, /^line 4: .*second time/);
    assert.equal(r.conflictingEvent.kind, "Constraint");
    assert.match(r.conflictingEvent.message, /^line 3: /);
    assert.match(r.otherRunValues.message, /^line 2: .*goal/);
    assert.equal(r.otherRunColumns.message,
      'line 2: run "kept" is stored already with other values (goal, status); importRuns does not overwrite a stored run');
    assert.match(r.loneSurrogate.message, /^line 3: .*surrogate/);
    assert.match(r.tenMegabyteLine.message, /^line 3: /);
    assert.match(r.afterEnd.message, /^line 4: /);
    assert.equal(r.proxyWhoseTrapThrows.kind, "Constraint");
    assert.equal(r.failingStream.kind, "Serialization");
    assert.equal(r.failingStream.message, "importRuns: the input could not be read: TypeError: boom");
    assert.equal(r.failingStream.causeMessage, "boom");
    assert.ok(out.unchanged, "a refused import wrote nothing");
    assert.deepEqual(out.works, { runs: 1, events: 1 });
    assert.deepEqual(out.list.sort(), ["kept", "new2"]);
  });

  test("a run the import created is deleted when a later batch of its events fails", async () => {
    const out = await page.evaluate(async () => {
      const [s, name] = await window.fresh("batch");
      const header = JSON.stringify({ council_idb_export: { version: 1, exported_at: "2026-01-01T00:00:00Z" } });
      const run = JSON.stringify({ orchestrator_runs: { id: "big", goal: "g", graph_json: null, status: "completed",
        hitl_mode: "none", conversation_id: null, created_at: "2026-02-01T00:00:00Z", updated_at: "2026-02-01T00:00:00Z" } });
      const ev = (seq) => JSON.stringify({ orchestrator_events: { run_id: "big", seq, event_json: `{"n":${seq}}`,
        created_at: "2026-02-01T00:00:00Z", wave_index: 0 } });
      // The first chunk holds more events than one batch, so the run and a
      // first batch are written before the second chunk is pulled; that
      // chunk's event conflicts with one stored meanwhile.
      let pulls = 0;
      let storedBeforeFailure = false;
      const stream = new ReadableStream({
        async pull(c) {
          pulls += 1;
          if (pulls === 1) {
            const lines = [header, run];
            for (let i = 0; i < 5000; i++) lines.push(ev(i));
            c.enqueue(lines.join("\n") + "\n");
            return;
          }
          for (let i = 0; i < 200 && !(await s.getRun("big")); i++) await new Promise((r) => setTimeout(r, 20));
          storedBeforeFailure = (await s.getRun("big")) !== undefined;
          await s.appendEvent({ runId: "big", seq: 5000, waveIndex: 0, eventJson: '{"other":1}' });
          c.enqueue(ev(5000) + "\n" + JSON.stringify({ council_idb_end: { runs: 1, events: 5001 } }) + "\n");
          c.close();
        },
      });
      const failure = await window.failure(s.importRuns(stream));
      const left = (await s.getRun("big")) ?? null;
      const events = (await s.listEvents("big")).length;
      await window.drop(s, name);
      return { failure, storedBeforeFailure, left, events };
    });
    assert.ok(out.storedBeforeFailure, "the first batch was written before the failing one");
    assert.equal(out.failure?.kind, "Constraint");
    assert.match(out.failure.message, /^line 5003: /);
    assert.equal(out.left, null);
    assert.equal(out.events, 0);
  });
});
