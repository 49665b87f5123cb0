// Following runs live (watchEvents, watchRuns) in Chromium, Firefox and
// WebKit ($ENGINES picks some): a writer tab streams appendNext events with
// a rewind in the middle while watchers in other tabs, started at different
// moments and positions, each rebuild exactly the stored log; deletes end
// watches; callbacks that throw or stop themselves; many watchers; the
// in-memory store.
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

// Installed in every tab: a watcher that records what it received and
// rebuilds the log from it, applying rewind markers as documented.
function installWatcherKit() {
  window.watchers = {};
  window.startWatch = (key, store, runId, fromSeq) => {
    const got = { events: [], batches: 0, markers: [], deleted: false, duplicates: 0, disorder: 0 };
    got.stop = store.watchEvents(runId, { fromSeq }, (batch) => {
      if (Array.isArray(batch)) {
        got.batches++;
        for (const e of batch) {
          const last = got.events[got.events.length - 1];
          if (last && e.seq <= last.seq) got.disorder++;
          if (got.events.some((k) => k.seq === e.seq)) got.duplicates++;
          got.events.push(e);
        }
      } else if (batch.rewound) {
        const { afterWave, nextSeq } = batch.rewound;
        got.markers.push(batch.rewound);
        got.events = got.events.filter((e) => e.waveIndex <= afterWave && e.seq < nextSeq);
      } else if (batch.deleted) {
        got.deleted = true;
      }
    });
    window.watchers[key] = got;
  };
  window.report = (key) => {
    const got = window.watchers[key];
    return {
      seqs: got.events.map((e) => e.seq),
      json: got.events.map((e) => e.eventJson),
      markers: got.markers, deleted: got.deleted, duplicates: got.duplicates,
      disorder: got.disorder, batches: got.batches,
    };
  };
}

