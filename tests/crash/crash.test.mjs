// Every write whose promise resolved is on disk, also when the browser is
// killed: in Chromium and Firefox, each on one profile directory, a page
// streams writes without awaiting them (appendEvent, appendEvents,
// appendNext, updateRunStatus, updateGraph) and reports every resolved
// promise to this process; at a chosen moment every process of the browser
// gets SIGSTOP then SIGKILL (no shutdown, no flush); the browser is launched
// again on the same profile and a page reads the database back. Checked:
//
// - every acknowledged createRun, event (same text, same wave), status (that
//   or a later one) and graph (that or a later one) is there;
// - every run's seqs are 0..=last with no hole, so none below the highest
//   acknowledged one, and every batch is there whole or not at all;
// - nothing stored differs from what was written at its place;
// - the store works: appendNext on every run gives the next seq and reads back.
//
// The session launched for one check is the one the next kill point writes
// in, so the profile goes through every crash in turn; the last session
// checks again every database that lived through later crashes, then closes
// cleanly. The two engines run side by side, each on its own profile.
//
// $ENGINES picks engines ("chromium firefox" by default; WebKit's
// automation session keeps IndexedDB in memory, so there is nothing on disk
// to survive a crash). CRASH_SABOTAGE=1 pretends one more event was
// acknowledged at each kill point, one past the last stored: every kill
// point must then fail (a check of the check).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync } from "node:fs";
import { serveDirectory } from "../js/support.mjs";
import { runId } from "./content.mjs";
import { isZombie, launchOnProfile, newProfile, profileLocks } from "./browsers.mjs";
import { Ledger } from "./ledger.mjs";

const CRASH_ENGINES = ["chromium", "firefox"];
const requested = (process.env.ENGINES ?? "").split(/[\s,]+/).filter(Boolean);
const engines = requested.length ? requested : CRASH_ENGINES;

/** When the browser dies: after so many acknowledgements, or once the big batch is issued. */
const KILL_POINTS = [
  { name: "after ~20 acknowledgements", acks: 20 },
  { name: "after ~1000 acknowledgements", acks: 1000 },
  { name: "after ~5000 acknowledgements", acks: 5000 },
  // Issued after ~300 acknowledgements, alone in the store's queue; the kill
  // comes 0 to 600 ms (at random) after the page reports the call, whose
  // transaction takes some 400 ms more here to commit: mostly before the
  // commit, sometimes just after.
  { name: "while a 4000-event appendEvents is in flight", bigBatchAfter: 300, delay: () => Math.floor(Math.random() * 600) },
];
const sabotage = process.env.CRASH_SABOTAGE === "1";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------ server ----

// Tasks the page fetches once (`/crash/task?task=<id>`), and what it sends
// back: acknowledgements, reports of databases read, errors.
const tasks = new Map();
let nextTask = 0;

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

async function handle(req, res) {
  const url = new URL(req.url, "http://x");
  if (!url.pathname.startsWith("/crash/")) return false;
  const task = tasks.get(url.searchParams.get("task"));
  const kind = url.pathname.slice("/crash/".length);
  if (kind === "task") {
    // Handed out once: a page the browser restores after a crash gets nothing to do.
    const todo = task && !task.handed ? task.todo : {};
    if (task) task.handed = true;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(todo));
    return true;
  }
  const body = JSON.parse(await readBody(req));
  res.writeHead(204).end();
  if (!task) return true;
  if (kind === "acks") task.onAcks?.(body);
  else if (kind === "report") task.reports.push(body);
  else if (kind === "error") task.errors.push(body.message);
  else if (kind === "progress") task.progress.push(body.stage);
  task.changed();
  return true;
}

/** A task for the next page; `waitFor(what, check)` resolves once `check()` holds after a message. */
function newTask(todo, onAcks) {
  const id = `t${nextTask++}`;
  const waiters = new Set();
  const task = {
    id,
    todo,
    handed: false,
    onAcks,
    reports: [],
    errors: [],
    progress: [],
    /** Why the navigation to the page failed, if it did. */
    navigationError: null,
    url: `${server.url}/tests/crash/page.html?task=${id}`,
    changed() {
      for (const waiter of waiters) waiter();
    },
    waitFor(what, check, timeout = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const stages = task.handed ? ["task fetched", ...task.progress] : ["task never fetched"];
          reject(new Error(`timed out after ${timeout} ms waiting for ${what}; the page got to: ${stages.join(", ")}` +
            (task.navigationError ? `; navigation: ${task.navigationError}` : "")));
        }, timeout);
        const waiter = () => {
          if (task.errors.length) {
            clearTimeout(timer);
            waiters.delete(waiter);
            reject(new Error(`the page failed: ${task.errors.join("; ")}`));
          } else if (check()) {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve();
          }
        };
        waiters.add(waiter);
        waiter();
      });
    },
  };
  tasks.set(id, task);
  return task;
}

let server;

before(async () => {
  server = await serveDirectory(undefined, { handle });
});

after(async () => {
  await server?.close();
});

// -------------------------------------------------------------- tests ----

// Side by side: much of the time goes into starting browsers. Within an
// engine, one test after another.
describe("crash", { concurrency: true }, () => {
  for (const engine of engines) {
    const skip = CRASH_ENGINES.includes(engine) ? false : `no crash test in ${engine}: its IndexedDB is not on disk`;
    describe(engine, { concurrency: 1, skip }, () => crashSuite(engine));
  }
});

