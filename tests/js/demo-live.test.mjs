// The demo (www/) across two tabs of one browser, in Chromium, Firefox and
// WebKit ($ENGINES picks some): tab 1 executes a run, tab 2 opened
// on the run's URL ("Open in new tab") follows it live through the store's
// watchers, shows it as running in another tab without controls, follows a
// rewind and a deletion; the orchestrator's events are numbered 0..n-1 by
// the store (appendNext) and continue after the last kept one on a rewind.
// Needs pkg/ built (`make pkg`) and the browsers scripts/setup.sh installs.
//
//   ENGINES="chromium webkit" node --test tests/js/demo-live.test.mjs

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../../scripts/serve.mjs";
import { ENGINES, launchBrowser } from "./support.mjs";
import { pageErrorRecorder } from "./engines.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Polls `check` until it returns a truthy value. */
async function until(what, check, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

/**
 * A proxy in front of the demo server that adds the page-error recorder as
 * the first script of every HTML page, for the engines whose driver does not
 * report page errors (as tests/js/e2e.test.mjs does).
 */
async function withPageErrorRecorder(target) {
  const proxy = http.createServer((req, res) => {
    const upstream = http.request({ host: "127.0.0.1", port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      if (!/^text\/html/.test(up.headers["content-type"] ?? "")) {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
        return;
      }
      const chunks = [];
      up.on("data", (c) => chunks.push(c));
      up.on("end", () => {
        const html = Buffer.concat(chunks).toString("utf8");
        const at = html.indexOf("<head>") === -1 ? 0 : html.indexOf("<head>") + "<head>".length;
        const body = `${html.slice(0, at)}<script>${pageErrorRecorder}</script>${html.slice(at)}`;
        res.writeHead(up.statusCode, { ...up.headers, "content-length": Buffer.byteLength(body) }).end(body);
      });
    });
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${proxy.address().port}/`,
    close: () => new Promise((resolve) => {
      proxy.close(() => resolve());
      proxy.closeAllConnections?.();
    }),
  };
}

/** What a tab shows, in one evaluation; `runId`'s stored status beside it. */
function snapshot(runId) {
  const q = (s) => document.querySelector(s);
  const n = (s) => document.querySelectorAll(s).length;
  return window.councilStore.getRun(runId).then((run) => ({
    stored: run?.status ?? null,
    shown: q("[data-testid=run-status]")?.dataset.status ?? null,
    count: q("[data-testid=event-count]") ? Number(q("[data-testid=event-count]").textContent) : null,
    rows: n("[data-testid=event-row]"),
    elsewhere: q("[data-testid=elsewhere]")?.textContent ?? null,
    listElsewhere: n(`[data-testid=run-item][data-run-id="${runId}"] [data-testid=run-item-elsewhere]`),
    controls: n("[data-testid=resume], [data-testid=approve], [data-testid=reject], [data-testid=delete-run], [data-testid^=rewind-wave-]"),
    live: n("[data-testid=live]"),
  }));
}

/** Every event of `runId`, through a store of its own opened in the page. */
function storedEvents([dbName, runId]) {
  return import("/pkg/web/council_idb.js").then(async ({ CouncilStore }) => {
    const store = await CouncilStore.open(dbName);
    try {
      return (await store.listEvents(runId)).map((e) => ({ ...e, type: JSON.parse(e.eventJson).type }));
    } finally {
      store.close();
    }
  });
}

/** The seqs of the event rows a tab shows, ascending. */
const shownSeqs = () =>
  [...document.querySelectorAll("[data-testid=event-row]")].map((el) => Number(el.dataset.seq)).sort((a, b) => a - b);

const range = (n) => Array.from({ length: n }, (_, i) => i);

for (const engine of ENGINES) describe(engine, () => {
  test("a run followed live in a second tab: growth, ownership, rewind, delete", { timeout: 180_000 }, async (t) => {
    assert.ok(existsSync(join(ROOT, "pkg/web/council_idb.js")), "pkg/web/council_idb.js is missing: run `make pkg`");
    const server = await startServer({ port: 0 });
    const browser = await launchBrowser(engine, { viewport: { width: 1280, height: 900 } });
    const proxy = browser.nativePageErrors ? null : await withPageErrorRecorder(server);
    t.after(async () => {
      await browser.close();
      await proxy?.close();
      await server.close();
    });
    t.diagnostic(`${engine} ${browser.version}`);
    const base = proxy?.url ?? server.url;
    const DB = `demo-live-${engine}-${Date.now()}`;

    const pageErrors = [];
    const newTab = async (label) => {
      const page = await browser.newPage();
      page.onPageError((e) => pageErrors.push(`${label}: ${e}`));
      return page;
    };
    const open = async (page, url) => {
      await page.goto(url);
      await page.waitForSelector('[data-testid=app][data-ready="true"]', { timeout: 15_000 });
    };
    const idle = (page) => page.evaluate(() => window.councilDemo.idle());

    // Tab 1 executes, slowly enough (40 ms per text delta) to be watched.
    const tab1 = await newTab("tab 1");
    await open(tab1, `${base}?db=${DB}&delay=40`);
    await tab1.fill("[data-testid=goal-input]", "Plan a two-day team offsite in Lisbon");
    await tab1.selectOption("[data-testid=hitl-select]", "none");
    await tab1.click("[data-testid=start-run]");
    const hash = await until("the new run to be selected", () =>
      tab1.evaluate(() => (location.hash.startsWith("#run=") ? location.hash : null)));
    const runId = decodeURIComponent(hash.slice("#run=".length));

    // Tab 2: the URL of tab 1's "Open in new tab" link.
    await tab1.waitForSelector("[data-testid=open-in-new-tab]");
    assert.equal(await tab1.getAttribute("[data-testid=open-in-new-tab]", "target"), "_blank");
    const href = new URL(await tab1.getAttribute("[data-testid=open-in-new-tab]", "href"), base).href;
    assert.equal(new URL(href).hash, `#run=${encodeURIComponent(runId)}`, "the link names the run");
    assert.equal(new URL(href).searchParams.get("db"), DB, "the link keeps the database");
    const tab2 = await newTab("tab 2");
    await open(tab2, href);
    await tab2.evaluate(() => void (window.__sameDocument = true));

    /** Samples tab 2 until `runId` is stored with a status other than running. */
    async function follow() {
      const samples = [];
      for (;;) {
        const s = await tab2.evaluate(snapshot, runId);
        samples.push(s);
        if (s.stored !== "running") return samples;
        await new Promise((r) => setTimeout(r, 15));
      }
    }

    /** Checks what tab 2 showed while tab 1 executed. */
    function assertFollowed(samples, label, { rewound = false } = {}) {
      const whileRunning = samples.filter((s) => s.stored === "running" && s.shown === "running");
      assert.ok(whileRunning.length >= 5, `${label}: ${whileRunning.length} samples of tab 2 showing the run running`);
      for (const s of whileRunning) {
        assert.match(s.elsewhere ?? "", /^Running in another tab/, `${label}: tab 2 says where it runs (${JSON.stringify(s)})`);
        assert.equal(s.controls, 0, `${label}: no resume/approve/rewind/delete in tab 2 (${JSON.stringify(s)})`);
        assert.equal(s.live, 0, `${label}: tab 2 does not claim to run it`);
        assert.equal(s.listElsewhere, 1, `${label}: the list marks it as in another tab`);
        assert.equal(s.rows, s.count, `${label}: one row per counted event`);
      }
      // The count only grows, but for the one drop of a rewind.
      const counts = samples.map((s) => s.count).filter((c) => c !== null);
      const drops = counts.filter((c, i) => i > 0 && c < counts[i - 1]).length;
      assert.ok(drops <= (rewound ? 1 : 0), `${label}: the count dropped ${drops} times (${counts})`);
      const distinct = new Set(whileRunning.map((s) => s.count));
      assert.ok(distinct.size >= 3, `${label}: tab 2's count grew while tab 1 ran (${[...distinct]})`);
    }

    /** Waits for both tabs to be done and checks they show what is stored. */
    async function assertSameEverywhere(label) {
      await idle(tab1);
      await idle(tab2);
      const events = await tab2.evaluate(storedEvents, [DB, runId]);
      const [one, two] = [await tab1.evaluate(snapshot, runId), await tab2.evaluate(snapshot, runId)];
      assert.equal(one.stored, "completed", label);
      assert.equal(one.count, events.length, `${label}: tab 1 shows every stored event`);
      assert.equal(two.count, one.count, `${label}: tab 2 ends where tab 1 does`);
      assert.equal(two.rows, events.length, `${label}: tab 2 has a row per event`);
      assert.deepEqual(await tab2.evaluate(shownSeqs), events.map((e) => e.seq), `${label}: tab 2 shows exactly the stored seqs`);
      assert.deepEqual(await tab1.evaluate(shownSeqs), events.map((e) => e.seq), `${label}: tab 1 shows exactly the stored seqs`);
      assert.equal(two.shown, "completed");
      assert.equal(two.elsewhere, null, `${label}: no longer running elsewhere`);
      assert.equal(two.listElsewhere, 0);
      assert.ok(two.controls >= 2, `${label}: tab 2 offers delete and rewind now (${two.controls})`);
      return events;
    }

    await t.test("tab 2 follows the run live and offers no controls while tab 1 executes it", async () => {
      const samples = await follow();
      t.diagnostic(`${samples.length} samples, counts ${samples[0].count} → ${samples.at(-1).count}`);
      assertFollowed(samples, "first run");
      const events = await assertSameEverywhere("first run");
      assert.ok(events.length > 50, `${events.length} events`);
    });

    let beforeRewind;
    await t.test("the store numbers the orchestrator's events 0..n-1", async () => {
      beforeRewind = await tab2.evaluate(storedEvents, [DB, runId]);
      assert.deepEqual(beforeRewind.map((e) => e.seq), range(beforeRewind.length), "consecutive seqs from 0");
      assert.equal(beforeRewind[0].type, "plan_proposed");
      assert.equal(beforeRewind.at(-1).type, "council_complete");
      for (let i = 1; i < beforeRewind.length; i++) {
        assert.ok(beforeRewind[i].waveIndex >= beforeRewind[i - 1].waveIndex, `seq ${i}: wave ${beforeRewind[i].waveIndex} after ${beforeRewind[i - 1].waveIndex}`);
      }
    });

    await t.test("a rewind in tab 1: seqs continue after the last kept event, tab 2 follows", async () => {
      const kept = beforeRewind.filter((e) => e.waveIndex <= 1);
      assert.deepEqual(kept, beforeRewind.slice(0, kept.length), "the kept events are a prefix");
      assert.ok(kept.length < beforeRewind.length, "there is something after wave 1");
      await tab1.click("[data-testid=rewind-wave-1]");
      await until("the rewind to start", async () => (await tab2.evaluate(snapshot, runId)).stored === "running");
      const samples = await follow();
      assertFollowed(samples, "rewound run", { rewound: true });
      const after = await assertSameEverywhere("rewound run");
      assert.deepEqual(after.map((e) => e.seq), range(after.length), "consecutive seqs from 0 after the rewind");
      assert.deepEqual(after.slice(0, kept.length), kept, "events up to wave 1 untouched");
      const marker = after[kept.length];
      assert.equal(marker.type, "run_rewound");
      assert.equal(marker.seq, kept.at(-1).seq + 1, "the first new event follows the last kept one");
      assert.equal(marker.waveIndex, 1);
      assert.ok(after.slice(kept.length + 1).every((e) => e.waveIndex > 1 || e.type !== "node_started"), "only later waves ran again");
      assert.equal(after.at(-1).type, "council_complete");
      for (const e of after.slice(kept.length)) {
        const stale = beforeRewind.find((d) => d.seq === e.seq && d.createdAt === e.createdAt && d.eventJson === e.eventJson);
        assert.equal(stale, undefined, `event ${e.seq} survived from before the rewind`);
      }
    });

    await t.test("deleting the run in tab 1 removes it from tab 2 through the watchers", async () => {
      const item = `[data-testid=run-item][data-run-id="${runId}"]`;
      assert.equal(await tab2.count(item), 1, "tab 2 lists the run");
      await tab1.click("[data-testid=delete-run]");
      await until("tab 2 to drop the run", async () => (await tab2.count(item)) === 0, 10_000);
      await tab2.waitForSelector("[data-testid=run-deleted]", { timeout: 10_000 });
      await until("tab 1 to drop the run", async () => (await tab1.count(item)) === 0, 10_000);
      assert.equal(await tab1.count("[data-testid=run-status]"), 0, "tab 1 no longer shows it");
      assert.equal(await tab2.evaluate(() => window.__sameDocument), true, "tab 2 was not reloaded");
      assert.deepEqual(await tab2.evaluate(storedEvents, [DB, runId]), [], "no events left");
      assert.equal(await tab2.evaluate((id) => window.councilStore.getRun(id), runId), undefined);
      assert.deepEqual(await tab1.evaluate(() => window.councilDemo.errors()), [], "tab 1 reported no error");
      assert.deepEqual(await tab2.evaluate(() => window.councilDemo.errors()), [], "tab 2 reported no error");
    });

    await tab1.flushPageErrors();
    await tab2.flushPageErrors();
    assert.deepEqual(pageErrors, [], "no uncaught errors in either tab");
  });
});
