// The benchmark rows. Each row: params(smoke) gives its sizes; setup(store, p,
// env) fills a fresh database outside the timer (env: { impl, dbName, follow });
// run(store, ctx) is the timed part; check(store, ctx, result) verifies the
// result (and then the stored state), so a fast but wrong implementation fails
// the run. Rows whose params have `batch` are run a batch at a time:
// run(store, ctx, from, to) makes calls from..to-1, and check gets the last
// batch's result. Optional: impls, runBy, baseline, trials, repeat,
// sequential, measure, info (see harness.js).

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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const clock = () => performance.timeOrigin + performance.now();

// ------------------------------------------------- the liveLatency writer ----

export const WRITER_CHANNEL = 'council-bench-writer';
let writerPromise = null;

/**
 * The other agent that writes in the liveLatency row (see writer.js): the
 * writer tab run.mjs opens (bench/writer.html), or, when no tab answers (the
 * page opened by hand), a dedicated worker started here. Resolves to
 * { agent, visibility, clockOffset, call(type, args, timeoutMs) }.
 */
function findWriter() {
  writerPromise ??= (async () => {
    const channel = new BroadcastChannel(WRITER_CHANNEL);
    const readies = [];
    const pending = new Map();
    let nextId = 0;
    channel.onmessage = ({ data }) => {
      if (data.type === 'ready') {
        readies.push({ ...data, at: clock() });
        return;
      }
      const waiter = pending.get(data.id);
      if (!waiter) return;
      pending.delete(data.id);
      if (data.type === 'error') waiter.reject(new Error(`writer: ${data.error}`));
      else waiter.resolve(data);
    };
    const wait = async (pred, ms) => {
      for (const end = performance.now() + ms; performance.now() < end; await sleep(20)) {
        const found = readies.find(pred);
        if (found) return found;
      }
      return null;
    };
    channel.postMessage({ type: 'ping' });
    let ready = await wait((r) => r.agent === 'tab', 1000);
    if (!ready) {
      new Worker(new URL('./writer.js', import.meta.url), { type: 'module' });
      ready = await wait((r) => r.agent === 'worker', 10000);
      if (!ready) throw new Error('no writer tab answered and the writer worker did not start');
    }
    const { writer } = ready;
    // The writer's clock against ours (performance.timeOrigin + now() of each
    // side): the ping with the shortest round trip of a few, its reply taken
    // to be read halfway. Recorded, not applied: it says how far apart the
    // two sides' timeOrigins are.
    let best = null;
    for (let i = 0; i < 7; i++) {
      readies.length = 0;
      const t0 = clock();
      channel.postMessage({ type: 'ping' });
      const r = await wait((x) => x.writer === writer, 2000);
      if (r && (!best || r.at - t0 < best.rtt)) best = { rtt: r.at - t0, offset: r.now - (t0 + r.at) / 2 };
    }
    const call = (type, args = {}, timeoutMs = 30000) => new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new CheckError(`writer: no answer to ${type} in ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      channel.postMessage({ type, writer, id, ...args });
    });
    return { agent: ready.agent, visibility: ready.visibility, clock: best, call };
  })();
  writerPromise.catch(() => { writerPromise = null; });
  return writerPromise;
}

const LIVE_RUN = 'live-run';
let liveWriter = null;

export const rows = [
  {
    key: 'createRun',
    label: (p) => `createRun ×${k(p.n)}, awaited one by one`,
    params: (smoke) => ({ n: smoke ? 30 : 1000, batch: smoke ? 10 : 50 }),
    trials: 15,
    async setup(store, p) {
      return { runs: makeRuns(p.n, 'cr') };
    },
    async run(store, ctx, from = 0, to = ctx.runs.length) {
      const { runs } = ctx;
      let last;
      for (let i = from; i < to; i++) last = await store.createRun(runs[i]);
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
    params: (smoke) => ({ n: smoke ? 30 : 1000, batch: smoke ? 10 : 50 }),
    trials: 15,
    async setup(store, p) {
      const runs = makeRuns(p.n, 'gr');
      await createRuns(store, runs);
      return { runs, ids: runs.map((r) => r.id), out: new Array(runs.length) };
    },
    async run(store, ctx, from = 0, to = ctx.ids.length) {
      const { ids, out } = ctx;
      for (let i = from; i < to; i++) out[i] = await store.getRun(ids[i]);
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
    params: (smoke) => ({ n: smoke ? 40 : 2000, batch: smoke ? 10 : 50 }),
    trials: 11,
    async setup(store, p) {
      await store.createRun({ id: RUN, goal: 'append', createdAt: iso(BASE_MS) });
      return { events: makeEvents(RUN, p.n, 100) };
    },
    async run(store, ctx, from = 0, to = ctx.events.length) {
      const { events } = ctx;
      for (let i = from; i < to; i++) await store.appendEvent(events[i]);
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
    trials: 11,
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
    note: 'plain and Dexie: one transaction per event, as naive code does; the next row sets the same '
      + 'council-idb calls against one appendEvents transaction',
    params: (smoke) => ({ n: smoke ? 200 : 10000 }),
    // Few trials: the margins are wide, and plain's and Dexie's 10k
    // transactions take more of a full run than any other row.
    trials: 5,
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
    key: 'appendEventConcurrentFloor',
    label: (p) => `appendEvent ×${k(p.n)} issued at once; plain and Dexie: appendEvents of the same ${k(p.n)}`,
    note: 'the row above against the floor: council-idb issues the same appendEvent calls at once (its group '
      + 'commit gathers them into a few transactions), while plain IDB and Dexie store the same events with one '
      + 'appendEvents call, one transaction, as hand-written code that holds all the events at once would',
    // How the targets list names what plain and Dexie do in this row.
    versus: 'their appendEvents of the same events, one transaction',
    params: (smoke) => ({ n: smoke ? 200 : 10000 }),
    trials: 11,
    async setup(store, p) {
      await store.createRun({ id: RUN, goal: 'floor', createdAt: iso(BASE_MS) });
      return { events: makeEvents(RUN, p.n, 1000) };
    },
    async run(store, ctx) {
      await Promise.all(ctx.events.map((e) => store.appendEvent(e)));
    },
    runBy: {
      plain: (store, ctx) => store.appendEvents(ctx.events),
      dexie: (store, ctx) => store.appendEvents(ctx.events),
    },
    async check(store, ctx) {
      checkEvents(await store.listEvents(RUN), ctx.events, 'listEvents after storing the events');
    },
  },
  {
    key: 'appendNext',
    impls: ['council'],
    label: (p) => `appendNext ×${k(p.n)} issued at once (Promise.all)`,
    note: "council-idb only (plain and Dexie have no store-side numbering); measured against council-idb's "
      + 'appendEvent of the same events issued at once with caller-computed seqs, trialled alongside',
    params: (smoke) => ({ n: smoke ? 200 : 10000 }),
    trials: 11,
    async setup(store, p) {
      await store.createRun({ id: RUN, goal: 'numbered', createdAt: iso(BASE_MS) });
      return { events: makeEvents(RUN, p.n, 1000) };
    },
    async run(store, ctx) {
      const { events } = ctx;
      const seqs = new Array(events.length);
      for (let i = 0; i < events.length; i++) {
        const e = events[i];
        seqs[i] = store.appendNext(RUN, { waveIndex: e.waveIndex, eventJson: e.eventJson, createdAt: e.createdAt });
      }
      return Promise.all(seqs);
    },
    async check(store, ctx, seqs) {
      const { events } = ctx;
      if (seqs !== undefined) {
        assert(Array.isArray(seqs) && seqs.length === events.length, `appendNext resolved ${seqs?.length} seqs`);
        for (let i = 0; i < seqs.length; i++) {
          assert(Number(seqs[i]) === i, `appendNext call ${i} resolved to seq ${seqs[i]}`);
        }
      }
      checkEvents(await store.listEvents(RUN), events, 'listEvents after appending');
      assert(Number(await store.nextSeq(RUN)) === events.length, 'nextSeq after appending');
    },
    baseline: {
      impls: ['council'],
      label: (p) => `appendEvent ×${k(p.n)} issued at once, caller-computed seqs`,
      async run(store, ctx) {
        const { events } = ctx;
        const done = new Array(events.length);
        for (let i = 0; i < events.length; i++) done[i] = store.appendEvent(events[i]);
        await Promise.all(done);
      },
    },
  },
  {
    key: 'liveLatency',
    impls: ['council', 'dexie'],
    // The writer tab serves one database at a time.
    sequential: true,
    trials: 7,
    label: (p) => `live: commit in another tab → callback, ${k(p.n)} appends one by one (median latency)`,
    note: 'another tab (or, opened by hand, a worker) appends the events one at a time, each awaited and '
      + 'then a pause of gapMs; this page follows the run (council-idb: watchEvents; Dexie: liveQuery of '
      + "the run's events) and takes, per event, the time of the callback minus the writer's time when its "
      + 'append resolved. Median over trials of each trial\'s median (and p99); no plain IDB version',
    params: (smoke) => ({ n: smoke ? 50 : 1000, gapMs: 4 }),
    async setup(store, p, env) {
      assert(typeof env.follow === 'function', `${env.impl} cannot follow a run`);
      const writer = await findWriter();
      liveWriter = writer;
      await writer.call('prepare', { impl: env.impl, dbName: env.dbName, runId: LIVE_RUN });
      return { p, env, writer };
    },
    async run(store, ctx) {
      const { n, gapMs } = ctx.p;
      const arrivals = new Array(n);
      const got = [];
      let failure = null;
      let allSeen;
      const seenAll = new Promise((resolve, reject) => { allSeen = { resolve, reject }; });
      const stop = ctx.env.follow(store, LIVE_RUN, (events) => {
        const now = clock();
        for (const e of events) {
          got.push(e);
          if (e.seq >= 0 && e.seq < n && arrivals[e.seq] === undefined) arrivals[e.seq] = now;
        }
        if (got.length >= n) allSeen.resolve();
      }, (e) => {
        failure ??= e;
        allSeen.reject(e);
      });
      try {
        await sleep(100); // the watch or query settles before the first write
        const limit = n * (gapMs + 40) + 10000;
        const written = ctx.writer.call('write', { n, gapMs }, limit);
        let timer;
        await Promise.race([seenAll, written.then(() => new Promise((_, reject) => {
          timer = setTimeout(() => reject(new CheckError(`saw ${got.length} of ${n} events 5 s after the last commit`)), 5000);
        }))]);
        clearTimeout(timer);
        const { commits } = await written;
        return { got, arrivals, commits, failure };
      } finally {
        stop();
      }
    },
    async check(store, ctx, out) {
      const { n } = ctx.p;
      await ctx.writer.call('close');
      assert(out.failure === null, `the follower failed: ${out.failure}`);
      assert(out.got.length === n, `followed ${out.got.length} events, expected ${n}`);
      for (let i = 0; i < n; i++) {
        const e = out.got[i];
        const body = JSON.parse(e.eventJson);
        assert(e.runId === LIVE_RUN && e.seq === i && e.waveIndex === 0 && body.seq === i,
          `followed event ${i} is ${JSON.stringify(e)}`);
        assert(body.sentAt <= out.arrivals[i] + 50, `event ${i} arrived ${body.sentAt - out.arrivals[i]} ms before it was sent`);
      }
      assert(out.commits.length === n && out.commits.every(Number.isFinite), 'the writer gave no commit time for some event');
      assert((await store.listEvents(LIVE_RUN)).length === n, 'the follower\'s store does not hold every event');
    },
    measure(ctx, out) {
      const lat = out.arrivals.map((t, i) => t - out.commits[i]).sort((a, b) => a - b);
      const mid = lat.length >> 1;
      const median = lat.length % 2 ? lat[mid] : (lat[mid - 1] + lat[mid]) / 2;
      return { ms: median, p99: lat[Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)] };
    },
    info: () => {
      if (!liveWriter) return null;
      const { agent, visibility, clock: c } = liveWriter;
      return `writer: a ${agent}${visibility ? ` (${visibility})` : ''}`
        + `${c ? `; its clock ${c.offset >= 0 ? '+' : ''}${c.offset.toFixed(2)} ms from this page's (best ping round trip ${c.rtt.toFixed(2)} ms)` : ''}`;
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
    trials: 11,
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
    trials: 11,
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
    // Filling 100k events per part is most of this row's time.
    trials: 7,
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
