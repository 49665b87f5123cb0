// The store numbers events (nextSeq, appendNext) and deletes runs
// (deleteRun), in Chromium, Firefox and WebKit ($ENGINES picks some): in one
// tab with nothing awaited, and between two tabs where one owns the run.
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

for (const engine of ENGINES) describe(engine, () => {
  let browser;
  const pageErrors = [];

  before(async () => {
    browser = await launchBrowser(engine);
  });

  after(async () => {
    await browser?.close();
  });

  async function newTab(label) {
    const page = await browser.newPage();
    page.onPageError((e) => pageErrors.push(`${label}: ${e}`));
    await page.goto(`${server.url}/tests/js/fixtures/page.html`);
    await page.waitForFunction(() => window.ready === true);
    return page;
  }

  test("appendNext numbers un-awaited calls in call order, across a rewind", async () => {
    const page = await newTab("A");
    const out = await page.evaluate(async () => {
      const name = `js-numbering-${crypto.randomUUID()}`;
      const store = await window.CouncilStore.open(name);
      try {
        // Nothing awaited until the end: create, 5 waves of 100 events, a
        // rewind to wave 2 in the middle of wave 4, then 50 more.
        const calls = [store.createRun({ goal: "numbered", id: "r" })];
        const seqs = [];
        for (let i = 0; i < 500; i++) {
          if (i === 450) calls.push(store.truncateEventsAfterWave("r", 2));
          const wave = i < 450 ? Math.floor(i / 100) : 3;
          seqs.push(store.appendNext("r", { waveIndex: wave, eventJson: JSON.stringify({ i }) }));
        }
        const before = store.nextSeq("r");
        await Promise.all(calls);
        const given = await Promise.all(seqs);
        const events = await store.listEvents("r");
        const refused = [];
        for (const call of [
          () => store.appendNext("nobody", { waveIndex: 0, eventJson: "{}" }),
          () => store.nextSeq("nobody"),
          () => store.appendNext("r", { seq: 1, waveIndex: 0, eventJson: "{}" }),
          () => store.appendNext("r", { waveIndex: -1, eventJson: "{}" }),
          () => store.appendNext("r", { waveIndex: 0, eventJson: "a\uD800" }),
          () => store.appendNext("r", null),
        ]) {
          try {
            await call();
            refused.push("resolved");
          } catch (e) {
            refused.push(`${e.name}/${e.kind}`);
          }
        }
        return {
          given, before: await before, next: await store.nextSeq("r"),
          stored: events.map((e) => [e.seq, e.waveIndex, JSON.parse(e.eventJson).i]),
          refused,
        };
      } finally {
        store.close();
        await window.CouncilStore.deleteDatabase(name);
      }
    });
    // Waves 0..2 (300 events, seq 0..299) survive the rewind; the 150 events
    // of waves 3 and 4 written before it go; the 50 after it follow seq 299.
    const expected = [
      ...Array.from({ length: 450 }, (_, i) => i),
      ...Array.from({ length: 50 }, (_, i) => 300 + i),
    ];
    assert.deepEqual(out.given, expected);
    assert.equal(out.before, 350);
    assert.equal(out.next, 350);
    assert.deepEqual(out.stored.map(([seq]) => seq), Array.from({ length: 350 }, (_, i) => i));
    assert.deepEqual(out.stored[299], [299, 2, 299]);
    assert.deepEqual(out.stored[300], [300, 3, 450]);
    assert.deepEqual(out.refused, [
      "CouncilStoreError/NotFound", "CouncilStoreError/NotFound", "CouncilStoreError/Constraint",
      "CouncilStoreError/Constraint", "CouncilStoreError/Constraint", "CouncilStoreError/Constraint",
    ]);
    await page.close();
  });

  test("deleteRun removes a run with its events; another tab may not delete a run it does not own", async () => {
    const a = await newTab("A");
    const b = await newTab("B");
    const name = `js-delete-${crypto.randomUUID()}`;
    const open = (page) => page.evaluate(async (name) => {
      window.store = await window.CouncilStore.open(name);
    }, name);
    await open(a);
    await open(b);
    const runId = await a.evaluate(async () => {
      const run = await window.store.createRun({ goal: "to delete" });
      const kept = await window.store.createRun({ goal: "to keep", id: "kept" });
      await Promise.all(Array.from({ length: 100 }, (_, i) => [
        window.store.appendNext(run.id, { waveIndex: 0, eventJson: `{"i":${i}}` }),
        window.store.appendNext(kept.id, { waveIndex: 0, eventJson: `{"i":${i}}` }),
      ]).flat());
      return run.id;
    });
    const refused = await b.evaluate(async (runId) => {
      try {
        await window.store.deleteRun(runId);
        return "resolved";
      } catch (e) {
        return `${e.kind}: ${e.message}`;
      }
    }, runId);
    assert.match(refused, new RegExp(`^Conflict: .*${runId}`));
    const afterDelete = await a.evaluate(async (runId) => {
      await window.store.deleteRun(runId);
      let again;
      try {
        await window.store.deleteRun(runId);
      } catch (e) {
        again = e.kind;
      }
      return { again, run: await window.store.getRun(runId), events: (await window.store.listEvents(runId)).length };
    }, runId);
    assert.deepEqual(afterDelete, { again: "NotFound", run: undefined, events: 0 });
    const seenFromB = await b.evaluate(async (runId) => ({
      run: await window.store.getRun(runId),
      kept: (await window.store.listEvents("kept")).length,
      runs: (await window.store.listRuns()).map((r) => r.id),
    }), runId);
    assert.deepEqual(seenFromB, { run: undefined, kept: 100, runs: ["kept"] });
    for (const page of [a, b]) {
      await page.evaluate(() => window.store.close());
      await page.close();
    }
    assert.deepEqual(pageErrors, []);
  });
});
