// The page of the crash test (tests/crash/crash.test.mjs). It asks the test
// server what to do (`/crash/task?task=<id>`, handed out once, so a page the
// browser restores after a crash does nothing), then:
//
// - check: opens each database named, reports every run and event it holds,
//   then appends one more event to every run with appendNext and reads it
//   back (the store still works after the crash);
// - write: opens a database, creates runs and streams writes without
//   awaiting them, and reports each acknowledgement (a resolved promise) to
//   the server in small batches every few milliseconds, until the browser is
//   killed under it.
//
// Event, graph and status contents come from content.mjs, which the checker
// shares, so only positions travel in the acknowledgements.
import init, { CouncilStore } from "/pkg/web/council_idb.js";
import { RUNS, eventJson, goal, graphJson, isFinal, runId, statusPlan, waveOf } from "./content.mjs";

const task = new URLSearchParams(location.search).get("task");

function post(kind, body) {
  return fetch(`/crash/${kind}?task=${encodeURIComponent(task)}`, { method: "POST", body: JSON.stringify(body) });
}

const describe = (e) => (e instanceof Error ? `${e.name}${e.kind ? `/${e.kind}` : ""}: ${e.message}` : String(e));

try {
  const todo = await (await fetch(`/crash/task?task=${encodeURIComponent(task)}`)).json();
  post("progress", { stage: "task" });
  await init();
  post("progress", { stage: "init" });
  for (const db of todo.check ?? []) await post("report", await check(db));
  if (todo.write) await write(todo.write);
} catch (e) {
  await post("error", { message: describe(e), stack: e?.stack });
}

/** Everything `db` holds, then one appendNext per run, read back. */
async function check(db) {
  const store = await CouncilStore.open(db);
  try {
    const runs = [];
    const events = {};
    for (const run of await store.listRuns()) {
      runs.push({ id: run.id, goal: run.goal, status: run.status, graphJson: run.graphJson });
      events[run.id] = (await store.listEvents(run.id)).map((e) => [e.seq, e.waveIndex, e.eventJson]);
    }
    // The event the checker expects next: the seq after the last stored one,
    // with the content content.mjs gives that position.
    const appended = [];
    for (const { id } of runs) {
      const run = Number(id.replace(/^crash-run-/, ""));
      const stored = events[id];
      const expected = stored.length ? stored[stored.length - 1][0] + 1 : 0;
      const seq = await store.appendNext(id, { waveIndex: waveOf(expected), eventJson: eventJson(run, expected) });
      const back = (await store.listEvents(id)).find((e) => e.seq === seq);
      appended.push({ run, expected, seq, readBack: back?.eventJson === eventJson(run, expected) && back.waveIndex === waveOf(expected) });
    }
    return { db, runs, events, appended };
  } finally {
    store.close();
  }
}

// A small deterministic generator (mulberry32), so that a seed replays a run.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Streams writes into `db` until the page dies: at most `inFlight` events
 * (or other calls) unsettled at a time; with `bigBatchAfter`, one
 * appendEvents of `bigBatch` events over runs 0 and 1 once that many calls
 * have been acknowledged.
 */
