// Keeping the store within its quota, in Chromium, Firefox and WebKit (one
// suite per engine, $ENGINES picks some): pruneRuns (its options, what each
// criterion selects, runs another tab owns, watchers told of each deletion,
// the in-memory store), CouncilStore.persist() and estimate(), and a real
// quota failure where the engine lets a test set the quota: Chromium through
// the DevTools protocol (Storage.overrideQuotaForOrigin), Firefox through a
// small fixed storage limit in its profile. WebKitGTK's automation session
// keeps IndexedDB in memory and offers no way to set a quota.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ENGINES, launchBrowser, serveDirectory } from "./support.mjs";

let server;

before(async () => {
  server = await serveDirectory();
});

after(async () => {
  await server?.close();
});

// Firefox: the whole profile gets 4 MiB of storage (its quota manager's
// global limit, in KiB; one origin may use all of it), and persist() answers
// at once instead of showing a permission prompt, which headless Firefox
// never answers: the call would hang.
const FIREFOX_QUOTA_KIB = 4096;
const firefoxPrefs = {
  "dom.quotaManager.temporaryStorage.fixedLimit": FIREFOX_QUOTA_KIB,
  "dom.storageManager.prompt.testing": true,
  "dom.storageManager.prompt.testing.allow": true,
};
// Chromium: the quota set for the origin of the quota test.
const CHROMIUM_QUOTA = 3 * 1024 * 1024;

