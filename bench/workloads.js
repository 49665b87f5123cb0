// The benchmark rows. Each row: params(smoke) gives its sizes; setup(store, p)
// fills a fresh database outside the timer; run(store, ctx) is the timed part;
// check(store, ctx, result) verifies the result (and then the stored state),
// so a fast but wrong implementation fails the run.

const BASE_MS = Date.UTC(2025, 5, 1, 8, 0, 0);
const iso = (ms) => new Date(ms).toISOString();
const pad = (i) => String(i).padStart(6, '0');
/** 1000 → "1k", 30 → "30". */
export const k = (n) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

export class CheckError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CheckError';
  }
}

export function assert(condition, message) {
  if (!condition) throw new CheckError(message);
}

// A ~200-character orchestrator event, different for every seq.
const FILLER = 'The reviewer agent compared both drafts and kept the second; '
  + 'citations were checked against the retrieved sources. ';
export function eventJson(runId, seq, wave) {
  return JSON.stringify({
    type: seq % 3 === 0 ? 'node_started' : seq % 3 === 1 ? 'node_output' : 'node_finished',
    node: `n${seq % 17}`,
    wave,
    seq,
    text: FILLER.slice(0, 60 + (seq % 50)),
  });
}

export function makeRuns(count, prefix) {
  const runs = new Array(count);
  for (let i = 0; i < count; i++) {
    runs[i] = {
      id: `${prefix}-${pad(i)}`,
      goal: `Goal ${i}: summarise the quarterly reports and draft an answer`,
      hitlMode: 'none',
      // One second apart, so newest first is a known order.
      createdAt: iso(BASE_MS + i * 1000),
    };
  }
  return runs;
}

export function makeEvents(runId, count, perWave = 1000, firstSeq = 0) {
  const events = new Array(count);
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    const wave = Math.floor(seq / perWave);
    events[i] = { runId, seq, eventJson: eventJson(runId, seq, wave), waveIndex: wave, createdAt: iso(BASE_MS + seq) };
  }
  return events;
}

/** Setup helper: creates runs a chunk at a time, concurrently within a chunk. */
export async function createRuns(store, runs, chunk = 250) {
  for (let i = 0; i < runs.length; i += chunk) {
    await Promise.all(runs.slice(i, i + chunk).map((r) => store.createRun(r)));
  }
}

async function updateStatuses(store, ids, status, chunk = 250) {
  for (let i = 0; i < ids.length; i += chunk) {
    await Promise.all(ids.slice(i, i + chunk).map((id) => store.updateRunStatus(id, status)));
  }
}

/** Setup helper: stores events with appendEvents, 10k per call at most. */
export async function storeEvents(store, events, chunk = 10000) {
  for (let i = 0; i < events.length; i += chunk) {
    await store.appendEvents(events.slice(i, i + chunk));
  }
}