/** The kill points of `engine`, one after another on one profile, then the re-check. */
function crashSuite(engine) {
  let profile;
  let browser;
  const ledgers = [];
  const killedProcesses = [];
  let started;

  before(async () => {
    started = Date.now();
    profile = newProfile(engine);
    browser = await launchOnProfile(engine, profile.dir);
  });

  after(async () => {
    await browser?.close();
    profile?.remove();
  });

  /**
   * Where a copy of the profile is kept when `problems` were found (the
   * profile itself goes with the test), for a look at the browser's files.
   */
  const kept = (problems) => {
    if (!problems.length) return "";
    const copy = `${profile.dir}-kept`;
    try {
      cpSync(profile.dir, copy, { recursive: true });
      return ` (profile kept in ${copy})`;
    } catch (e) {
      return ` (the profile could not be kept: ${e.message})`;
    }
  };

  /** Has the page of `task` read `db` and sent what it holds? */
  const reportOf = (task, db) => task.reports.find((r) => r.db === db);

  KILL_POINTS.forEach((point, index) => {
    test(`SIGKILL ${point.name}, relaunch on the same profile: every acknowledged write is there`, async (t) => {
      const db = `crash-${index}-${Date.now()}`;
      const ledger = new Ledger(db);
      ledgers.push(ledger);

      // Writing: the kill starts from the acknowledgement that reaches the
      // threshold, before this process handles anything else.
      let kill = null;
      let acksAtKill = 0;
      const delay = point.delay?.() ?? 0;
      const due = () => (point.acks !== undefined ? ledger.acks >= point.acks : ledger.bigBatch() !== undefined);
      const writer = newTask({ write: { db, seed: 1000 + index, bigBatchAfter: point.bigBatchAfter } }, (entries) => {
        ledger.receive(entries);
        if (!kill && due()) {
          acksAtKill = ledger.acks;
          kill = delay ? sleep(delay).then(() => browser.kill()) : browser.kill();
        }
      });
      // The navigation may be cut short by the kill.
      const navigation = browser.goto(writer.url).catch((e) => void (writer.navigationError = e.message));
      const writeStart = Date.now();
      await writer.waitFor(`the kill point (${point.name}); ${ledger.acks} acknowledgements so far`, () => kill !== null);
      const { killed } = await kill;
      const writeMs = Date.now() - writeStart;
      await navigation;
      killedProcesses.push(...killed);
      const locks = profileLocks(profile.dir);

      // Relaunch on the same profile (its lock files are stale now) and read back.
      const relaunchStart = Date.now();
      browser = await launchOnProfile(engine, profile.dir);
      const relaunchMs = Date.now() - relaunchStart;
      const checker = newTask({ check: [db] });
      const checking = browser.goto(checker.url);
      await checker.waitFor(`the report of ${db}`, () => reportOf(checker, db));
      await checking;
      const report = reportOf(checker, db);
      if (sabotage) {
        // One event past the last one stored, as if it had been acknowledged.
        const last = report.events[runId(0)]?.at(-1)?.[0] ?? -1;
        ledger.ackEvent(0, last + 1);
      }
      const acksBefore = ledger.acks;
      const eventsAcked = ledger.ackedEvents;
      const { problems, found, bigBatch } = ledger.verify(report);

      t.diagnostic(
        `${engine}, ${point.name}: ${acksBefore} acknowledgements received (${acksAtKill} when the kill started), ` +
          `${eventsAcked} events acknowledged; after relaunch ${found} events found in ${report.runs.length} runs` +
          (bigBatch ? `; killed ${delay} ms after the 4000-event batch was issued: it is ${bigBatch}${ledger.bigBatch().acked ? " (acknowledged before the kill)" : ", unacknowledged"}` : "") +
          `; wrote for ${writeMs} ms; killed ${killed.length} processes (${killed.filter(isZombie).length} left as zombies for PID 1 to reap); ` +
          `lock files left: ${locks.join(", ") || "none"}; relaunch took ${relaunchMs} ms`,
      );
      assert.ok(acksBefore >= (point.acks ?? 1), `only ${acksBefore} acknowledgements`);
      if (point.bigBatchAfter !== undefined) assert.ok(ledger.bigBatch(), "the big batch was issued");
      assert.deepEqual(problems, [], `${engine}, ${point.name}: acknowledged writes lost or changed${kept(problems)}`);
    });
  });

  test("every database that went through later crashes still holds what was acknowledged", async (t) => {
    // The last one was checked after its crash, with none since.
    const older = ledgers.slice(0, -1);
    const checker = newTask({ check: older.map((l) => l.db) });
    const checking = browser.goto(checker.url);
    await checker.waitFor("the reports of the databases", () => older.every((l) => reportOf(checker, l.db)));
    await checking;
    // Every database's problems at once: which of them kept their writes
    // tells a lost database from a lost profile.
    const problems = older.flatMap((ledger) =>
      ledger.verify(reportOf(checker, ledger.db)).problems.map((p) => `${ledger.db}: ${p}`));
    assert.deepEqual(problems, [], `${engine}: databases checked again after the later crashes${kept(problems)}`);
    await browser.close();
    const leftovers = browser.processes();
    browser = null;
    assert.deepEqual(leftovers.map((p) => `${p.pid} ${p.args[0]}`), [], "processes left after the clean close");
    t.diagnostic(
      `${engine}: ${ledgers.length} kill points in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `${killedProcesses.filter(isZombie).length} of ${killedProcesses.length} killed processes still zombies awaiting PID 1`,
    );
  });
}
