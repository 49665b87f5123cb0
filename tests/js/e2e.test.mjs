// End-to-end test of the demo (www/) in Chromium, Firefox and WebKit (one
// suite per engine, $ENGINES picks some): the real page, the real wasm package
// and IndexedDB, served by scripts/serve.mjs. Runs with `node --test
// tests/js/`; needs pkg/ built (`make pkg`) and the browsers scripts/setup.sh
// installs.
//
// With UPDATE_SCREENSHOT=1, the Chromium run also rewrites docs/demo.png, the
// screenshot the README shows; otherwise the screenshot is taken and checked,
// not written, so that a test run leaves the tree as it was.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../../scripts/serve.mjs";
import { ENGINES, launchBrowser } from "./support.mjs";
import { pageErrorRecorder } from "./engines.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const UPDATE_SCREENSHOT = process.env.UPDATE_SCREENSHOT === "1";
const XSS_GOAL = `<img src=x onerror="window.__pwned=1">`;

/** A raw GET, so paths like /../x reach the server unnormalised. */
function rawGet(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Polls `check` until it returns a truthy value. */
async function until(what, check, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A proxy in front of the demo server that adds the page-error recorder
 * (fixtures/page-errors.js) as the first script of every HTML page, for the
 * engines whose driver does not report page errors (WebDriver). Everything
 * else passes through as the server sent it.
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
        const headers = { ...up.headers, "content-length": Buffer.byteLength(body) };
        res.writeHead(up.statusCode, headers).end(body);
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

const parse = (events) => events.map((e) => ({ ...e, event: JSON.parse(e.eventJson) }));

function assertSeqsContiguous(events, label) {
  events.forEach((e, i) => assert.equal(e.seq, i, `${label}: event #${i} has seq ${e.seq}`));
}

test("the demo server sends wasm as application/wasm and refuses traversal", async (t) => {
  const server = await startServer({ port: 0 });
  t.after(() => server.close());
  const wasm = await rawGet(server.port, "/pkg/web/council_idb_bg.wasm");
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers["content-type"], "application/wasm");
  assert.deepEqual([...wasm.body.subarray(0, 4)], [0, 0x61, 0x73, 0x6d]);
  assert.match((await rawGet(server.port, "/app.js")).headers["content-type"], /^text\/javascript/);
  assert.match((await rawGet(server.port, "/pkg/web/council_idb.js")).headers["content-type"], /^text\/javascript/);
  assert.match((await rawGet(server.port, "/")).headers["content-type"], /^text\/html/);
  for (const path of ["/../Cargo.toml", "/%2e%2e/Cargo.toml", "/pkg/..%2f..%2fCargo.toml", "/pkg/../../Makefile", "//etc/passwd", "/%00"]) {
    const res = await rawGet(server.port, path);
    assert.ok(res.status >= 400, `${path} answered ${res.status}`);
    assert.ok(!res.body.toString().includes("[package]"), `${path} leaked Cargo.toml`);
  }
});

for (const engine of ENGINES) describe(engine, () => {
  test("demo page: runs, reloads, approvals, rewinds and hostile goals", { timeout: 240_000 }, async (t) => {
    assert.ok(existsSync(join(ROOT, "pkg/web/council_idb.js")), "pkg/web/council_idb.js is missing: run `make pkg`");

    const server = await startServer({ port: 0 });
    const browser = await launchBrowser(engine, { viewport: { width: 1440, height: 960 } });
    // The pages load through the recorder proxy where the browser does not
    // report page errors itself.
    const proxy = browser.nativePageErrors ? null : await withPageErrorRecorder(server);
    t.after(async () => {
      await browser.close();
      await proxy?.close();
      await server.close();
    });
    t.diagnostic(`${engine} ${browser.version}`);

    const page = await browser.newPage();
    const pageErrors = [];
    page.onPageError((err) => pageErrors.push(err));
    const base = proxy?.url ?? server.url;
    const FAST = `${base}?speed=fast`;

    // ---------------------------------------------------------------- helpers
    const idle = () => page.evaluate(() => window.councilDemo.idle());
    // Ready, and showing what the store holds: the page fills its views from
    // asynchronous reads and watchers, and how soon varies by engine.
    const ready = async () => {
      await page.waitForSelector('[data-testid=app][data-ready="true"]', { timeout: 15_000 });
      await idle();
    };
    const open = async (url) => {
      await page.goto(url);
      await ready();
    };
    // Opening `#run=<id>` from a page of the demo is a same-document
    // navigation: the page is ready at once and shows the previous run until
    // it has handled the hashchange, so wait for the run itself.
    const openRun = async (id) => {
      await open(`${FAST}#run=${id}`);
      await until(`run ${id} to be shown`, () =>
        page.evaluate((id) => document.querySelector("[data-testid=run-id]")?.textContent === id, id));
    };
    const reload = async () => {
      await page.reload();
      await ready();
    };
    const getRun = (id) => page.evaluate((id) => window.councilStore.getRun(id), id);
    const listEvents = async (id) => parse(await page.evaluate((id) => window.councilStore.listEvents(id), id));
    const shownErrors = () => page.evaluate(() => window.councilDemo.errors());

    async function startRun(goal, hitlMode = "none") {
      const before = await page.evaluate(() => location.hash);
      await page.fill("[data-testid=goal-input]", goal);
      await page.selectOption("[data-testid=hitl-select]", hitlMode);
      await page.click("[data-testid=start-run]");
      const hash = await until("the new run to be selected", () =>
        page.evaluate((before) => (location.hash !== before && location.hash.startsWith("#run=") ? location.hash : null), before),
      );
      return decodeURIComponent(hash.slice("#run=".length));
    }

    async function waitStatus(id, status, timeout = 30_000) {
      await until(`run ${id} to be ${status}`, async () => (await getRun(id))?.status === status, timeout);
      await idle();
      await page.waitForSelector(`[data-testid=run-status][data-status="${status}"]`, { timeout: 10_000 });
    }

    async function domEventCount() {
      return Number(await page.textContent("[data-testid=event-count]"));
    }

    /** The data-* values `keys` of every element `selector` matches, in document order. */
    const datasets = (selector, ...keys) =>
      page.evaluate(([selector, keys]) => [...document.querySelectorAll(selector)].map((el) =>
        keys.length === 1 ? el.dataset[keys[0]] : keys.map((k) => el.dataset[k])), [selector, keys]);

    /** The checks every finished run passes. */
    function assertWellFormed(run, events, label) {
      const graph = JSON.parse(run.graphJson);
      assert.ok(graph.waves >= 3 && graph.waves <= 4, `${label}: ${graph.waves} waves`);
      for (let w = 1; w <= graph.waves; w++) {
        const n = graph.nodes.filter((x) => x.wave === w).length;
        assert.ok(n >= 1 && n <= 3, `${label}: wave ${w} has ${n} nodes`);
      }
      assertSeqsContiguous(events, label);
      assert.equal(events[0].event.type, "plan_proposed", `${label}: first event`);
      assert.equal(events[0].waveIndex, 0);
      const last = events.at(-1);
      assert.equal(last.event.type, "council_complete", `${label}: last event`);
      assert.equal(last.waveIndex, graph.waves);
      assert.equal(events.filter((e) => e.event.type === "council_complete").length, 1, `${label}: one council_complete`);
      for (const node of graph.nodes) {
        assert.equal(node.status, "complete", `${label}: graph node ${node.id}`);
        const mine = events.filter((e) => e.event.nodeId === node.id);
        assert.ok(mine.length > 0, `${label}: events of ${node.id}`);
        for (const e of mine) assert.equal(e.waveIndex, node.wave, `${label}: ${e.event.type} of ${node.id} in wave ${e.waveIndex}`);
        assert.equal(mine.filter((e) => e.event.type === "node_complete").length, 1, `${label}: one node_complete for ${node.id}`);
        assert.ok(mine.filter((e) => e.event.type === "node_text_delta").length >= 5, `${label}: ${node.id} streamed`);
      }
      return graph;
    }

    // ------------------------------------------------------------------ tests
    let firstRun;
    await t.test("a run completes, and after a reload it is there with all its events", async () => {
      await open(FAST);
      firstRun = await startRun("Plan a two-day team offsite in Lisbon");
      await waitStatus(firstRun, "completed");
      const run = await getRun(firstRun);
      const events = await listEvents(firstRun);
      const graph = assertWellFormed(run, events, "first run");
      assert.equal(await domEventCount(), events.length);

      await reload();
      await page.click(`[data-testid=run-item][data-run-id="${firstRun}"]`);
      await page.waitForSelector(`[data-testid=run-status][data-status="completed"]`);
      await idle(); // the click re-renders the run's view, maybe after the selector matched
      assert.deepEqual(await listEvents(firstRun), events, "events after the reload");
      assert.equal(await domEventCount(), events.length);
      assert.equal(await page.count("[data-testid=event-row]"), events.length, "one row per event");
      for (let w = 0; w <= graph.waves; w++) {
        assert.equal(await page.count(`[data-testid=wave-column-${w}]`), 1, `column of wave ${w}`);
        assert.equal(
          await page.count(`[data-testid=wave-band-${w}] [data-testid=event-row]`),
          events.filter((e) => e.waveIndex === w).length,
          `rows in the band of wave ${w}`,
        );
      }
      const statuses = await datasets("[data-testid=board] [data-testid=node-card]", "status");
      assert.equal(statuses.length, graph.nodes.length + 1, "a card per node plus the director");
      assert.ok(statuses.every((s) => s === "complete"), `node cards: ${statuses}`);

      // Raw JSON on demand, shown as the stored text.
      const row = '[data-testid=event-row][data-type="plan_proposed"]';
      assert.equal(await page.count(row), 1, "one plan_proposed row");
      await page.click(`${row} [data-testid=raw-toggle]`);
      const raw = await page.textContent(`${row} [data-testid=raw-json]`);
      assert.deepEqual(JSON.parse(raw.slice(raw.indexOf("\n") + 1)), events[0].event);
    });

    let interruptedRun;
    await t.test("reloading mid-run leaves the run interrupted with its events so far", async () => {
      await open(`${base}?speed=normal`);
      interruptedRun = await startRun("Compare three note-taking apps for a small team");
      await until("text to stream", async () => (await listEvents(interruptedRun)).some((e) => e.event.type === "node_text_delta"));
      await reload();
      assert.match(await page.textContent("[data-testid=notice]"), /1 run was still running .* interrupted/);
      await page.waitForSelector(`[data-testid=run-status][data-status="interrupted"]`);
      assert.equal((await getRun(interruptedRun)).status, "interrupted");
      const events = await listEvents(interruptedRun);
      assert.ok(events.length > 2, `${events.length} events kept`);
      assertSeqsContiguous(events, "interrupted run");
      assert.ok(!events.some((e) => e.event.type === "council_complete"));
      assert.equal(await domEventCount(), events.length, "the page shows every event kept");
      assert.ok((await page.count('[data-testid=node-card][data-status="interrupted"]')) >= 1, "a node shows as interrupted");

      // Resume it (fast): it finishes, continuing after the last stored seq.
      await openRun(interruptedRun);
      await page.click("[data-testid=resume]");
      await waitStatus(interruptedRun, "completed");
      const after = await listEvents(interruptedRun);
      assert.deepEqual(after.slice(0, events.length), events, "the events before the resume are untouched");
      assert.equal(after[events.length].event.type, "run_resumed");
      assertWellFormed(await getRun(interruptedRun), after, "resumed run");
    });

    let approvalRun;
    await t.test("a pending plan approval survives a reload, then the run finishes", async () => {
      await open(FAST);
      approvalRun = await startRun("Write a migration plan for our database", "approve_plan");
      await waitStatus(approvalRun, "awaiting_approval");
      let events = await listEvents(approvalRun);
      assert.deepEqual(
        events.map((e) => e.event.type),
        ["plan_proposed", "awaiting_approval"],
        "stops at the gate before any node runs",
      );
      assert.equal(events[1].event.gate, "plan");

      await reload();
      assert.equal(await page.count("[data-testid=notice]"), 0, "nothing was interrupted");
      await page.waitForSelector(`[data-testid=run-status][data-status="awaiting_approval"]`);
      assert.equal((await getRun(approvalRun)).status, "awaiting_approval", "markInterruptedRuns left it alone");
      assert.match(await page.textContent("[data-testid=gate]"), /approval of the plan/);
      await page.click("[data-testid=approve]");
      await waitStatus(approvalRun, "completed");
      events = await listEvents(approvalRun);
      assertWellFormed(await getRun(approvalRun), events, "approved run");
      assert.equal(events[2].event.type, "plan_approved");
      assert.equal(events[2].event.auto, undefined, "approved by the user, not automatically");
      assert.equal(events.filter((e) => e.event.type === "awaiting_approval").length, 1);
    });

    await t.test("rewinding to wave 1 drops later events and re-runs with fresh seqs", async () => {
      await openRun(firstRun);
      await page.waitForSelector(`[data-testid=run-status][data-status="completed"]`);
      const before = await listEvents(firstRun);
      const kept = before.filter((e) => e.waveIndex <= 1);
      const dropped = before.filter((e) => e.waveIndex > 1);
      assert.ok(dropped.length > 0, "the run has events after wave 1");
      // Waves only grow along the log, so the kept events are a prefix.
      assert.deepEqual(kept, before.slice(0, kept.length));

      await page.click("[data-testid=rewind-wave-1]");
      await until("the rewind to start", async () => (await listEvents(firstRun)).some((e) => e.event.type === "run_rewound"));
      await waitStatus(firstRun, "completed");
      const after = await listEvents(firstRun);

      // Every seq unique and increasing (and, here, contiguous).
      for (let i = 1; i < after.length; i++) assert.ok(after[i].seq > after[i - 1].seq, `seq ${after[i].seq} after ${after[i - 1].seq}`);
      assert.equal(new Set(after.map((e) => e.seq)).size, after.length);
      assertWellFormed(await getRun(firstRun), after, "rewound run");

      // Waves 0 and 1 untouched, then the rewind marker, then the new events.
      assert.deepEqual(after.slice(0, kept.length), kept, "events up to wave 1 are kept as they were");
      const marker = after[kept.length];
      assert.equal(marker.event.type, "run_rewound");
      assert.equal(marker.event.toWave, 1);
      assert.equal(marker.waveIndex, 1);
      assert.equal(marker.seq, kept.at(-1).seq + 1, "new events continue after the last surviving seq");
      const laterWaves = after.filter((e) => e.waveIndex > 1);
      assert.ok(laterWaves.length > 0, "later waves ran again");
      for (const e of laterWaves) {
        assert.ok(e.seq > marker.seq, `later-wave event ${e.seq} was written after the rewind`);
        const stale = dropped.find((d) => d.seq === e.seq && d.createdAt === e.createdAt && d.eventJson === e.eventJson);
        assert.equal(stale, undefined, `event ${e.seq} survived from before the rewind`);
      }
      const graph = JSON.parse((await getRun(firstRun)).graphJson);
      assert.deepEqual(
        [...marker.event.resetNodes].sort(),
        graph.nodes.filter((n) => n.wave > 1).map((n) => n.id).sort(),
        "the nodes of waves 2+ were reset",
      );
      assert.equal(await domEventCount(), after.length);
      assert.equal(await page.count("[data-testid=event-row]"), after.length);
    });

    let xssRun;
    await t.test("a hostile goal is shown as text and runs nothing", async () => {
      await open(FAST);
      xssRun = await startRun(XSS_GOAL);
      await waitStatus(xssRun, "completed");
      for (let pass = 0; pass < 2; pass++) {
        assert.equal(await page.textContent("[data-testid=run-goal]"), XSS_GOAL);
        assert.equal(
          await page.textContent(`[data-testid=run-item][data-run-id="${xssRun}"] [data-testid=run-item-goal]`),
          XSS_GOAL,
        );
        await page.check("[data-testid=toggle-deltas]");
        assert.equal(await page.evaluate(() => window.__pwned), undefined, "no handler ran");
        assert.equal(await page.count("img"), 0, "no element was made from the goal");
        // The workers quote the goal in their text: still text.
        assert.ok((await page.textContent("[data-testid=board]")).includes(XSS_GOAL.slice(0, 20)));
        await reload();
      }
      assert.equal((await getRun(xssRun)).goal, XSS_GOAL);
    });

    await t.test("the run list is newest first and filters by status", async () => {
      await open(FAST);
      const pending = await startRun("Choose a name for the new product", "approve_plan");
      await waitStatus(pending, "awaiting_approval");
      const all = await page.evaluate(() => window.councilStore.listRuns());
      assert.equal(all.length, 5);
      const shown = () => datasets("[data-testid=run-item]", "runId", "status");
      assert.deepEqual(await shown(), all.map((r) => [r.id, r.status]), "same order as listRuns");
      assert.deepEqual(all.slice(0, 2).map((r) => r.id), [pending, xssRun], "the newest runs first");
      for (let i = 1; i < all.length; i++) assert.ok(Date.parse(all[i - 1].createdAt) >= Date.parse(all[i].createdAt));

      const filterTo = async (status, expected) => {
        await page.selectOption("[data-testid=status-filter]", status);
        await until(`the ${status || "all"} filter`, async () => JSON.stringify(await shown()) === JSON.stringify(expected));
      };
      await filterTo("awaiting_approval", [[pending, "awaiting_approval"]]);
      await filterTo("completed", all.filter((r) => r.status === "completed").map((r) => [r.id, r.status]));
      assert.equal(all.filter((r) => r.status === "completed").length, 4);
      await filterTo("interrupted", []);
      assert.match(await page.textContent("[data-testid=run-list]"), /No interrupted runs/);
      await filterTo("", all.map((r) => [r.id, r.status]));
    });

    await t.test("screenshot for the README", async (t) => {
      await openRun(approvalRun);
      await page.waitForSelector(`[data-testid=run-status][data-status="completed"]`);
      await page.evaluate(async () => {
        await document.fonts.ready;
      });
      // The board and the start of the event log, at a typical laptop width.
      // WebDriver engines take the viewport only.
      const png = await page.screenshot({ fullPage: true, clip: { x: 0, y: 0, width: 1440, height: 1240 } });
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
      // The README shows Chromium's, rewritten only when asked.
      if (UPDATE_SCREENSHOT && engine === "chromium") {
        mkdirSync(join(ROOT, "docs"), { recursive: true });
        writeFileSync(join(ROOT, "docs/demo.png"), png);
        t.diagnostic("wrote docs/demo.png");
      }
    });

    await t.test("store errors are shown to the user", async () => {
      await open(FAST);
      await page.evaluate(() => window.councilStore.close());
      await page.fill("[data-testid=goal-input]", "This cannot be stored");
      await page.click("[data-testid=start-run]");
      const item = "[data-testid=error-banner] [data-testid=error-item]";
      await page.waitForSelector(item);
      assert.equal(await page.getAttribute(item, "data-kind"), "Storage");
      assert.match(await page.textContent(item), /creating the run/);
      const errors = await shownErrors();
      assert.ok(errors.some((e) => e.isStoreError), JSON.stringify(errors));
      await reload(); // a fresh store for whatever comes next
    });

    await page.flushPageErrors();
    assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  });
});