/** The list holds exactly `expected` (runId, seq, eventJson, waveIndex), in that order. */
export function checkEvents(list, expected, what) {
  assert(Array.isArray(list), `${what}: expected an array, got ${typeof list}`);
  assert(list.length === expected.length, `${what}: ${list.length} events, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const got = list[i];
    const want = expected[i];
    if (got.seq !== want.seq || got.runId !== want.runId || got.waveIndex !== want.waveIndex
        || got.eventJson !== want.eventJson || typeof got.createdAt !== 'string') {
      throw new CheckError(`${what}: event ${i} is ${JSON.stringify(got)}, expected seq ${want.seq} of ${want.runId}`);
    }
  }
}

function checkRunsNewestFirst(list, expectedIds, what) {
  assert(Array.isArray(list), `${what}: expected an array`);
  assert(list.length === expectedIds.length, `${what}: ${list.length} runs, expected ${expectedIds.length}`);
  for (let i = 0; i < list.length; i++) {
    if (list[i].id !== expectedIds[i]) {
      throw new CheckError(`${what}: run ${i} is ${list[i].id}, expected ${expectedIds[i]}`);
    }
  }
}

async function rejects(promiseFn, what) {
  let threw = false;
  try {
    await promiseFn();
  } catch {
    threw = true;
  }
  assert(threw, `${what} should have failed`);
}

const RUN = 'run-under-test';

export const rows = [
  {
    key: 'createRun',
    label: (p) => `createRun ×${k(p.n)}, awaited one by one`,
    params: (smoke) => ({ n: smoke ? 30 : 1000 }),
    async setup(store, p) {
      return { runs: makeRuns(p.n, 'cr') };
    },
    async run(store, ctx) {
      let last;
      for (const r of ctx.runs) last = await store.createRun(r);
      return last;
    },
    async check(store, ctx, last) {
      const want = ctx.runs[ctx.runs.length - 1];
      assert(last && last.id === want.id && last.status === 'running' && last.goal === want.goal,
        `createRun returned ${JSON.stringify(last)}`);
      const all = await store.listRuns();
      checkRunsNewestFirst(all, ctx.runs.map((r) => r.id).reverse(), 'listRuns() after createRun');
      await rejects(() => store.createRun(ctx.runs[0]), 'createRun of an existing id');
    },
  },
  {
    key: 'getRun',
    label: (p) => `getRun ×${k(p.n)}, awaited one by one`,
    params: (smoke) => ({ n: smoke ? 30 : 1000 }),
    async setup(store, p) {
      const runs = makeRuns(p.n, 'gr');
      await createRuns(store, runs);
      return { runs, ids: runs.map((r) => r.id) };
    },
    async run(store, ctx) {
      const { ids } = ctx;
      const out = new Array(ids.length);
      for (let i = 0; i < ids.length; i++) out[i] = await store.getRun(ids[i]);
      return out;
    },
    async check(store, ctx, out) {
      for (let i = 0; i < ctx.runs.length; i++) {
        const r = out[i];
        const want = ctx.runs[i];
        assert(r && r.id === want.id && r.goal === want.goal && r.status === 'running'
          && r.createdAt === want.createdAt, `getRun(${want.id}) returned ${JSON.stringify(r)}`);
      }
      assert((await store.getRun('no-such-run')) == null, 'getRun of a missing id should give null');
    },
  },
  {
    key: 'appendEvent',
    label: (p) => `appendEvent ×${k(p.n)}, awaited one by one`,
    params: (smoke) => ({ n: smoke ? 40 : 2000 }),
    async setup(store, p) {
      await store.createRun({ id: RUN, goal: 'append', createdAt: iso(BASE_MS) });
      return { events: makeEvents(RUN, p.n, 100) };
    },
    async run(store, ctx) {
      for (const e of ctx.events) await store.appendEvent(e);
    },
    async check(store, ctx) {
      checkEvents(await store.listEvents(RUN), ctx.events, 'listEvents after appendEvent');
      await store.appendEvent(ctx.events[0]); // a faithful retry is a no-op
      await rejects(() => store.appendEvent({ ...ctx.events[1], eventJson: '{"changed":true}' }),
        'appendEvent of a stored seq with different content');
      await rejects(() => store.appendEvent({ ...ctx.events[0], runId: 'no-such-run' }),
        'appendEvent to a missing run');
      checkEvents(await store.listEvents(RUN), ctx.events, 'listEvents after the rejected appends');
    },
  },
  {
    key: 'appendEvents',
    label: (p) => `appendEvents of ${k(p.n)} in one call`,
    params: (smoke) => ({ n: smoke ? 200 : 10000 }),
    async setup(store, p) {
      await store.createRun({ id: RUN, goal: 'batch', createdAt: iso(BASE_MS) });
      return { events: makeEvents(RUN, p.n, 1000) };
    },
    async run(store, ctx) {
      await store.appendEvents(ctx.events);
    },
    async check(store, ctx) {
      const { events } = ctx;
      checkEvents(await store.listEvents(RUN), events, 'listEvents after appendEvents');
      // All or nothing: a new event followed by a conflicting one stores neither.
      const extra = makeEvents(RUN, 1, 1000, events.length)[0];
      await rejects(() => store.appendEvents([extra, { ...events[3], eventJson: '{"changed":true}' }]),
        'appendEvents with a conflicting event');
      await rejects(() => store.appendEvents([extra, { ...extra, runId: 'no-such-run' }]),
        'appendEvents with an event of a missing run');
      await store.appendEvents(events.slice(0, 5)); // faithful retries are no-ops
      checkEvents(await store.listEvents(RUN), events, 'listEvents after the rejected batches');
    },
  },
  {
    key: 'appendEventConcurrent',
    label: (p) => `appendEvent ×${k(p.n)} issued at once (Promise.all)`,
    note: 'plain and Dexie: one transaction per event, as naive code does',
    params: (smoke) => ({ n: smoke ? 200 : 10000 }),
    async setup(store, p) {
      await store.createRun({ id: RUN, goal: 'concurrent', createdAt: iso(BASE_MS) });
      return { events: makeEvents(RUN, p.n, 1000) };
    },
    async run(store, ctx) {
      await Promise.all(ctx.events.map((e) => store.appendEvent(e)));
    },
    async check(store, ctx) {
      checkEvents(await store.listEvents(RUN), ctx.events, 'listEvents after concurrent appendEvent');
      // A conflicting append among good ones fails alone.
      const more = makeEvents(RUN, 3, 1000, ctx.events.length);
      const outcomes = await Promise.allSettled([
        store.appendEvent(more[0]),
        store.appendEvent({ ...ctx.events[2], eventJson: '{"changed":true}' }),
        store.appendEvent(more[1]),
        store.appendEvent({ ...more[2], runId: 'no-such-run' }),
      ]);
      const states = outcomes.map((o) => o.status).join(',');
      assert(states === 'fulfilled,rejected,fulfilled,rejected', `concurrent appends with bad ones settled ${states}`);
      checkEvents(await store.listEvents(RUN), [...ctx.events, more[0], more[1]], 'listEvents after mixed concurrent appends');
    },
  },
  {
    key: 'listEvents',
    repeat: 5,
    label: (p) => `listEvents of a ${k(p.n)}-event run`,
    params: (smoke) => ({ n: smoke ? 200 : 10000 }),
    async setup(store, p) {
      await store.createRun({ id: RUN, goal: 'read', createdAt: iso(BASE_MS) });
      const events = makeEvents(RUN, p.n, 1000);
      await storeEvents(store, events);
      return { events };
    },
    async run(store) {
      return store.listEvents(RUN);
    },
    async check(store, ctx, list) {
      checkEvents(list, ctx.events, 'listEvents');
    },
  },
  {
    key: 'listRunsStatus',
    repeat: 5,
    label: (p) => `listRuns(status) over ${k(p.n)} runs, ${k(p.n / p.every)} matching`,
    params: (smoke) => ({ n: smoke ? 100 : 2000, every: 10 }),
    async setup(store, p) {
      const runs = makeRuns(p.n, 'lr');
      await createRuns(store, runs);
      const matching = runs.filter((_, i) => i % p.every === 3).map((r) => r.id);
      await updateStatuses(store, matching, 'completed');
      return { expected: matching.reverse() };
    },
    async run(store) {
      return store.listRuns('completed');
    },
    async check(store, ctx, list) {
      checkRunsNewestFirst(list, ctx.expected, "listRuns('completed')");
      assert(list.every((r) => r.status === 'completed'), 'listRuns gave a run of another status');
    },
  },
  {
    key: 'markInterrupted',
    label: (p) => `markInterruptedRuns over ${k(p.n)} runs, ${k(p.n / p.every)} running`,
    params: (smoke) => ({ n: smoke ? 100 : 2000, every: 10 }),
    async setup(store, p) {
      const runs = makeRuns(p.n, 'mi');
      await createRuns(store, runs);
      const running = [];
      const done = [];
      runs.forEach((r, i) => (i % p.every === 7 ? running : done).push(r.id));
      await updateStatuses(store, done, 'completed');
      return { running: running.reverse(), doneCount: done.length };
    },
    async run(store) {
      return store.markInterruptedRuns();
    },
    async check(store, ctx, count) {
      assert(Number(count) === ctx.running.length, `markInterruptedRuns returned ${count}, expected ${ctx.running.length}`);
      assert((await store.listRuns('running')).length === 0, 'runs still running after markInterruptedRuns');
      const interrupted = await store.listRuns('interrupted');
      checkRunsNewestFirst(interrupted, ctx.running, "listRuns('interrupted')");
      assert(interrupted.every((r) => r.updatedAt > r.createdAt), 'updatedAt did not move forward');
      assert((await store.listRuns('completed')).length === ctx.doneCount, 'completed runs were touched');
    },
  },
  {
    key: 'truncate',
    label: (p) => `truncateEventsAfterWave removing ${k(p.n / 2)} of ${k(p.n)}`,
    params: (smoke) => ({ n: smoke ? 200 : 10000 }),
    async setup(store, p) {
      await store.createRun({ id: RUN, goal: 'rewind', createdAt: iso(BASE_MS) });
      const events = makeEvents(RUN, p.n, p.n / 10); // waves 0..9
      await storeEvents(store, events);
      return { events };
    },
    async run(store) {
      return store.truncateEventsAfterWave(RUN, 4);
    },
    async check(store, ctx) {
      checkEvents(await store.listEvents(RUN), ctx.events.slice(0, ctx.events.length / 2), 'listEvents after truncate');
      await rejects(() => store.truncateEventsAfterWave('no-such-run', 0), 'truncate of a missing run');
    },
  },
  {
    key: 'scaleLoaded',
    repeat: 5,
    label: (p) => `listEvents of a ${k(p.n)}-event run, ${k(p.others * p.perOther)} other events stored`,
    params: (smoke) => ({ n: smoke ? 50 : 1000, others: smoke ? 4 : 10, perOther: smoke ? 250 : 10000 }),
    async setup(store, p) {
      await store.createRun({ id: 'm-target', goal: 'target', createdAt: iso(BASE_MS) });
      for (let r = 0; r < p.others; r++) {
        // Half the other runs sort before the target, half after.
        const id = `${r % 2 === 0 ? 'a' : 'z'}-other-${r}`;
        await store.createRun({ id, goal: 'other', createdAt: iso(BASE_MS + r + 1) });
        await storeEvents(store, makeEvents(id, p.perOther, 1000));
      }
      const events = makeEvents('m-target', p.n, 100);
      await storeEvents(store, events);
      return { events };
    },
    async run(store) {
      return store.listEvents('m-target');
    },
    async check(store, ctx, list) {
      checkEvents(list, ctx.events, 'listEvents of the target run');
    },
  },
  {
    key: 'scaleEmpty',
    repeat: 5,
    label: (p) => `listEvents of a ${k(p.n)}-event run, nothing else stored`,
    params: (smoke) => ({ n: smoke ? 50 : 1000 }),
    async setup(store, p) {
      await store.createRun({ id: 'm-target', goal: 'target', createdAt: iso(BASE_MS) });
      const events = makeEvents('m-target', p.n, 100);
      await storeEvents(store, events);
      return { events };
    },
    async run(store) {
      return store.listEvents('m-target');
    },
    async check(store, ctx, list) {
      checkEvents(list, ctx.events, 'listEvents of the target run');
    },
  },
];

/**
 * Contract checks run once per implementation before timing anything: the
 * three must do the same thing for the comparison to mean anything.
 */
export async function conformance(store) {
  const runs = makeRuns(3, 'cf');
  // Created out of id order: newest first must follow createdAt, not id.
  const a = await store.createRun({ ...runs[2] });
  await store.createRun({ ...runs[0], hitlMode: 'approve_plan', conversationId: 42, graphJson: '{"g":1}' });
  await store.createRun({ ...runs[1] });
  assert(a.id === runs[2].id && a.status === 'running' && a.hitlMode === 'none' && a.createdAt === runs[2].createdAt,
    `createRun returned ${JSON.stringify(a)}`);
  const r0 = await store.getRun(runs[0].id);
  assert(r0 && r0.hitlMode === 'approve_plan' && Number(r0.conversationId) === 42 && r0.graphJson === '{"g":1}',
    `getRun returned ${JSON.stringify(r0)}`);
  await rejects(() => store.createRun({ ...runs[1] }), 'createRun of an existing id');
  assert((await store.getRun('missing')) == null, 'getRun of a missing id should give null');
  checkRunsNewestFirst(await store.listRuns(), [runs[2].id, runs[1].id, runs[0].id], 'listRuns()');

  await store.updateRunStatus(runs[1].id, 'awaiting_approval');
  await store.updateGraph(runs[1].id, '{"g":2}');
  const r1 = await store.getRun(runs[1].id);
  assert(r1.status === 'awaiting_approval' && r1.graphJson === '{"g":2}' && Date.parse(r1.updatedAt) > Date.parse(r1.createdAt),
    `updated run is ${JSON.stringify(r1)}`);
  await rejects(() => store.updateRunStatus('missing', 'failed'), 'updateRunStatus of a missing run');
  await rejects(() => store.updateGraph('missing', '{}'), 'updateGraph of a missing run');
  checkRunsNewestFirst(await store.listRuns('awaiting_approval'), [runs[1].id], "listRuns('awaiting_approval')");
  checkRunsNewestFirst(await store.listRuns('running'), [runs[2].id, runs[0].id], "listRuns('running')");

  const id = runs[0].id;
  const ev = makeEvents(id, 12, 3); // waves 0,0,0,1,1,1,...
  // Out of order on purpose: listEvents must sort by seq.
  await store.appendEvent(ev[2]);
  await store.appendEvent(ev[0]);
  await store.appendEvents([ev[1], ev[5], ev[3], ev[4]]);
  await store.appendEvent(ev[0]);
  await rejects(() => store.appendEvent({ ...ev[0], waveIndex: 7 }), 'appendEvent with a different waveIndex');
  await rejects(() => store.appendEvent({ ...ev[6], runId: 'missing' }), 'appendEvent to a missing run');
  await rejects(() => store.appendEvents([ev[6], { ...ev[7], eventJson: 'x' }, { ...ev[7] }]),
    'appendEvents with two different events of one seq');
  await rejects(() => store.appendEvents([ev[6], { ...ev[1], eventJson: 'x' }]), 'appendEvents conflicting with a stored event');
  await rejects(() => store.appendEvent({ ...ev[6], seq: -1 }), 'appendEvent with a negative seq');
  checkEvents(await store.listEvents(id), ev.slice(0, 6), 'listEvents after rejected writes');
  await store.appendEvents(ev.slice(0, 12));
  checkEvents(await store.listEvents(id), ev, 'listEvents after a batch with retries');
  assert((await store.listEvents('missing')).length === 0, 'listEvents of a missing run should be empty');

  await store.truncateEventsAfterWave(id, 1);
  checkEvents(await store.listEvents(id), ev.slice(0, 6), 'listEvents after truncate');
  await rejects(() => store.truncateEventsAfterWave('missing', 0), 'truncate of a missing run');

  const marked = await store.markInterruptedRuns();
  assert(Number(marked) === 2, `markInterruptedRuns returned ${marked}, expected 2`);
  checkRunsNewestFirst(await store.listRuns('interrupted'), [runs[2].id, runs[0].id], "listRuns('interrupted')");
  assert(Number(await store.markInterruptedRuns()) === 0, 'a second markInterruptedRuns should find nothing');
}
