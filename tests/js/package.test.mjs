// The npm package from JavaScript, in Chromium, Firefox and WebKit (one suite
// per engine, $ENGINES picks some): every method, every error kind, hostile
// input, reloads and a dedicated worker.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ENGINES, launchBrowser, serveDirectory } from "./support.mjs";

let server;

before(async () => {
  server = await serveDirectory();
});

after(async () => {
  await server?.close();
});

// A bound on each engine's suite, so that a call that never settles fails
// the run instead of hanging it (a first MiniBrowser start can take 20 s).
for (const engine of ENGINES) describe(engine, { timeout: 180_000 }, () => {
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    browser = await launchBrowser(engine);
    page = await browser.newPage();
    page.onPageError((e) => pageErrors.push(e));
    await openPage();
  });

  after(async () => {
    await browser?.close();
  });

  async function openPage() {
    await page.goto(`${server.url}/tests/js/fixtures/page.html`);
    await page.waitForFunction(() => window.ready === true);
  }

  /** Runs `fn` in the page with a fresh IndexedDB store named after the test. */
  function inPage(fn, arg) {
    return page.evaluate(
      async ([source, arg]) => {
        const name = `js-test-${crypto.randomUUID()}`;
        const store = await window.CouncilStore.open(name);
        try {
          // eslint-disable-next-line no-new-func
          return await new Function("return " + source)()(store, arg, name);
        } finally {
          store.close();
          await window.CouncilStore.deleteDatabase(name);
        }
      },
      [fn.toString(), arg],
    );
  }

  test("createRun fills defaults and every field reads back", async () => {
    const out = await inPage(async (store) => {
      const made = await store.createRun({ goal: "Plan a launch" });
      const full = await store.createRun({
        goal: "Full", hitlMode: "approve_each_node", conversationId: -7,
        graphJson: '{"nodes":[]}', id: "run-full", createdAt: "2026-01-01T00:00:00.123456789+02:00",
      });
      return { made, full, got: await store.getRun("run-full"), missing: await store.getRun("nope") };
    });
    assert.match(out.made.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(out.made.status, "running");
    assert.equal(out.made.hitlMode, "none");
    assert.equal(out.made.graphJson, null);
    assert.equal(out.made.conversationId, null);
    assert.match(out.made.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(out.made.updatedAt, out.made.createdAt);
    assert.deepEqual(out.full, {
      id: "run-full", goal: "Full", graphJson: '{"nodes":[]}', status: "running",
      hitlMode: "approve_each_node", conversationId: -7,
      createdAt: "2026-01-01T00:00:00.123456789+02:00", updatedAt: "2026-01-01T00:00:00.123456789+02:00",
    });
    assert.deepEqual(out.got, out.full);
    assert.equal(out.missing, undefined);
  });

  test("updates, listing, events, interruption and truncation", async () => {
    const out = await inPage(async (store) => {
      const a = await store.createRun({ goal: "a", id: "a", createdAt: "2026-01-01T05:00:00+05:00" });
      const b = await store.createRun({ goal: "b", id: "b", createdAt: "2026-01-01T00:30:00Z" });
      const c = await store.createRun({ goal: "c", id: "c", createdAt: "2026-01-01T01:00:00+01:00" });
      await store.updateRunStatus("b", "awaiting_approval");
      await store.updateGraph("c", '{"wave":2}');
      await store.updateRunStatus("c", "completed");
      const order = (await store.listRuns()).map((r) => r.id);
      const awaiting = (await store.listRuns("awaiting_approval")).map((r) => r.id);
      const undefinedFilter = (await store.listRuns(undefined)).length;
      await store.appendEvent({ runId: "a", seq: 1, waveIndex: 0, eventJson: '{"type":"node_started"}' });
      await store.appendEvent({ runId: "a", seq: 0, waveIndex: 0, eventJson: '{"type":"plan_proposed"}', createdAt: "2026-01-01T00:00:00Z" });
      await store.appendEvents([2, 3, 4, 5].map((seq) => ({ runId: "a", seq, waveIndex: seq - 1, eventJson: `{"seq":${seq}}` })));
      await store.appendEvent({ runId: "a", seq: 1, waveIndex: 0, eventJson: '{"type":"node_started"}' }); // retry
      const events = await store.listEvents("a");
      const interrupted = await store.markInterruptedRuns();
      await store.truncateEventsAfterWave("a", 2);
      return {
        order, awaiting, undefinedFilter, events, interrupted,
        after: (await store.listEvents("a")).map((e) => [e.seq, e.waveIndex]),
        runA: await store.getRun("a"), runB: await store.getRun("b"), runC: await store.getRun("c"),
        a, b, c, unknownEvents: await store.listEvents("nobody"),
      };
    });
    // b is 00:30Z; a and c are both 00:00Z, so their tie goes by id, descending.
    assert.deepEqual(out.order, ["b", "c", "a"], "newest first by instant, not by string");
    assert.deepEqual(out.awaiting, ["b"]);
    assert.equal(out.undefinedFilter, 3);
    assert.deepEqual(out.events.map((e) => e.seq), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(Object.keys(out.events[0]).sort(), ["createdAt", "eventJson", "runId", "seq", "waveIndex"]);
    assert.deepEqual(out.events[0], { runId: "a", seq: 0, eventJson: '{"type":"plan_proposed"}', createdAt: "2026-01-01T00:00:00Z", waveIndex: 0 });
    assert.equal(out.interrupted, 1);
    assert.equal(out.runA.status, "interrupted");
    assert.ok(out.runA.updatedAt > out.a.updatedAt);
    assert.equal(out.runB.status, "awaiting_approval");
    assert.equal(out.runC.status, "completed");
    assert.equal(out.runC.graphJson, '{"wave":2}');
    assert.deepEqual(out.after, [[0, 0], [1, 0], [2, 1], [3, 2]]);
    assert.deepEqual(out.unknownEvents, []);
  });

  test("every error kind is a real Error named CouncilStoreError", async () => {
    const out = await inPage(async (store, _arg, name) => {
      const catchIt = async (p) => {
        try { await p; return null; } catch (e) {
          return { isError: e instanceof Error, name: e.name, kind: e.kind, message: e.message };
        }
      };
      await store.createRun({ goal: "x", id: "taken" });
      const errors = {
        notFound: await catchIt(store.updateRunStatus("ghost", "failed")),
        notFoundGraph: await catchIt(store.updateGraph("ghost", "{}")),
        notFoundTruncate: await catchIt(store.truncateEventsAfterWave("ghost", 0)),
        notFoundAppend: await catchIt(store.appendEvent({ runId: "ghost", seq: 0, waveIndex: 0, eventJson: "{}" })),
        alreadyExists: await catchIt(store.createRun({ goal: "y", id: "taken" })),
      };
      await store.appendEvent({ runId: "taken", seq: 0, waveIndex: 0, eventJson: "{}" });
      errors.conflict = await catchIt(store.appendEvent({ runId: "taken", seq: 0, waveIndex: 0, eventJson: "{\"other\":1}" }));
      // A record written by other code that council-idb cannot read.
      await new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => {
          const db = req.result;
          const tx = db.transaction("runs", "readwrite");
          tx.objectStore("runs").put({ id: "corrupt", goal: "g", status: "exploded", hitlMode: "none",
            graphJson: null, conversationId: null, createdAt: "2026-01-01T00:00:00Z",
            updatedAt: "2026-01-01T00:00:00Z", createdKey: "0" });
          const events = db.transaction("events", "readwrite");
          events.objectStore("events").put({ runId: "taken", seq: 7, eventJson: 42,
            createdAt: "2026-01-01T00:00:00Z", waveIndex: 0 });
          tx.oncomplete = () => { db.close(); resolve(); };
          tx.onerror = () => reject(tx.error);
        };
        req.onerror = () => reject(req.error);
      });
      errors.serialization = await catchIt(store.getRun("corrupt"));
      errors.serializationList = await catchIt(store.listRuns());
      errors.serializationEvents = await catchIt(store.listEvents("taken"));
      // The other reads still work.
      errors.readsGoOn = (await store.listRuns("completed")).length === 0 && (await store.getRun("taken")).id === "taken"
        ? null : { isError: false };
      store.close();
      errors.storage = await catchIt(store.getRun("taken"));
      return errors;
    });
    const expect = {
      notFound: "NotFound", notFoundGraph: "NotFound", notFoundTruncate: "NotFound", notFoundAppend: "NotFound",
      alreadyExists: "AlreadyExists", conflict: "Constraint", serialization: "Serialization",
      serializationList: "Serialization", serializationEvents: "Serialization", storage: "Storage",
    };
    assert.equal(out.readsGoOn, null, "reads of sound records go on after a malformed one");
    delete out.readsGoOn;
    for (const [key, kind] of Object.entries(expect)) {
      const e = out[key];
      assert.ok(e, `${key} should reject`);
      assert.equal(e.isError, true, key);
      assert.equal(e.name, "CouncilStoreError", key);
      assert.equal(e.kind, kind, `${key}: ${e.message}`);
    }
    assert.match(out.notFound.message, /ghost/);
    assert.match(out.alreadyExists.message, /taken/);
    assert.match(out.serialization.message, /corrupt/);
    assert.match(out.serialization.message, /status/);
    assert.match(out.serializationEvents.message, /eventJson/);
    assert.match(out.storage.message, /InvalidStateError/);
  });

  test("a read of a malformed record made before a write or a close() is refused as of its place in call order", async () => {
    const out = await inPage(async (store, _arg, name) => {
      const outcome = (p) => p.then((v) => `resolved ${JSON.stringify(v)}`, (e) => `${e.kind}: ${e.message}`);
      await store.createRun({ goal: "g", id: "r" });
      await store.appendEvent({ runId: "r", seq: 0, waveIndex: 0, eventJson: "{}" });
      // Records written by other code that council-idb cannot read: an event
      // of wave 3 whose eventJson is a number, and two runs with a status of
      // none of ours.
      await new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => {
          const db = req.result;
          const tx = db.transaction(["runs", "events"], "readwrite");
          for (const id of ["bad", "bad2"]) {
            tx.objectStore("runs").put({ id, goal: "g", status: "exploded", hitlMode: "none", graphJson: null,
              conversationId: null, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z", createdKey: "0" });
          }
          tx.objectStore("events").put({ runId: "r", seq: 1, eventJson: 42, createdAt: "2026-01-01T00:00:00Z", waveIndex: 3 });
          tx.oncomplete = () => { db.close(); resolve(); };
          tx.onerror = () => reject(tx.error);
        };
        req.onerror = () => reject(req.error);
      });
      // Each read is made on an idle store (so it starts at once), and a
      // write that removes the malformed record is made right after it, not
      // awaited: the read must not see that write.
      const events = outcome(store.listEvents("r"));
      const truncated = outcome(store.truncateEventsAfterWave("r", 0));
      const eventsAfter = await events;
      const run = outcome(store.getRun("bad"));
      const deleted = outcome(store.deleteRun("bad"));
      const runAfter = await run;
      const runs = await outcome(store.listRuns());
      const closing = outcome(store.getRun("bad2"));
      // A read made before close() still runs.
      store.close();
      return {
        events: eventsAfter, run: runAfter, runs, closing: await closing,
        writes: [await truncated, await deleted],
      };
    });
    assert.deepEqual(out.writes, ["resolved undefined", "resolved undefined"]);
    assert.match(out.events, /^Serialization: .*eventJson/);
    assert.match(out.run, /^Serialization: .*bad.*status/);
    assert.match(out.runs, /^Serialization: .*bad2.*status/);
    assert.match(out.closing, /^Serialization: .*bad2.*status/);
  });

  test("hostile input rejects with CouncilStoreError and the store keeps working", async () => {
    const out = await inPage(async (store) => {
      const run = await store.createRun({ goal: "target", id: "target" });
      const ev = (patch) => ({ runId: "target", seq: 0, waveIndex: 0, eventJson: "{}", ...patch });
      const huge = "x".repeat(17 * 1024 * 1024);
      const promised = (p) => {
        if (!(p instanceof Promise)) throw new Error("the call did not return a promise");
        return p;
      };
      const cases = [
        ["createRun()", () => store.createRun()],
        ["createRun(null)", () => store.createRun(null)],
        ["createRun('goal')", () => store.createRun("goal")],
        ["createRun([])", () => store.createRun([])],
        ["createRun({})", () => store.createRun({})],
        ["goal number", () => store.createRun({ goal: 42 })],
        ["goal null", () => store.createRun({ goal: null })],
        ["unknown hitl", () => store.createRun({ goal: "g", hitlMode: "sometimes" })],
        ["hitl null", () => store.createRun({ goal: "g", hitlMode: null })],
        ["conversationId NaN", () => store.createRun({ goal: "g", conversationId: NaN })],
        ["conversationId fractional", () => store.createRun({ goal: "g", conversationId: 1.5 })],
        ["conversationId unsafe", () => store.createRun({ goal: "g", conversationId: 2 ** 53 })],
        ["conversationId string", () => store.createRun({ goal: "g", conversationId: "7" })],
        ["graphJson object", () => store.createRun({ goal: "g", graphJson: { a: 1 } })],
        ["empty id", () => store.createRun({ goal: "g", id: "" })],
        ["createdAt not RFC 3339", () => store.createRun({ goal: "g", createdAt: "yesterday" })],
        ["createdAt Date", () => store.createRun({ goal: "g", createdAt: new Date() })],
        ["extra field", () => store.createRun({ goal: "g", colour: "red" })],
        ["huge goal", () => store.createRun({ goal: huge })],
        ["appendEvent(undefined)", () => store.appendEvent(undefined)],
        ["seq NaN", () => store.appendEvent(ev({ seq: NaN }))],
        ["seq negative", () => store.appendEvent(ev({ seq: -1 }))],
        ["seq fractional", () => store.appendEvent(ev({ seq: 0.5 }))],
        ["seq unsafe", () => store.appendEvent(ev({ seq: 2 ** 53 }))],
        ["seq Infinity", () => store.appendEvent(ev({ seq: Infinity }))],
        ["seq bigint", () => store.appendEvent(ev({ seq: 1n }))],
        ["seq missing", () => store.appendEvent({ runId: "target", waveIndex: 0, eventJson: "{}" })],
        ["waveIndex negative", () => store.appendEvent(ev({ waveIndex: -1 }))],
        ["waveIndex too big", () => store.appendEvent(ev({ waveIndex: 2 ** 32 }))],
        ["waveIndex string", () => store.appendEvent(ev({ waveIndex: "1" }))],
        ["eventJson object", () => store.appendEvent(ev({ eventJson: { type: "x" } }))],
        ["eventJson null", () => store.appendEvent(ev({ eventJson: null }))],
        ["huge eventJson", () => store.appendEvent(ev({ eventJson: huge }))],
        ["event extra field", () => store.appendEvent(ev({ extra: true }))],
        ["runId number", () => store.appendEvent(ev({ runId: 7 }))],
        ["appendEvents(not array)", () => store.appendEvents({ length: 1, 0: ev({}) })],
        ["appendEvents bad item", () => store.appendEvents([ev({ seq: 1 }), ev({ seq: -2 })])],
        ["appendEvents symbol", () => store.appendEvents([Symbol("x")])],
        ["updateRunStatus bad status", () => store.updateRunStatus("target", "done")],
        ["updateRunStatus status undefined", () => store.updateRunStatus("target")],
        ["updateRunStatus id object", () => store.updateRunStatus({}, "failed")],
        ["updateGraph graph number", () => store.updateGraph("target", 5)],
        ["updateGraph huge", () => store.updateGraph("target", huge)],
        ["getRun(undefined)", () => store.getRun()],
        ["getRun(number)", () => store.getRun(12)],
        ["listRuns bad status", () => store.listRuns("paused")],
        ["listRuns number", () => store.listRuns(3)],
        ["listEvents(null)", () => store.listEvents(null)],
        ["truncate wave NaN", () => store.truncateEventsAfterWave("target", NaN)],
        ["truncate wave negative", () => store.truncateEventsAfterWave("target", -1)],
        ["truncate wave string", () => store.truncateEventsAfterWave("target", "1")],
        // Objects whose traps or getters throw: a rejected promise, never
        // an exception thrown out of the call (which would leave wasm mid-call).
        ["createRun Proxy whose ownKeys throws", () => promised(store.createRun(
          new Proxy({ goal: "g" }, { ownKeys() { throw new Error("no keys"); } })))],
        ["appendEvent Proxy whose get throws", () => promised(store.appendEvent(
          new Proxy(ev({}), { get() { throw new Error("no fields"); } })))],
        ["createRun getter throws", () => promised(store.createRun({ get goal() { throw new Error("no goal"); } }))],
        ["appendEvents Proxy array whose get throws", () => promised(store.appendEvents(
          new Proxy([ev({})], { get(_t, k) { if (k === "length") return 1; throw new Error("no items"); } })))],
        ["open(number)", () => window.CouncilStore.open(42)],
        ["deleteDatabase(null)", () => window.CouncilStore.deleteDatabase(null)],
      ];
      const results = [];
      for (const [label, call] of cases) {
        try {
          await call();
          results.push({ label, outcome: "resolved" });
        } catch (e) {
          results.push({ label, outcome: e instanceof Error ? `${e.name}/${e.kind}` : `non-Error ${String(e)}`, message: e.message });
        }
      }
      // A normal round trip on the same instance afterwards.
      await store.appendEvent(ev({ seq: 0 }));
      await store.appendEvents([ev({ seq: 1, waveIndex: 1 }), ev({ seq: 2, waveIndex: 2 })]);
      await store.updateRunStatus("target", "completed");
      const events = await store.listEvents("target");
      const fresh = await store.createRun({ goal: "after the storm" });
      return {
        results,
        seqs: events.map((e) => e.seq),
        status: (await store.getRun("target")).status,
        runs: (await store.listRuns()).length,
        freshOk: fresh.goal === "after the storm" && run.id === "target",
      };
    });
    assert.ok(out.results.length >= 30, `only ${out.results.length} hostile cases`);
    for (const r of out.results) {
      assert.equal(r.outcome, "CouncilStoreError/Constraint", `${r.label}: ${r.outcome} ${r.message ?? ""}`);
      assert.ok(r.message.length > 0, r.label);
    }
    const messages = Object.fromEntries(out.results.map((r) => [r.label, r.message]));
    assert.match(messages["seq NaN"], /seq/);
    assert.match(messages["extra field"], /colour/);
    assert.match(messages["unknown hitl"], /hitlMode/);
    assert.match(messages["appendEvents bad item"], /events\[1\]/);
    assert.deepEqual(out.seqs, [0, 1, 2]);
    assert.equal(out.status, "completed");
    assert.equal(out.runs, 2);
    assert.equal(out.freshOk, true);
  });

  test("appends issued at once each settle with their own outcome, in seq order", async () => {
    const out = await inPage(async (store) => {
      const run = await store.createRun({ goal: "burst" });
      const calls = [];
      for (let seq = 0; seq < 2000; seq++) {
        calls.push(store.appendEvent({ runId: run.id, seq, waveIndex: seq >> 9, eventJson: `{"t":${seq}}` }));
      }
      calls.push(store.appendEvent({ runId: "ghost", seq: 0, waveIndex: 0, eventJson: "{}" }));
      calls.push(store.appendEvent({ runId: run.id, seq: 10, waveIndex: 0, eventJson: "conflict" }));
      const settled = await Promise.allSettled(calls);
      const events = await store.listEvents(run.id);
      return {
        fulfilled: settled.slice(0, 2000).every((s) => s.status === "fulfilled"),
        ghost: settled[2000].reason?.kind,
        conflict: settled[2001].reason?.kind,
        seqs: events.map((e) => e.seq),
        tenth: events[10].eventJson,
      };
    });
    assert.equal(out.fulfilled, true);
    assert.equal(out.ghost, "NotFound");
    assert.equal(out.conflict, "Constraint");
    assert.deepEqual(out.seqs, Array.from({ length: 2000 }, (_, i) => i));
    assert.equal(out.tenth, '{"t":10}');
  });

  test("calls not awaited take effect in call order (append, then rewind, then append)", async () => {
    const out = await inPage(async (store) => {
      // Nothing is awaited until the end, as a streaming orchestrator does.
      const calls = [store.createRun({ goal: "rewind under load", id: "r" })];
      for (let seq = 0; seq < 6; seq++) {
        calls.push(store.appendEvent({ runId: "r", seq, waveIndex: seq, eventJson: `{"first":${seq}}` }));
      }
      calls.push(store.truncateEventsAfterWave("r", 1));
      calls.push(store.updateGraph("r", '{"rewound":1}'));
      const between = store.listEvents("r");
      calls.push(store.appendEvent({ runId: "r", seq: 2, waveIndex: 2, eventJson: '{"second":2}' }));
      calls.push(store.updateRunStatus("r", "completed"));
      const settled = await Promise.allSettled(calls);
      return {
        failures: settled.filter((s) => s.status === "rejected").map((s) => `${s.reason.kind}: ${s.reason.message}`),
        between: (await between).map((e) => e.seq),
        after: (await store.listEvents("r")).map((e) => [e.seq, e.eventJson]),
        run: await store.getRun("r"),
      };
    });
    assert.deepEqual(out.failures, []);
    assert.deepEqual(out.between, [0, 1], "a read sees every write called before it, and no later one");
    assert.deepEqual(out.after, [[0, '{"first":0}'], [1, '{"first":1}'], [2, '{"second":2}']]);
    assert.equal(out.run.status, "completed");
    assert.equal(out.run.graphJson, '{"rewound":1}');
  });

  test("lone surrogates are refused in every string argument; well-formed text round-trips exactly", async () => {
    const out = await inPage(async (store) => {
      const text = "emoji \u{1F600} CJK \u4E2D e\u0301 \u2028 nul\u0000 end";
      const run = await store.createRun({ id: `id-${text}`, goal: text, graphJson: text });
      await store.appendEvent({ runId: run.id, seq: 0, waveIndex: 0, eventJson: text });
      await store.appendEvents([{ runId: run.id, seq: 1, waveIndex: 0, eventJson: text }]);
      const lone = ["x\uD800", "x\uDBFF", "\uDFFFx", "a\uD800b", "\uDC00\uD800"];
      const cases = [];
      for (const bad of lone) {
        cases.push(
          ["createRun id", () => store.createRun({ goal: "g", id: bad })],
          ["createRun goal", () => store.createRun({ goal: bad })],
          ["createRun graphJson", () => store.createRun({ goal: "g", graphJson: bad })],
          ["getRun", () => store.getRun(bad)],
          ["listEvents", () => store.listEvents(bad)],
          ["updateRunStatus", () => store.updateRunStatus(bad, "failed")],
          ["updateGraph run", () => store.updateGraph(bad, "{}")],
          ["updateGraph graph", () => store.updateGraph(run.id, bad)],
          ["appendEvent runId", () => store.appendEvent({ runId: bad, seq: 5, waveIndex: 0, eventJson: "{}" })],
          ["appendEvent eventJson", () => store.appendEvent({ runId: run.id, seq: 5, waveIndex: 0, eventJson: bad })],
          ["appendEvents item", () => store.appendEvents([{ runId: run.id, seq: 5, waveIndex: 0, eventJson: "{}" },
            { runId: run.id, seq: 6, waveIndex: 0, eventJson: bad }])],
          ["truncate", () => store.truncateEventsAfterWave(bad, 0)],
          ["claimRun", () => store.claimRun(bad)],
          ["open", () => window.CouncilStore.open(bad)],
        );
      }
      const results = [];
      for (const [label, call] of cases) {
        try {
          await call();
          results.push({ label, outcome: "resolved" });
        } catch (e) {
          results.push({ label, outcome: `${e.name}/${e.kind}`, message: e.message });
        }
      }
      return {
        results,
        text,
        run: await store.getRun(run.id),
        events: await store.listEvents(run.id),
        runs: (await store.listRuns()).length,
      };
    });
    assert.equal(out.results.length, 70);
    for (const r of out.results) {
      assert.equal(r.outcome, "CouncilStoreError/Constraint", `${r.label}: ${r.outcome} ${r.message ?? ""}`);
      assert.match(r.message, /unpaired UTF-16 surrogate/, r.label);
    }
    // Nothing of the refused calls was written; the well-formed text came back as it went in.
    assert.equal(out.runs, 1);
    assert.equal(out.run.id, `id-${out.text}`);
    assert.equal(out.run.goal, out.text);
    assert.equal(out.run.graphJson, out.text);
    assert.deepEqual(out.events.map((e) => [e.seq, e.eventJson]), [[0, out.text], [1, out.text]]);
  });

  test("a database with another layout is refused with a typed error, not a page error", async () => {
    const out = await page.evaluate(async () => {
      const make = (name, build) => new Promise((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => build(req.result);
        req.onsuccess = () => { req.result.close(); resolve(); };
        req.onerror = () => reject(req.error);
      });
      const layouts = {
        // The defect of issue 8: stores without indexes used to open, and a
        // truncate then raised an uncaught page error.
        "no-indexes": (db) => {
          db.createObjectStore("runs", { keyPath: "id" });
          db.createObjectStore("events", { keyPath: ["runId", "seq"] });
        },
        "wrong-key-path": (db) => {
          const runs = db.createObjectStore("runs", { keyPath: "key" });
          runs.createIndex("by_created", ["createdKey", "id"]);
          runs.createIndex("by_status", ["status", "createdKey", "id"]);
          db.createObjectStore("events", { keyPath: ["runId", "seq"] }).createIndex("by_wave", ["runId", "waveIndex"]);
        },
      };
      const results = {};
      for (const [label, build] of Object.entries(layouts)) {
        const name = `js-layout-${label}-${crypto.randomUUID()}`;
        await make(name, build);
        try {
          const store = await window.CouncilStore.open(name);
          await store.truncateEventsAfterWave("r", 0).catch(() => {});
          results[label] = "opened";
        } catch (e) {
          results[label] = `${e.kind}: ${e.message}`;
        }
        await window.CouncilStore.deleteDatabase(name);
      }
      return results;
    });
    assert.match(out["no-indexes"], /^Storage: .*has no index "by_created".*has no index "by_wave"/);
    assert.match(out["wrong-key-path"], /^Storage: .*"runs" has key path "key", not "id"/);
  });

  test("data survives a page reload", async () => {
    const name = `js-reload-${Date.now()}`;
    const written = await page.evaluate(async (name) => {
      const store = await window.CouncilStore.open(name);
      const run = await store.createRun({ goal: "survive", hitlMode: "approve_plan" });
      await store.updateRunStatus(run.id, "awaiting_approval");
      await store.appendEvents(Array.from({ length: 100 }, (_, seq) => ({
        runId: run.id, seq, waveIndex: Math.floor(seq / 25), eventJson: JSON.stringify({ seq }),
      })));
      store.close();
      return { run: await store.constructor.name, id: run.id };
    }, name);
    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    const read = await page.evaluate(async ([name, id]) => {
      const store = await window.CouncilStore.open(name);
      const run = await store.getRun(id);
      const events = await store.listEvents(id);
      store.close();
      await window.CouncilStore.deleteDatabase(name);
      return { run, seqs: events.map((e) => e.seq), last: events.at(-1) };
    }, [name, written.id]);
    assert.equal(read.run.status, "awaiting_approval");
    assert.equal(read.run.goal, "survive");
    assert.deepEqual(read.seqs, Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(JSON.parse(read.last.eventJson), { seq: 99 });
    assert.equal(read.last.waveIndex, 3);
  });

  test("works inside a dedicated Web Worker", async () => {
    const out = await page.evaluate(async () => {
      const worker = new Worker("/tests/js/fixtures/worker.js", { type: "module" });
      const dbName = `js-worker-${crypto.randomUUID()}`;
      const reply = await new Promise((resolve, reject) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.onerror = (e) => reject(new Error(e.message));
        worker.postMessage({ dbName });
      });
      worker.terminate();
      // What the worker wrote is visible from the page.
      const store = await window.CouncilStore.open(dbName);
      const run = reply.ok ? await store.getRun(reply.runId) : null;
      store.close();
      await window.CouncilStore.deleteDatabase(dbName);
      return { reply, goal: run?.goal };
    });
    assert.equal(out.reply.ok, true, out.reply.error);
    assert.deepEqual(out.reply.seqs, [0, 1]);
    assert.equal(out.reply.kind, "CouncilStoreError/NotFound");
    assert.equal(out.goal, "from a worker");
  });

  test("inMemory() keeps the same contract without IndexedDB", async () => {
    const out = await page.evaluate(async () => {
      const store = window.CouncilStore.inMemory();
      const run = await store.createRun({ goal: "memory", id: "m" });
      await store.appendEvents([0, 1, 2].map((seq) => ({ runId: "m", seq, waveIndex: seq, eventJson: `${seq}` })));
      await store.truncateEventsAfterWave("m", 0);
      let dup;
      try { await store.createRun({ goal: "again", id: "m" }); } catch (e) { dup = e.kind; }
      return { run, events: await store.listEvents("m"), dup, count: await store.markInterruptedRuns() };
    });
    assert.equal(out.run.status, "running");
    assert.deepEqual(out.events.map((e) => [e.seq, e.eventJson, e.waveIndex]), [[0, "0", 0]]);
    assert.equal(out.dup, "AlreadyExists");
    assert.equal(out.count, 1);
  });

  // Runs last: nothing above left an uncaught exception behind (for example an
  // IndexedDB event reaching a callback the wasm side had already dropped).
  test("no uncaught errors in the page", async () => {
    await page.flushPageErrors();
    assert.deepEqual(pageErrors, []);
  });
});