for (const engine of ENGINES) describe(engine, () => {
  let browser;
  const pageErrors = [];

  before(async () => {
    browser = await launchBrowser(engine);
  });

  after(async () => {
    await browser?.close();
  });

  async function newTab(label, name) {
    const page = await browser.newPage();
    page.onPageError((e) => pageErrors.push(`${label}: ${e}`));
    await page.goto(`${server.url}/tests/js/fixtures/page.html`);
    await page.waitForFunction(() => window.ready === true);
    await page.evaluate(installWatcherKit);
    if (name) await page.evaluate(async (name) => { window.store = await window.CouncilStore.open(name); }, name);
    return page;
  }

  /** What the writer stored in the end, from `fromSeq` on. */
  const storedFrom = (page, runId, fromSeq) => page.evaluate(async ([runId, fromSeq]) => {
    const events = (await window.store.listEvents(runId)).filter((e) => e.seq >= fromSeq);
    return { seqs: events.map((e) => e.seq), json: events.map((e) => e.eventJson) };
  }, [runId, fromSeq]);

  test("watchers in other tabs follow a run live through a rewind, each event once", async () => {
    const name = `js-live-${crypto.randomUUID()}`;
    const writer = await newTab("writer", name);
    const early = await newTab("early", name);
    const runId = await writer.evaluate(async () => (await window.store.createRun({ goal: "live" })).id);
    // B watches from 0 before anything is written.
    await early.evaluate((runId) => window.startWatch("early", window.store, runId, 0), runId);
    // A streams 2,000 appendNext calls over 5 waves without awaiting them,
    // with a rewind to wave 2 after the 1,200th; C joins mid-stream at 500.
    const streaming = writer.evaluate(async (runId) => {
      const calls = [];
      for (let i = 0; i < 2000; i++) {
        if (i === 1200) calls.push(window.store.truncateEventsAfterWave(runId, 2));
        const wave = i < 1200 ? Math.floor(i / 300) : 3 + Math.floor((i - 1200) / 400);
        calls.push(window.store.appendNext(runId, { waveIndex: wave, eventJson: `{"i":${i}}` }));
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 0));
      }
      await Promise.all(calls);
    }, runId);
    const middle = await newTab("middle", name);
    await middle.evaluate((runId) => window.startWatch("middle", window.store, runId, 500), runId);
    await streaming;
    const late = await newTab("late", name);
    await late.evaluate((runId) => window.startWatch("late", window.store, runId, 0), runId);

    const final0 = await storedFrom(writer, runId, 0);
    const final500 = await storedFrom(writer, runId, 500);
    // 900 events of waves 0..2 survive the rewind, then 800 more follow.
    assert.equal(final0.seqs.length, 1700);
    for (const [page, key, want] of [[early, "early", final0], [middle, "middle", final500], [late, "late", final0]]) {
      const got = await page.evaluate(async ([key, count]) => {
        const started = performance.now();
        while (window.report(key).seqs.length < count || window.watchers[key].events.length !== count) {
          if (performance.now() - started > 10_000) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        return window.report(key);
      }, [key, want.seqs.length]);
      assert.equal(got.duplicates, 0, `${key}: duplicates`);
      assert.deepEqual(got.seqs, want.seqs, `${key}: seqs`);
      assert.deepEqual(got.json, want.json, `${key}: content`);
      assert.equal(got.deleted, false);
      if (key === "late") assert.deepEqual(got.markers, [], "a rewind before the watch is history");
    }
    const earlyReport = await early.evaluate(() => window.report("early"));
    assert.ok(earlyReport.batches < 2000, `events come in batches (${earlyReport.batches})`);

    // Deleting the run ends every watch with { deleted: true }.
    await writer.evaluate((runId) => window.store.deleteRun(runId), runId);
    for (const [page, key] of [[early, "early"], [middle, "middle"], [late, "late"]]) {
      const deleted = await page.evaluate(async (key) => {
        const started = performance.now();
        while (!window.watchers[key].deleted && performance.now() - started < 5_000) {
          await new Promise((r) => setTimeout(r, 20));
        }
        return window.watchers[key].deleted;
      }, key);
      assert.equal(deleted, true, `${key} saw the delete`);
    }
    for (const page of [writer, early, middle, late]) {
      await page.evaluate(() => window.store.close());
      await page.close();
    }
    assert.deepEqual(pageErrors.splice(0), []);
  });

  test("a run deleted and created again with the same id ends the watch, in another tab and in the same store", async () => {
    // The watcher's read after the delete found the new run and took it for
    // the old one: it went on showing the deleted run's events, never got
    // { deleted: true } and missed the new run's (every time, in both cases).
    const name = `live-recreate-${crypto.randomUUID()}`;
    const writer = await newTab("writer", name);
    const reader = await newTab("reader", name);
    await writer.evaluate(() => {
      window.first = async (store, id) => {
        await store.createRun({ goal: "first", id });
        await store.appendEvents(Array.from({ length: 10 }, (_, seq) => ({ runId: id, seq, waveIndex: 0, eventJson: `"old ${seq}"` })));
      };
      // Not awaited one by one: the watcher reads after all three.
      window.recreate = (store, id) => Promise.all([
        store.deleteRun(id),
        store.createRun({ goal: "again", id }),
        store.appendEvents([0, 1, 2].map((seq) => ({ runId: id, seq, waveIndex: 0, eventJson: `"new ${seq}"` }))),
      ]);
    });
    const watchUntil = async (page, key, id, count) => page.evaluate(async ([key, id, count]) => {
      window.startWatch(key, window.store, id, 0);
      const started = performance.now();
      while (window.watchers[key].events.length < count && performance.now() - started < 5_000) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }, [key, id, count]);
    const settled = (page, key) => page.evaluate(async (key) => {
      const started = performance.now();
      while (!window.watchers[key].deleted && performance.now() - started < 2_000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 100));
      return window.report(key);
    }, key);
    for (const [key, watcher] of [["other tab", reader], ["same store", writer]]) {
      const id = `again-${key}`;
      await writer.evaluate((id) => window.first(window.store, id), id);
      await watchUntil(watcher, key, id, 10);
      await writer.evaluate((id) => window.recreate(window.store, id), id);
      const got = await settled(watcher, key);
      assert.equal(got.deleted, true, `${key}: ${JSON.stringify(got.json)}`);
      assert.equal(got.json.length, 10, `${key}: nothing after the end`);
    }
    for (const page of [writer, reader]) {
      await page.evaluate(() => window.store.close());
      await page.close();
    }
    assert.deepEqual(pageErrors.splice(0), []);
  });

  test("the same with the writer in a dedicated worker", async () => {
    const name = `js-live-worker-${crypto.randomUUID()}`;
    const page = await newTab("page", name);
    const out = await page.evaluate(async (name) => {
      const worker = new Worker("/tests/js/fixtures/live-writer.js", { type: "module" });
      const errors = [];
      worker.onerror = (e) => errors.push(String(e.message ?? e));
      const runId = await new Promise((resolve) => {
        worker.onmessage = ({ data }) => data.runId && resolve(data.runId);
        worker.postMessage({ dbName: name, count: 600 });
      });
      window.startWatch("w", window.store, runId, 0);
      await new Promise((resolve) => {
        worker.onmessage = ({ data }) => data.done && resolve();
      });
      const stored = (await window.store.listEvents(runId)).map((e) => e.seq);
      const started = performance.now();
      while (window.report("w").seqs.length !== stored.length && performance.now() - started < 10_000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      worker.terminate();
      return { stored, got: window.report("w"), errors };
    }, name);
    assert.deepEqual(out.errors, []);
    assert.equal(out.stored.length, 480); // 180 kept of waves 0..2, then 300
    assert.deepEqual(out.got.seqs, out.stored);
    assert.equal(out.got.duplicates, 0);
    await page.evaluate(() => window.store.close());
    await page.close();
    assert.deepEqual(pageErrors.splice(0), []);
  });

  test("throwing callbacks, a watch stopped in its callback, 1,000 watchers, an unknown run, watchRuns", async () => {
    const name = `js-live-edge-${crypto.randomUUID()}`;
    const page = await newTab("edge", name);
    const out = await page.evaluate(async () => {
      const store = window.store;
      const reported = [];
      const onError = (e) => {
        reported.push(String(e.error?.message ?? e.message));
        e.preventDefault();
      };
      window.addEventListener("error", onError);
      const run = await store.createRun({ goal: "edges" });
      const changes = [];
      const stopRuns = store.watchRuns((c) => changes.push(`${c.kind}${c.status ? ":" + c.status : ""}`));
      let thrown = 0;
      store.watchEvents(run.id, {}, () => {
        thrown++;
        throw new Error("watcher bug");
      });
      let selfStopped = 0;
      const stopSelf = store.watchEvents(run.id, {}, (batch) => {
        selfStopped += Array.isArray(batch) ? batch.length : 0;
        stopSelf();
      });
      const many = Array.from({ length: 1000 }, () => ({ n: 0 }));
      const stops = many.map((w) => store.watchEvents(run.id, {}, (batch) => { w.n += batch.length; }));
      let unknown = null;
      store.watchEvents("no-such-run", {}, (batch) => { unknown = batch; });
      const controller = new AbortController();
      let aborted = 0;
      store.watchEvents(run.id, { signal: controller.signal }, (batch) => { aborted += batch.length; });
      controller.abort();
      for (let i = 0; i < 20; i++) await store.appendNext(run.id, { waveIndex: 0, eventJson: "{}" });
      await store.updateGraph(run.id, "{}");
      await store.updateRunStatus(run.id, "completed");
      const started = performance.now();
      while (many.some((w) => w.n < 20) && performance.now() - started < 20_000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 200));
      stops.forEach((stop) => stop());
      stopRuns();
      window.removeEventListener("error", onError);
      let badArgs = [];
      for (const call of [
        () => store.watchEvents(run.id, {}, "not a function"),
        () => store.watchEvents(run.id, { fromSeq: -1 }, () => {}),
        () => store.watchEvents(run.id, { colour: 1 }, () => {}),
        () => store.watchEvents(42, {}, () => {}),
        () => store.watchRuns(null),
      ]) {
        try {
          call();
          badArgs.push("returned");
        } catch (e) {
          badArgs.push(`${e.name}/${e.kind}`);
        }
      }
      return {
        thrown, reported: reported.length, selfStopped, aborted, unknown,
        everyWatcher: many.every((w) => w.n === 20), changes, badArgs,
      };
    });
    assert.ok(out.thrown >= 1 && out.reported === out.thrown, `thrown ${out.thrown}, reported ${out.reported}`);
    assert.ok(out.selfStopped >= 1 && out.selfStopped < 20, `stopped after its first batch (${out.selfStopped})`);
    assert.equal(out.aborted, 0);
    assert.deepEqual(out.unknown, { deleted: true });
    assert.equal(out.everyWatcher, true);
    assert.ok(out.changes.includes("appended"), out.changes.join());
    assert.ok(out.changes.includes("graph"), out.changes.join());
    assert.ok(out.changes.includes("status:completed"), out.changes.join());
    assert.deepEqual(out.badArgs, Array(5).fill("CouncilStoreError/Constraint"));
    await page.evaluate(() => window.store.close());
    await page.close();
    // The throwing watcher's errors are reported as page errors (that is the
    // point); where the engine's recorder sees them, they are the only ones.
    assert.deepEqual(pageErrors.splice(0).filter((e) => !e.includes("watcher bug")), []);
  });

  test("a burst of appends shares notices, in order, and its last event reaches a watcher in another tab", async (t) => {
    const name = `live-burst-${crypto.randomUUID()}`;
    const writer = await newTab("writer", name);
    const reader = await newTab("reader", name);
    const [a, b] = await writer.evaluate(async () => [
      (await window.store.createRun({ goal: "burst a" })).id,
      (await window.store.createRun({ goal: "burst b" })).id,
    ]);
    await reader.evaluate(([a]) => {
      window.changes = [];
      window.stopRuns = window.store.watchRuns((c) => window.changes.push(`${c.kind}:${c.runId}`));
      window.startWatch("a", window.store, a, 0);
    }, [a]);
    // 200 appends to run a and 4 to run b, awaited one by one (unawaited
    // ones share a transaction and so a notice anyway), then a graph
    // change; then one more append with nothing after it.
    const tookMs = await writer.evaluate(async ([a, b]) => {
      const start = performance.now();
      for (let i = 0; i < 200; i++) {
        await window.store.appendNext(a, { waveIndex: 0, eventJson: `{"i":${i}}` });
        if (i % 50 === 25) await window.store.appendNext(b, { waveIndex: 0, eventJson: `{"i":${i}}` });
      }
      const tookMs = performance.now() - start;
      await window.store.updateGraph(a, "{}");
      await window.store.appendNext(a, { waveIndex: 1, eventJson: '{"last":true}' });
      return tookMs;
    }, [a, b]);
    const out = await reader.evaluate(async (a) => {
      const start = performance.now();
      const done = () => window.watchers.a.events.length >= 201 &&
        window.changes.slice(window.changes.indexOf(`graph:${a}`)).includes(`appended:${a}`);
      while (!done() && performance.now() - start < 5_000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      window.stopRuns();
      window.watchers.a.stop();
      return { changes: window.changes, report: window.report("a") };
    }, a);
    const graphAt = out.changes.indexOf(`graph:${a}`);
    const before = out.changes.slice(0, graphAt);
    const appendedBefore = (run) => before.filter((c) => c === `appended:${run}`).length;
    assert.ok(graphAt > 0, out.changes.join());
    assert.ok(appendedBefore(a) >= 1 && appendedBefore(b) >= 1, before.join());
    // Per window of 8 ms (7 and more: a timer's delay may be rounded down):
    // two notices at once, then at its end one per run appended to since
    // (run a; run b in at most 4 windows); and the graph change sends what
    // waits. 204 notices if none were merged.
    const bound = 3 * (Math.ceil(tookMs / 7) + 1) + 4 + 2;
    assert.ok(before.length <= bound, `${before.length} notices for 204 appends in ${tookMs} ms: more than ${bound}`);
    t.diagnostic(`${before.length} notices (at most ${bound}) for 204 awaited appends in ${Math.round(tookMs)} ms`);
    assert.deepEqual(out.changes.slice(graphAt + 1), [`appended:${a}`], "after the graph change: the last append's notice");
    assert.equal(out.report.seqs.length, 201);
    assert.equal(out.report.json.at(-1), '{"last":true}');
    await writer.evaluate(async (name) => {
      window.store.close();
      await window.CouncilStore.deleteDatabase(name);
    }, name);
    await reader.evaluate(() => window.store.close());
    await writer.close();
    await reader.close();
    assert.deepEqual(pageErrors.splice(0), []);
  });

  test("closing a store ends its watches: no callback and no page error after it, while other tabs write on", async () => {
    const name = `js-live-close-${crypto.randomUUID()}`;
    const writer = await newTab("writer", name);
    const reader = await newTab("reader", name);
    const runId = await writer.evaluate(async () => {
      const run = await window.store.createRun({ goal: "closing" });
      for (let i = 0; i < 5; i++) await window.store.appendNext(run.id, { waveIndex: 0, eventJson: `${i}` });
      return run.id;
    });
    // The reader watches with two stores; only the first one closes.
    const atClose = await reader.evaluate(async ([runId, name]) => {
      window.other = await window.CouncilStore.open(name);
      window.changes = { closing: 0, other: 0 };
      window.store.watchRuns(() => window.changes.closing++);
      window.other.watchRuns(() => window.changes.other++);
      window.startWatch("closing", window.store, runId, 0);
      window.startWatch("other", window.other, runId, 0);
      const started = performance.now();
      while (window.report("closing").seqs.length < 5 && performance.now() - started < 5_000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      window.store.close();
      // A watch begun on the closed store delivers nothing.
      window.startWatch("after", window.store, runId, 0);
      return { seqs: window.report("closing").seqs, changes: window.changes.closing };
    }, [runId, name]);
    assert.deepEqual(atClose.seqs, [0, 1, 2, 3, 4]);
    await writer.evaluate(async (runId) => {
      const calls = [];
      for (let i = 5; i < 25; i++) calls.push(window.store.appendNext(runId, { waveIndex: 1, eventJson: `${i}` }));
      calls.push(window.store.truncateEventsAfterWave(runId, 0));
      calls.push(window.store.updateRunStatus(runId, "awaiting_approval"));
      await Promise.all(calls);
    }, runId);
    const after = await reader.evaluate(async () => {
      const started = performance.now();
      // The open store's watch sees the rewind; then give notices time to land.
      while (window.report("other").markers.length < 1 && performance.now() - started < 5_000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 300));
      return {
        closing: window.report("closing"), after: window.report("after"), other: window.report("other"),
        changes: window.changes,
      };
    });
    assert.deepEqual(after.closing.seqs, atClose.seqs, "no events after close");
    assert.deepEqual(after.closing.markers, [], "no rewind after close");
    assert.equal(after.changes.closing, atClose.changes, "no watchRuns change after close");
    assert.deepEqual(after.after.seqs, [], "a watch begun after close delivers nothing");
    assert.equal(after.after.deleted, false);
    // The other store's watches go on.
    assert.deepEqual(after.other.seqs, [0, 1, 2, 3, 4]);
    assert.equal(after.other.markers.length, 1);
    assert.ok(after.changes.other > 0);
    await reader.evaluate(() => window.other.close());
    await writer.evaluate(() => window.store.close());
    await writer.close();
    await reader.close();
    assert.deepEqual(pageErrors.splice(0), [], "no page error after close");
  });

  test("watchRuns tells an in-memory store's changes with the fields an IndexedDB store's have", async () => {
    const page = await newTab("notices");
    const out = await page.evaluate(async (name) => {
      const follow = async (store) => {
        const heard = [];
        const stop = store.watchRuns((change) => heard.push(change));
        const id = "notice-run";
        await store.createRun({ id, goal: "notices" });
        for (let i = 0; i < 4; i++) await store.appendNext(id, { waveIndex: i < 2 ? 0 : 1, eventJson: `${i}` });
        await store.updateRunStatus(id, "awaiting_approval");
        await store.updateGraph(id, "{}");
        await store.truncateEventsAfterWave(id, 0);
        await store.deleteRun(id);
        const started = performance.now();
        while (!heard.some((c) => c.kind === "deleted") && performance.now() - started < 5_000) {
          await new Promise((r) => setTimeout(r, 20));
        }
        stop();
        // How many "appended" notices a burst gives differs (an IndexedDB
        // store merges them); an "owner" one is about locks.
        return heard.filter((c) => c.kind !== "appended" && c.kind !== "owner");
      };
      const idb = await window.CouncilStore.open(name);
      const fromIdb = await follow(idb);
      idb.close();
      return { fromIdb, fromMemory: await follow(window.CouncilStore.inMemory()) };
    }, `js-live-notices-${crypto.randomUUID()}`);
    const id = "notice-run";
    assert.deepEqual(out.fromIdb, [
      { kind: "created", runId: id },
      { kind: "status", runId: id, status: "awaiting_approval" },
      { kind: "graph", runId: id },
      { kind: "rewound", runId: id, afterWave: 0, nextSeq: 2 },
      { kind: "deleted", runId: id },
    ]);
    assert.deepEqual(out.fromMemory, out.fromIdb);
    await page.close();
    assert.deepEqual(pageErrors.splice(0), []);
  });

  test("an in-memory store's watchers follow it too", async () => {
    const page = await newTab("memory");
    const out = await page.evaluate(async () => {
      const store = window.CouncilStore.inMemory();
      const run = await store.createRun({ goal: "in memory" });
      window.startWatch("m", store, run.id, 0);
      const calls = [];
      for (let i = 0; i < 30; i++) calls.push(store.appendNext(run.id, { waveIndex: Math.floor(i / 10), eventJson: `${i}` }));
      calls.push(store.truncateEventsAfterWave(run.id, 0));
      for (let i = 0; i < 5; i++) calls.push(store.appendNext(run.id, { waveIndex: 1, eventJson: `again ${i}` }));
      await Promise.all(calls);
      await new Promise((r) => setTimeout(r, 100));
      const stored = (await store.listEvents(run.id)).map((e) => e.eventJson);
      await store.deleteRun(run.id);
      await new Promise((r) => setTimeout(r, 50));
      return { stored, got: window.report("m") };
    });
    assert.equal(out.stored.length, 15);
    assert.deepEqual(out.got.json, out.stored);
    assert.equal(out.got.deleted, true);
    await page.close();
    assert.deepEqual(pageErrors.splice(0), []);
  });
});