async function write({ db, seed, inFlight = 2000, bigBatchAfter, bigBatch = 4000 }) {
  const runs = RUNS;
  const rand = random(seed);
  const pick = (n) => Math.floor(rand() * n);
  const store = await CouncilStore.open(db);
  post("progress", { stage: "open" });

  // Acknowledgements, sent every 4 ms; "issued" notices for batches too, so
  // that the checker can see that a batch is stored whole or not at all.
  let pending = [];
  const flush = () => {
    if (pending.length) post("acks", pending.splice(0));
  };
  setInterval(flush, 4);
  const ack = (entry) => pending.push(entry);

  let outstanding = 0;
  let acked = 0;
  // Resolves once no more than `limit` events or calls are unsettled.
  let wake = null;
  let wakeAt = 0;
  const settled = (limit) =>
    outstanding <= limit ? Promise.resolve() : new Promise((resolve) => ((wake = resolve), (wakeAt = limit)));
  const track = (promise, weight, onResolved) => {
    outstanding += weight;
    promise.then(
      (value) => {
        acked++;
        onResolved(value);
      },
      (e) => ack(["error", describe(e)]),
    ).finally(() => {
      outstanding -= weight;
      if (wake && outstanding <= wakeAt) {
        wake();
        wake = null;
      }
    });
  };

  const next = Array(runs).fill(0); // the next seq of each run, in call order
  const statusCalls = Array(runs).fill(0);
  // Runs still written to: none after its final status (see statusPlan).
  const open = Array.from({ length: runs }, (_, run) => run);
  const graphCalls = Array(runs).fill(0);
  let batches = 0;
  let bigIssued = false;

  for (let run = 0; run < runs; run++) {
    track(store.createRun({ id: runId(run), goal: goal(run), hitlMode: "approve_plan" }), 1, () => ack(["run", run]));
  }

  const event = (run, seq) => ({ runId: runId(run), seq, waveIndex: waveOf(seq), eventJson: eventJson(run, seq) });

  function appendBatch(parts) {
    const id = batches++;
    const ranges = [];
    const events = [];
    for (const [run, count] of parts) {
      ranges.push([run, next[run], next[run] + count - 1]);
      for (let i = 0; i < count; i++) events.push(event(run, next[run]++));
    }
    track(store.appendEvents(events), events.length, () => ack(["batch", id, ranges]));
    return [id, ranges];
  }

  for (let op = 0; ; op++) {
    if (outstanding >= inFlight) await settled(inFlight / 2);
    if (op % 100 === 0) await new Promise((resolve) => setTimeout(resolve)); // let the timers run

    if (bigBatchAfter !== undefined && !bigIssued && acked >= bigBatchAfter) {
      // Alone in the queue, so that a kill soon after the notice lands in
      // its own transaction; nothing else until it settles.
      bigIssued = true;
      await settled(0);
      const [id, ranges] = appendBatch([[0, bigBatch / 2], [1, bigBatch / 2]]);
      ack(["issued", id, ranges, "big"]);
      flush();
      await settled(0);
      continue;
    }
    // Each run's statuses, one call every 1,500 calls, staggered by run.
    const statusRun = op % runs;
    const plan = statusPlan(statusRun);
    if (statusCalls[statusRun] < plan.length && op >= 100 + 1500 * statusCalls[statusRun] + 50 * statusRun) {
      const call = statusCalls[statusRun]++;
      if (isFinal(plan[call])) open.splice(open.indexOf(statusRun), 1);
      track(store.updateRunStatus(runId(statusRun), plan[call]), 1, () => ack(["status", statusRun, call]));
      continue;
    }

    const run = open[pick(open.length)];
    const kind = rand();
    if (kind < 0.48) {
      const seq = next[run]++;
      track(store.appendEvent(event(run, seq)), 1, () => ack(["event", run, seq]));
    } else if (kind < 0.96) {
      const seq = next[run]++;
      track(
        store.appendNext(runId(run), { waveIndex: waveOf(seq), eventJson: eventJson(run, seq) }),
        1,
        (given) => ack(given === seq ? ["next", run, seq] : ["error", `appendNext on run ${run} gave seq ${given}, expected ${seq}`]),
      );
    } else if (kind < 0.99) {
      // 10 to 200 events, a third of the batches over two runs; at 3% of
      // the calls, about four events a call in all.
      const count = 10 + pick(191);
      const other = open[pick(open.length)];
      const parts = other !== run && pick(3) === 0 ? [[run, Math.ceil(count / 2)], [other, Math.floor(count / 2)]] : [[run, count]];
      const [id, ranges] = appendBatch(parts);
      ack(["issued", id, ranges]);
    } else {
      const call = graphCalls[run]++;
      track(store.updateGraph(runId(run), graphJson(run, call)), 1, () => ack(["graph", run, call]));
    }
  }
}