/** Installed in every page: helpers the page-side test code uses. */
function installKit() {
  // `chars` characters of incompressible text (base64 of random bytes):
  // Chromium compresses what it stores, so repeated text fills nothing.
  window.noise = (chars) => {
    const bytes = new Uint8Array(Math.ceil((chars * 3) / 4));
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    let binary = "";
    for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return btoa(binary).slice(0, chars);
  };
  // What a test needs to know of a rejection.
  window.describeError = (e) => ({
    isError: e instanceof Error, name: e?.name, kind: e?.kind, message: e?.message,
    domName: e?.domName, causeIsDomException: e?.cause instanceof DOMException, causeName: e?.cause?.name,
  });
  // "resolved: <value>" or "<name>/<kind>: <message>".
  window.outcome = async (promise) => {
    try {
      return `resolved: ${JSON.stringify(await promise)}`;
    } catch (e) {
      return e instanceof Error ? `${e.name}/${e.kind}: ${e.message}` : `non-Error ${String(e)}`;
    }
  };
  window.until = async (what, check, timeout = 5_000) => {
    const start = performance.now();
    while (!(await check())) {
      if (performance.now() - start > timeout) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  // `promise`, or "hung" after `ms`.
  window.within = (promise, ms) => Promise.race([promise, new Promise((r) => setTimeout(() => r("hung"), ms))]);
}

for (const engine of ENGINES) describe(engine, { timeout: 180_000 }, () => {
  let browser;
  // The tab most tests run in; tests that need more open them, and they
  // are closed after the test.
  let page;
  let pages = [];
  // Uncaught errors of every page, labelled; checked after each test.
  const pageErrors = [];

  before(async () => {
    browser = await launchBrowser(engine, { firefoxPrefs });
    page = await newTab("main");
    pages = [];
  });

  after(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    // Closing a page, or flushing it, collects its last uncaught errors.
    await Promise.all(pages.map((p) => p.close()));
    pages = [];
    await page.flushPageErrors();
    assert.deepEqual(pageErrors.splice(0), [], "uncaught errors in a page");
  });

  /** A new tab on the fixture page of `origin`, with the kit installed. */
  async function newTab(label, origin = server.url) {
    const tab = await browser.newPage();
    pages.push(tab);
    tab.onPageError((e) => pageErrors.push(`${label}: ${e}`));
    await tab.goto(`${origin}/tests/js/fixtures/page.html`);
    await tab.waitForFunction(() => window.ready === true);
    await tab.evaluate(installKit);
    return tab;
  }

  const dbName = (what) => `durability-${what}-${crypto.randomUUID()}`;

  // ------------------------------------------------------------ pruneRuns

  test("pruneRuns refuses bad options with Constraint and deletes nothing (IndexedDB and in memory)", async () => {
    const out = await page.evaluate(async (name) => {
      const results = {};
      for (const [label, store] of [["idb", await window.CouncilStore.open(name)], ["memory", window.CouncilStore.inMemory()]]) {
        for (const id of ["a", "b"]) {
          await store.createRun({ goal: id, id, createdAt: "2020-01-01T00:00:00Z" });
          await store.updateRunStatus(id, "completed");
        }
        const cases = {
          "no argument": () => store.pruneRuns(),
          "null": () => store.pruneRuns(null),
          "array": () => store.pruneRuns([]),
          "empty object": () => store.pruneRuns({}),
          "only undefined fields": () => store.pruneRuns({ keepLatest: undefined, olderThan: undefined }),
          "olderThan not RFC 3339": () => store.pruneRuns({ olderThan: "last tuesday" }),
          "olderThan invalid Date": () => store.pruneRuns({ olderThan: new Date("never") }),
          "olderThan number": () => store.pruneRuns({ olderThan: Date.now() }),
          "olderThan null": () => store.pruneRuns({ olderThan: null }),
          "unknown field": () => store.pruneRuns({ olderThn: new Date() }),
          "unknown field beside a good one": () => store.pruneRuns({ keepLatest: 0, colour: "red" }),
          "statuses a string": () => store.pruneRuns({ statuses: "completed" }),
          "statuses with a bad status": () => store.pruneRuns({ statuses: ["completed", "done"] }),
          "statuses with a number": () => store.pruneRuns({ statuses: [3] }),
          "keepLatest negative": () => store.pruneRuns({ keepLatest: -1 }),
          "keepLatest fractional": () => store.pruneRuns({ keepLatest: 1.5 }),
          "keepLatest string": () => store.pruneRuns({ keepLatest: "2" }),
        };
        const outcomes = {};
        for (const [what, call] of Object.entries(cases)) {
          try {
            outcomes[what] = { resolved: await call() };
          } catch (e) {
            outcomes[what] = window.describeError(e);
          }
        }
        results[label] = { outcomes, left: (await store.listRuns()).map((r) => r.id) };
        store.close();
      }
      await window.CouncilStore.deleteDatabase(name);
      return results;
    }, dbName("options"));
    for (const [label, { outcomes, left }] of Object.entries(out)) {
      for (const [what, e] of Object.entries(outcomes)) {
        assert.equal(e.isError, true, `${label}, ${what}: ${JSON.stringify(e)}`);
        assert.equal(e.name, "CouncilStoreError", `${label}, ${what}`);
        assert.equal(e.kind, "Constraint", `${label}, ${what}: ${e.message}`);
        assert.equal(e.domName, undefined, `${label}, ${what}`);
      }
      assert.match(outcomes["empty object"].message, /keepLatest, olderThan or statuses/);
      assert.match(outcomes["olderThan not RFC 3339"].message, /last tuesday/);
      assert.match(outcomes["olderThan invalid Date"].message, /olderThan is an invalid Date/);
      assert.match(outcomes["unknown field"].message, /unknown field "olderThn"/);
      assert.match(outcomes["unknown field beside a good one"].message, /unknown field "colour"/);
      assert.match(outcomes["statuses a string"].message, /statuses must be an array/);
      assert.match(outcomes["statuses with a bad status"].message, /"done"/);
      assert.match(outcomes["keepLatest negative"].message, /keepLatest/);
      assert.deepEqual(left, ["b", "a"], `${label}: a refused prune deleted runs`);
    }
  });

  // The runs every selection test starts from (newest first by instant):
  // r7 now, r6 2025, r5 2024-01-01T05:00Z, r4 2023, r3 2022,
  // r2 2020-12-31T22:00Z (written with +02:00), r1 2020-01-01.
  // r5 and r6 are released by their creator: nobody owns them.
  const SELECTIONS = [
    { label: "olderThan as a Date", prunes: [{ olderThan: { date: "2022-01-01T00:00:00Z" } }], counts: [2], gone: ["r1", "r2"] },
    // By instant, not by string: "2021-01-01T00:00:00+02:00" is before
    // 23:00Z on the 31st, after 21:00Z.
    { label: "olderThan as strings, compared as instants",
      prunes: [{ olderThan: "2020-12-31T21:00:00Z" }, { olderThan: "2020-12-31T23:00:00+00:00" }], counts: [1, 1], gone: ["r1", "r2"] },
    { label: "statuses", prunes: [{ statuses: ["completed"] }], counts: [3], gone: ["r1", "r4", "r7"] },
    { label: "statuses of an unowned running run", prunes: [{ statuses: ["running", "awaiting_approval"] }], counts: [2], gone: ["r5", "r6"] },
    { label: "keepLatest alone", prunes: [{ keepLatest: 3 }], counts: [4], gone: ["r1", "r2", "r3", "r4"] },
    { label: "keepLatest counts every run, then statuses filter",
      prunes: [{ keepLatest: 2, statuses: ["completed", "failed", "interrupted"] }], counts: [4], gone: ["r1", "r2", "r3", "r4"] },
    { label: "all three criteria",
      prunes: [{ keepLatest: 1, olderThan: { date: "2024-06-01T00:00:00Z" }, statuses: ["running", "awaiting_approval", "completed"] }],
      counts: [3], gone: ["r1", "r4", "r5"] },
    { label: "nothing selected", prunes: [{ statuses: [] }, { keepLatest: 7 }, { olderThan: "1999-01-01T00:00:00Z" }], counts: [0, 0, 0], gone: [] },
    { label: "keepLatest 0 selects every run", prunes: [{ keepLatest: 0 }], counts: [7], gone: ["r1", "r2", "r3", "r4", "r5", "r6", "r7"] },
  ];

  /**
   * In the page: for each selection, a fresh store (IndexedDB, or in memory)
   * with the runs above and three events each, a watchRuns watcher, the
   * prunes; what each prune resolved to, which runs and events are left,
   * and which runs the watcher heard deleted.
   */
  async function pruneSelections(inMemory) {
    return page.evaluate(async ([selections, inMemory]) => {
      const RUNS = [
        ["r1", "2020-01-01T00:00:00Z", "completed"],
        ["r2", "2021-01-01T00:00:00+02:00", "failed"],
        ["r3", "2022-06-01T12:00:00Z", "interrupted"],
        ["r4", "2023-01-01T00:00:00Z", "completed"],
        ["r5", "2024-01-01T00:00:00-05:00", "running"],
        ["r6", "2025-01-01T00:00:00Z", "awaiting_approval"],
        ["r7", null, "completed"],
      ];
      // The selections run side by side, each on a database of its own.
      return Promise.all(selections.map(async ({ label, prunes }) => {
        const name = `durability-select-${crypto.randomUUID()}`;
        const store = inMemory ? window.CouncilStore.inMemory() : await window.CouncilStore.open(name);
        // Calls take effect in call order: only the last needs awaiting.
        const setup = [];
        for (const [id, createdAt, status] of RUNS) {
          setup.push(store.createRun({ goal: id, id, ...(createdAt && { createdAt }) }));
          setup.push(store.appendEvents([0, 1, 2].map((seq) => ({ runId: id, seq, waveIndex: seq, eventJson: `{"${id}":${seq}}` }))));
          if (status !== "running") setup.push(store.updateRunStatus(id, status));
          if (status === "running" || status === "awaiting_approval") setup.push(store.releaseRun(id));
        }
        await Promise.all(setup);
        const heard = [];
        const stop = store.watchRuns(({ kind, runId }) => {
          if (kind === "deleted") heard.push(runId);
        });
        const counts = [];
        for (const prune of prunes) {
          const options = { ...prune };
          if (options.olderThan?.date) options.olderThan = new Date(options.olderThan.date);
          counts.push(await store.pruneRuns(options));
        }
        const deleted = counts.reduce((a, b) => a + b, 0);
        await window.until(`${label}: ${deleted} deletions heard`, () => heard.length >= deleted);
        // Any deletion heard beyond those would come about now.
        await new Promise((r) => setTimeout(r, 50));
        stop();
        const left = (await store.listRuns()).map((r) => r.id);
        const events = {};
        const nextSeqs = {};
        for (const [id] of RUNS) {
          events[id] = (await store.listEvents(id)).map((e) => e.seq);
          nextSeqs[id] = await window.outcome(store.nextSeq(id));
        }
        store.close();
        if (!inMemory) await window.CouncilStore.deleteDatabase(name);
        return { label, counts, heard: heard.sort(), left, events, nextSeqs };
      }));
    }, [SELECTIONS, inMemory]);
  }

  function assertSelections(results, where) {
    const all = ["r1", "r2", "r3", "r4", "r5", "r6", "r7"];
    assert.equal(results.length, SELECTIONS.length);
    results.forEach((got, i) => {
      const { label, counts, gone } = SELECTIONS[i];
      const at = `${where}, ${label}`;
      assert.deepEqual(got.counts, counts, `${at}: what each prune resolved to`);
      assert.deepEqual(got.heard, gone, `${at}: runs watchRuns heard deleted`);
      const kept = all.filter((id) => !gone.includes(id));
      // listRuns is newest first: r7 ... r1.
      assert.deepEqual(got.left, [...kept].reverse(), `${at}: runs left`);
      for (const id of all) {
        if (gone.includes(id)) {
          assert.deepEqual(got.events[id], [], `${at}: events of pruned ${id}`);
          assert.match(got.nextSeqs[id], /^CouncilStoreError\/NotFound/, `${at}: nextSeq of pruned ${id}`);
        } else {
          assert.deepEqual(got.events[id], [0, 1, 2], `${at}: events of kept ${id}`);
          assert.equal(got.nextSeqs[id], "resolved: 3", `${at}: nextSeq of kept ${id}`);
        }
      }
    });
  }

  test("pruneRuns deletes the runs every given criterion selects, with their events, and watchRuns hears each", async () => {
    assertSelections(await pruneSelections(false), "IndexedDB");
  });

  test("pruneRuns on the in-memory store selects the same runs", async () => {
    assertSelections(await pruneSelections(true), "in memory");
  });

  test("pruneRuns never deletes a run a live store owns: another tab's, or its own", async () => {
    const name = dbName("owned");
    const owner = await newTab("owner");
    const pruner = page;
    const old = "2020-01-01T00:00:00Z";
    await owner.evaluate(async ([name, old]) => {
      window.store = await window.CouncilStore.open(name);
      window.heard = [];
      window.store.watchRuns(({ kind, runId }) => kind === "deleted" && window.heard.push(runId));
      for (const id of ["theirs-running", "theirs-awaiting"]) {
        await window.store.createRun({ goal: id, id, createdAt: old });
        await window.store.appendNext(id, { waveIndex: 0, eventJson: "{}" });
      }
      await window.store.updateRunStatus("theirs-awaiting", "awaiting_approval");
    }, [name, old]);
    const out = await pruner.evaluate(async ([name, old]) => {
      const store = (window.store = await window.CouncilStore.open(name));
      window.heard = [];
      store.watchRuns(({ kind, runId }) => kind === "deleted" && window.heard.push(runId));
      await store.createRun({ goal: "mine", id: "mine", createdAt: old });
      await store.createRun({ goal: "released", id: "released", createdAt: old });
      await store.releaseRun("released");
      await store.createRun({ goal: "done", id: "done", createdAt: old });
      await store.updateRunStatus("done", "completed");
      for (const id of ["mine", "released", "done"]) await store.appendNext(id, { waveIndex: 0, eventJson: "{}" });
      const ownedElsewhere = await store.runsOwnedElsewhere();
      const first = await store.pruneRuns({ olderThan: new Date() });
      const again = await store.pruneRuns({ keepLatest: 0 });
      await window.until("two deletions heard", () => window.heard.length >= 2);
      return {
        ownedElsewhere, first, again,
        left: (await store.listRuns()).map((r) => r.id).sort(),
        theirEvents: (await store.listEvents("theirs-running")).length,
      };
    }, [name, old]);
    assert.deepEqual(out.ownedElsewhere, ["theirs-awaiting", "theirs-running"]);
    assert.equal(out.first, 2, "the released and the completed run go");
    assert.equal(out.again, 0, "every run left is owned by a live store");
    assert.deepEqual(out.left, ["mine", "theirs-awaiting", "theirs-running"]);
    assert.equal(out.theirEvents, 1);
    // The owner's tab heard both deletions, and only those.
    const ownerHeard = await owner.evaluate(async () => {
      await window.until("two deletions heard in the owner's tab", () => window.heard.length >= 2);
      await new Promise((r) => setTimeout(r, 100));
      return window.heard.sort();
    });
    assert.deepEqual(ownerHeard, ["done", "released"]);

    // Once the owner's store is closed, its runs are nobody's and may go.
    await owner.evaluate(() => window.store.close());
    const later = await pruner.evaluate(async () => {
      const store = window.store;
      await window.until("the owner's runs released", async () => (await store.runsOwnedElsewhere()).length === 0);
      const count = await store.pruneRuns({ keepLatest: 0 });
      await window.until("four deletions heard", () => window.heard.length >= 4);
      return { count, left: (await store.listRuns()).map((r) => r.id), heard: window.heard.sort() };
    });
    assert.equal(later.count, 2);
    assert.deepEqual(later.left, ["mine"], "this store's own running run is kept");
    assert.deepEqual(later.heard, ["done", "released", "theirs-awaiting", "theirs-running"]);
    await pruner.evaluate(async (name) => {
      window.store.close();
      await window.CouncilStore.deleteDatabase(name);
    }, name);
  });

  test("pruneRuns takes effect in call order: calls made after it, un-awaited, find its runs gone (IndexedDB and in memory)", async () => {
    const name = dbName("order");
    const out = await page.evaluate(async (name) => {
      const outcome = (p) => p.then((v) => ({ ok: v ?? null }), (e) => ({ kind: e.kind }));
      const run = async (store) => {
        for (const id of ["r1", "r2", "kept"]) {
          await store.createRun({ goal: id, id, createdAt: id === "kept" ? "2030-01-01T00:00:00Z" : "2020-01-01T00:00:00Z" });
          await store.updateRunStatus(id, "completed");
        }
        // Before the prune: deleted with its run.
        const before = outcome(store.appendEvent({ runId: "r1", seq: 0, waveIndex: 0, eventJson: '{"before":1}' }));
        const pruned = outcome(store.pruneRuns({ olderThan: "2025-01-01T00:00:00Z" }));
        // After it, nothing awaited in between: each finds its run gone.
        const calls = {
          appendEvent: outcome(store.appendEvent({ runId: "r1", seq: 1, waveIndex: 0, eventJson: '{"after":1}' })),
          appendNext: outcome(store.appendNext("r2", { waveIndex: 0, eventJson: '{"after":2}' })),
          resume: outcome(store.updateRunStatus("r2", "running")),
          getRun: store.getRun("r1").then((r) => r?.id ?? null),
          listRuns: store.listRuns().then((runs) => runs.map((r) => r.id)),
        };
        const results = { before: await before, pruned: await pruned };
        for (const [call, p] of Object.entries(calls)) results[call] = await p;
        results.left = (await store.listRuns()).map((r) => r.id);
        results.events = [...(await store.listEvents("r1")), ...(await store.listEvents("r2"))].length;
        return results;
      };
      const store = await window.CouncilStore.open(name);
      const indexedDb = await run(store);
      store.close();
      await window.CouncilStore.deleteDatabase(name);
      return { indexedDb, inMemory: await run(window.CouncilStore.inMemory()) };
    }, name);
    const expected = {
      before: { ok: null }, pruned: { ok: 2 },
      appendEvent: { kind: "NotFound" }, appendNext: { kind: "NotFound" }, resume: { kind: "NotFound" },
      getRun: null, listRuns: ["kept"], left: ["kept"], events: 0,
    };
    assert.deepEqual(out.inMemory, expected);
    assert.deepEqual(out.indexedDb, expected);
  });

  // ------------------------------------------------------ persist, estimate

  test("status changes, rewinds, deletes and markInterruptedRuns ask for strict durability; appends, graphs and new runs do not", async () => {
    const out = await page.evaluate(async (name) => {
      // Every readwrite transaction the store starts, with the durability it
      // asked for and the one the engine reports (where it has the attribute).
      const seen = [];
      const original = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (scope, mode, options) {
        const tx = original.call(this, scope, mode, options);
        if (mode === "readwrite") seen.push({ asked: options?.durability ?? "default", engine: tx.durability });
        return tx;
      };
      const calls = {};
      try {
        const store = await window.CouncilStore.open(name);
        const watch = async (label, call) => {
          const from = seen.length;
          await call();
          calls[label] = seen.slice(from);
        };
        await watch("createRun", () => store.createRun({ id: "r", goal: "g" }));
        await watch("appendEvent", () => store.appendEvent({ runId: "r", seq: 0, waveIndex: 0, eventJson: "{}" }));
        await watch("appendEvents", () => store.appendEvents([{ runId: "r", seq: 1, waveIndex: 1, eventJson: "{}" }]));
        await watch("appendNext", () => store.appendNext("r", { waveIndex: 1, eventJson: "{}" }));
        await watch("updateGraph", () => store.updateGraph("r", "{}"));
        await watch("updateRunStatus", () => store.updateRunStatus("r", "awaiting_approval"));
        await watch("truncateEventsAfterWave", () => store.truncateEventsAfterWave("r", 0));
        await watch("updateRunStatus running", () => store.updateRunStatus("r", "running"));
        await watch("markInterruptedRuns", () => store.markInterruptedRuns());
        await watch("deleteRun", () => store.deleteRun("r"));
        store.close();
        await window.CouncilStore.deleteDatabase(name);
      } finally {
        IDBDatabase.prototype.transaction = original;
      }
      return calls;
    }, dbName("strict"));
    const strict = ["updateRunStatus", "updateRunStatus running", "truncateEventsAfterWave", "markInterruptedRuns", "deleteRun"];
    for (const [call, transactions] of Object.entries(out)) {
      assert.equal(transactions.length, 1, `${call}: ${JSON.stringify(transactions)}`);
      const [{ asked, engine }] = transactions;
      assert.equal(asked, strict.includes(call) ? "strict" : "default", call);
      // Chromium and Firefox report what they use; WebKit has no attribute.
      if (engine !== undefined) assert.equal(engine, asked, `${call}: the engine's durability`);
    }
  });

  test("persist() and estimate() resolve to what the browser says; usage grows by what is written", async (t) => {
    const out = await page.evaluate(async (name) => {
      const storage = navigator.storage;
      const hasApi = typeof storage?.estimate === "function";
      // Neither may hang the page (Firefox without the test prefs would wait
      // for an answer to its permission prompt).
      const persisted = await window.within(window.CouncilStore.persist(), 10_000);
      const persistedNow = typeof storage?.persisted === "function" ? await storage.persisted() : false;
      const before = await window.within(window.CouncilStore.estimate(), 10_000);
      const store = await window.CouncilStore.open(name);
      const run = await store.createRun({ goal: "a megabyte" });
      // 1 MiB of incompressible text (Chromium compresses what it stores).
      await store.appendEvents(Array.from({ length: 16 }, (_, seq) => ({
        runId: run.id, seq, waveIndex: 0, eventJson: window.noise(65_536),
      })));
      store.close();
      // The browser's own figure just before and just after ours: usage can
      // still move by a few hundred KB right after a close (Firefox settles
      // its files), so ours is checked against that window.
      const nativeBefore = hasApi ? await storage.estimate() : null;
      const afterWrite = await window.CouncilStore.estimate();
      const native = hasApi ? await storage.estimate() : null;
      await window.CouncilStore.deleteDatabase(name);
      return { hasApi, persisted, persistedNow, before, afterWrite, native, nativeBefore };
    }, dbName("estimate"));
    t.diagnostic(`persist() → ${out.persisted}; estimate() ${JSON.stringify(out.before)} → ${JSON.stringify(out.afterWrite)}`);
    assert.notEqual(out.persisted, "hung", "persist() did not settle within 10 s");
    assert.equal(typeof out.persisted, "boolean");
    assert.equal(out.persisted, out.persistedNow, "persist() resolves to whether storage is persistent now");
    for (const estimate of [out.before, out.afterWrite]) {
      assert.deepEqual(Object.keys(estimate).sort(), ["quota", "usage"]);
      assert.ok(Number.isFinite(estimate.usage) && estimate.usage >= 0, JSON.stringify(estimate));
      assert.ok(Number.isFinite(estimate.quota) && estimate.quota >= 0, JSON.stringify(estimate));
    }
    if (engine === "firefox") {
      // The profile's prefs answer the prompt with "allow"; the quota is
      // the fixed limit they set.
      assert.equal(out.persisted, true);
      assert.equal(out.afterWrite.quota, FIREFOX_QUOTA_KIB * 1024);
    }
    if (out.hasApi) {
      assert.ok(out.afterWrite.quota > 0);
      assert.ok(out.afterWrite.usage - out.before.usage >= 900_000,
        `usage grew by ${out.afterWrite.usage - out.before.usage} bytes after writing 1 MiB`);
      const low = Math.min(out.nativeBefore.usage, out.native.usage) - 100_000;
      const high = Math.max(out.nativeBefore.usage, out.native.usage) + 100_000;
      assert.ok(out.afterWrite.usage >= low && out.afterWrite.usage <= high,
        `estimate() is navigator.storage.estimate(): ${out.afterWrite.usage} outside ${out.nativeBefore.usage}..${out.native.usage} (±100 KB)`);
    } else {
      // WebKitGTK has no navigator.storage: nothing to ask.
      assert.equal(out.persisted, false);
      assert.deepEqual(out.afterWrite, { usage: 0, quota: 0 });
    }
  });

  // ---------------------------------------------------------------- quota

  const quotaSkip = engine === "webkit" && "WebKitGTK's automation session keeps IndexedDB in memory and has no quota a test can set";

  test("over quota: every refused write is Storage/QuotaExceededError and wrote nothing; the same store writes again once there is room", { skip: quotaSkip }, async (t) => {
    let quotaServer;
    let cdp;
    try {
      let tab = page;
      let giveRoom;
      if (engine === "chromium") {
        // A fresh origin: Chromium 156 did not enforce a quota lowered after
        // the origin had opened IndexedDB (writes went on past it). The
        // override lasts as long as the DevTools session that set it.
        quotaServer = await serveDirectory();
        const origin = new URL(quotaServer.url).origin;
        tab = await newTab("quota", origin);
        cdp = await tab.cdp();
        await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: CHROMIUM_QUOTA });
        // Chromium keeps deleted records on disk until LevelDB compacts them,
        // on its own schedule, and counts the files: pruning does not give
        // room back at once. A bigger quota stands in for the compaction.
        giveRoom = async () => {
          const { usage } = await cdp.send("Storage.getUsageAndQuota", { origin });
          await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: usage + 50 * 1024 * 1024 });
          return usage;
        };
      }
      await quotaTest(t, tab, giveRoom);
    } finally {
      await cdp?.detach();
      await quotaServer?.close();
    }
  });

  /** In the page: the store `name` and what the quota test sent to it. */
  function installQuotaKit(name) {
    const q = (window.quota = { name, sent: { A: [], B: [], C: [], runs: [] }, nextA: 0, nextB: 0 });
    const noise = window.noise;
    // Sends each kind of write once, none awaited before the next is made:
    // a big createRun; six appendEvent to A (whose caller goes on after its
    // last stored seq); one appendEvents batch of four to B (a refused batch
    // is sent again); five appendNext to C. Resolves to the refusals.
    q.round = async (round, size = 20_000) => {
      const calls = [];
      const call = (kind, promise, record) => calls.push({ kind, promise, record });
      const run = { id: `big-${round}`, goal: noise(7 * size), graphJson: noise(7 * size) };
      call("createRun", q.store.createRun(run), (ok) => q.sent.runs.push({ ...run, ok }));
      for (let k = 0; k < 6; k++) {
        const event = { runId: "A", seq: q.nextA + k, waveIndex: round, eventJson: noise(size) };
        call("appendEvent", q.store.appendEvent(event), (ok) => q.sent.A.push({ ...event, ok }));
      }
      const batch = Array.from({ length: 4 }, (_, k) => ({ runId: "B", seq: q.nextB + k, waveIndex: round, eventJson: noise(size) }));
      call("appendEvents", q.store.appendEvents(batch), (ok) => {
        q.sent.B.push({ batch, ok });
        if (ok) q.nextB += batch.length;
      });
      for (let k = 0; k < 5; k++) {
        const eventJson = noise(size);
        call("appendNext", q.store.appendNext("C", { waveIndex: round, eventJson }), (ok, seq) => q.sent.C.push({ eventJson, ok, seq }));
      }
      const refusals = [];
      (await Promise.allSettled(calls.map((c) => c.promise))).forEach((s, i) => {
        calls[i].record(s.status === "fulfilled", s.value);
        if (s.status === "rejected") refusals.push({ kind: calls[i].kind, round, error: window.describeError(s.reason) });
      });
      const storedA = q.sent.A.filter((e) => e.ok).map((e) => e.seq);
      q.nextA = storedA.length ? Math.max(...storedA) + 1 : 0;
      return refusals;
    };
    // What is stored is exactly what resolved: problems found, and the logs.
    q.verify = async () => {
      const stored = {};
      for (const id of ["A", "B", "C"]) stored[id] = await q.store.listEvents(id);
      const texts = (id) => new Set(stored[id].map((e) => e.eventJson));
      const bySeq = (id) => new Map(stored[id].map((e) => [e.seq, e.eventJson]));
      const problems = [];
      for (const e of q.sent.A) {
        if (e.ok && bySeq("A").get(e.seq) !== e.eventJson) problems.push(`A: resolved seq ${e.seq} does not read back`);
        if (!e.ok && texts("A").has(e.eventJson)) problems.push(`A: refused seq ${e.seq} is stored`);
      }
      if (stored.A.length !== q.sent.A.filter((e) => e.ok).length) problems.push("A: stored events that never resolved");
      for (const { batch, ok } of q.sent.B) {
        const present = batch.filter((e) => bySeq("B").get(e.seq) === e.eventJson).length;
        if (ok && present !== batch.length) problems.push(`B: a resolved batch (seqs ${batch[0].seq}..) has ${present} of ${batch.length} events`);
        if (!ok && batch.some((e) => texts("B").has(e.eventJson))) problems.push(`B: a refused batch (seqs ${batch[0].seq}..) wrote events`);
      }
      for (const e of q.sent.C) {
        if (e.ok && bySeq("C").get(e.seq) !== e.eventJson) problems.push(`C: appendNext resolved to ${e.seq}, which does not hold its event`);
        if (!e.ok && texts("C").has(e.eventJson)) problems.push("C: a refused appendNext event is stored");
      }
      const resolvedC = q.sent.C.filter((e) => e.ok).map((e) => e.seq).sort((a, b) => a - b);
      if (JSON.stringify(resolvedC) !== JSON.stringify(stored.C.map((e) => e.seq))) problems.push("C: appendNext did not resolve to exactly the stored seqs");
      for (const run of q.sent.runs) {
        const got = await q.store.getRun(run.id);
        if (run.ok && !run.deleted && (got?.goal !== run.goal || got?.graphJson !== run.graphJson)) problems.push(`${run.id} resolved but does not read back`);
        if (!run.ok && got !== undefined) problems.push(`${run.id} was refused but is stored`);
      }
      const listed = (await q.store.listRuns()).map((r) => r.id).filter((id) => id.startsWith("big-")).sort();
      const created = q.sent.runs.filter((r) => r.ok && !r.deleted).map((r) => r.id).sort();
      if (JSON.stringify(listed) !== JSON.stringify(created)) problems.push(`listRuns has ${listed}, not the created ${created}`);
      return { problems, seqs: Object.fromEntries(["A", "B", "C"].map((id) => [id, stored[id].map((e) => e.seq)])) };
    };
  }

  async function quotaTest(t, tab, giveRoom) {
    const name = dbName("quota");
    await tab.evaluate(installQuotaKit, name);
    const full = await tab.evaluate(async () => {
      const q = window.quota;
      const store = (q.store = await window.CouncilStore.open(q.name));
      // History: three finished runs of 8 × 40 kB, about 1 MB.
      for (let h = 0; h < 3; h++) {
        const id = `history-${h}`;
        await store.createRun({ goal: id, id, createdAt: `2020-01-0${h + 1}T00:00:00Z` });
        await store.appendEvents(Array.from({ length: 8 }, (_, seq) => ({ runId: id, seq, waveIndex: 0, eventJson: window.noise(40_000) })));
        await store.updateRunStatus(id, "completed");
      }
      for (const id of ["A", "B", "C"]) await store.createRun({ goal: id, id });
      // Rounds until every kind of write has been refused.
      const refusals = [];
      let rounds = 0;
      while (rounds < 60 && new Set(refusals.map((r) => r.kind)).size < 4) refusals.push(...(await q.round(rounds++)));
      const { problems, seqs } = await q.verify();
      const count = (list) => ({ ok: list.filter((x) => x.ok).length, refused: list.filter((x) => !x.ok).length });
      return {
        rounds, refusals, problems, seqs, usage: await window.CouncilStore.estimate(),
        counts: { appendEvent: count(q.sent.A), appendEvents: count(q.sent.B), appendNext: count(q.sent.C), createRun: count(q.sent.runs) },
      };
    });
    const names = [...new Set(full.refusals.map((r) => `${r.error.domName}/${r.error.causeName}`))];
    t.diagnostic(`${full.rounds} rounds, ${full.refusals.length} refusals (${names.join(", ")}): ${JSON.stringify(full.counts)}; ` +
      `usage ${JSON.stringify(full.usage)}; first message: ${full.refusals[0]?.error.message}`);
    for (const kind of ["createRun", "appendEvent", "appendEvents", "appendNext"]) {
      assert.ok(full.refusals.some((r) => r.kind === kind), `no ${kind} was refused in ${full.rounds} rounds`);
    }
    for (const { kind, round, error } of full.refusals) {
      const at = `${kind} in round ${round}: ${JSON.stringify(error)}`;
      assert.equal(error.isError, true, at);
      assert.equal(error.name, "CouncilStoreError", at);
      assert.equal(error.kind, "Storage", at);
      assert.equal(error.domName, "QuotaExceededError", at);
      assert.equal(error.causeIsDomException, true, at);
      assert.equal(error.causeName, "QuotaExceededError", at);
      assert.match(error.message, /QuotaExceededError/, at);
    }
    assert.deepEqual(full.problems, []);
    // No gaps: B's caller sends a refused batch again; C is numbered by the store.
    const from0 = (n) => Array.from({ length: n }, (_, i) => i);
    assert.deepEqual(full.seqs.B, from0(full.seqs.B.length), "B's log has a gap");
    assert.deepEqual(full.seqs.C, from0(full.seqs.C.length), "C's log has a gap");

    // The other writes over quota: each resolves (a small change may still
    // fit) or is refused as the appends were, having changed nothing.
    const others = await tab.evaluate(async () => {
      const q = window.quota;
      const settle = (promise) => promise.then((value) => ({ ok: true, value }), (e) => ({ ok: false, error: window.describeError(e) }));
      const outcomes = {
        updateRunStatus: await settle(q.store.updateRunStatus("B", "awaiting_approval")),
        updateGraph: await settle(q.store.updateGraph("B", '{"over":"quota"}')),
        // Deletes nothing (no wave above 1000), but records the rewind.
        truncateEventsAfterWave: await settle(q.store.truncateEventsAfterWave("A", 1000)),
        markInterruptedRuns: await settle(q.store.markInterruptedRuns()),
      };
      const runs = Object.fromEntries((await q.store.listRuns()).map((r) => [r.id, r]));
      const statuses = Object.fromEntries(["A", "B", "C"].map((id) => [id, runs[id].status]));
      return { outcomes, statuses, graphB: runs.B.graphJson, seqs: (await q.verify()).seqs };
    });
    t.diagnostic(`over quota, ${Object.entries(others.outcomes).map(([call, o]) => `${call} ${o.ok ? "resolved" : o.error.domName}`).join(", ")}`);
    for (const [call, outcome] of Object.entries(others.outcomes)) {
      if (outcome.ok) continue;
      const { error } = outcome;
      assert.deepEqual([error.name, error.kind, error.domName, error.causeIsDomException, error.causeName],
        ["CouncilStoreError", "Storage", "QuotaExceededError", true, "QuotaExceededError"], `${call}: ${JSON.stringify(error)}`);
    }
    const { updateRunStatus, updateGraph, markInterruptedRuns } = others.outcomes;
    const statuses = { A: "running", B: updateRunStatus.ok ? "awaiting_approval" : "running", C: "running" };
    const running = Object.keys(statuses).filter((id) => statuses[id] === "running");
    if (markInterruptedRuns.ok) {
      assert.equal(markInterruptedRuns.value, running.length);
      for (const id of running) statuses[id] = "interrupted";
    }
    assert.deepEqual(others.statuses, statuses);
    assert.equal(others.graphB, updateGraph.ok ? '{"over":"quota"}' : null);
    assert.deepEqual(others.seqs, full.seqs, "the events are as they were");

    // Deleting works over quota: the finished runs go (the live ones are
    // this store's own and stay), and one big run by hand.
    const freed = await tab.evaluate(async () => {
      const q = window.quota;
      const pruned = await q.store.pruneRuns({ statuses: ["completed"] });
      const big = q.sent.runs.find((r) => r.ok);
      if (big) {
        await q.store.deleteRun(big.id);
        big.deleted = true;
      }
      const left = (await q.store.listRuns()).map((r) => r.id).filter((id) => !id.startsWith("big-")).sort();
      // A small write straight away.
      const probe = await window.outcome(q.store.appendNext("C", { waveIndex: 98, eventJson: "{}" }));
      if (probe.startsWith("resolved")) q.sent.C.push({ eventJson: "{}", ok: true, seq: JSON.parse(probe.slice(10)) });
      return { pruned, big: big?.id, left, probe, usage: await window.CouncilStore.estimate() };
    });
    assert.equal(freed.pruned, 3, "the three finished runs are pruned");
    assert.ok(freed.big, "no big run was created before the quota ran out");
    assert.deepEqual(freed.left, ["A", "B", "C"]);
    const usageBefore = giveRoom ? await giveRoom() : undefined;
    t.diagnostic(`after pruning, usage ${JSON.stringify(freed.usage)}, a small append: ${freed.probe}` +
      (giveRoom ? `; quota raised over the ${usageBefore} bytes used` : ""));
    if (!giveRoom) assert.match(freed.probe, /^resolved/, "a small write after pruning");

    // The same store instance, never reopened, writes again: every kind.
    const again = await tab.evaluate(async () => {
      const q = window.quota;
      const refusals = await q.round(99, 2_000);
      const status = await window.outcome(q.store.updateRunStatus("A", "completed"));
      const { problems, seqs } = await q.verify();
      q.store.close();
      await window.CouncilStore.deleteDatabase(q.name);
      return { refusals, status, problems, seqs };
    });
    assert.deepEqual(again.refusals, [], "writes refused once there is room");
    assert.equal(again.status, "resolved: undefined");
    assert.deepEqual(again.problems, []);
    assert.deepEqual(again.seqs.B, from0(full.seqs.B.length + 4));
    assert.equal(again.seqs.C.length, full.seqs.C.length + 5 + (freed.probe.startsWith("resolved") ? 1 : 0));
    assert.deepEqual(again.seqs.C, from0(again.seqs.C.length));
  }
});
