// Runs every workload row on every implementation in one page. A row's
// "parts" are its implementations (and a baseline, if it declares one);
// every trial gives each part a fresh database of its own.
//
// Interleaved rows (all but those marked `sequential`): each trial first
// opens and fills every part's database (outside the timer), then times the
// parts back to back, in an order that runs through every permutation of
// the parts from trial to trial, and checks every part's result after the
// last timed call. Rows of many short calls (`params` gives `batch`) are
// timed a batch at a time: `batch` calls of one part, then of the next,
// round after round, the order permuted each round, so that a busy moment
// of the machine falls on all parts alike; a part's figure for the trial is
// the sum of its batches. Rows with `repeat` time one call per part per
// round, `repeat` rounds, and count each part's median call. Other rows time
// one call per part per trial.
//
// Sequential rows (liveLatency, whose writer tab serves one database at a
// time) set up, time and check one part after the other, in the same
// permuted order.
//
// Samples are kept per trial (index = trial; null where a part did not
// finish), so report.mjs can divide one part's figure by another's of the
// same trial. A row may also declare `impls` (the implementations it applies
// to; the others show "–"), `runBy` ({ impl: run }: that implementation runs
// another function than `run`; `versus` then says what, for the targets
// list), `baseline` ({ label(p), impls, run, check? }:
// a second part on the same implementation, trialled alongside, that the
// row is measured against), `trials` (its number of timed trials in a full
// run) and `measure(ctx, result)` (sequential rows only: the trial's figure
// is then { ms, p99 } from the result rather than the wall time of run(),
// e.g. a latency).

import { rows as allRows, conformance } from './workloads.js';
import { summary, pairedRatios } from './stats.js';

export const IMPLS = ['plain', 'council', 'dexie'];
/** Timed trials of a row that names no `trials` of its own (full run). */
export const DEFAULT_TRIALS = 9;
/**
 * Pause after setup, and before each timed call of a row that is not batched
 * (10 ms in a smoke run, whose numbers mean nothing).
 */
const SETTLE_MS = 100;
let settleMs = SETTLE_MS;

const token = Math.random().toString(36).slice(2, 8);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round3 = (x) => (x == null ? null : Math.round(x * 1000) / 1000);

function describe(e) {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  if (typeof e === 'object' && e !== null) {
    try {
      return JSON.stringify(e);
    } catch { /* fall through */ }
  }
  return String(e);
}

async function loadImpl(key) {
  const mod = await import(`./impl/${key}.js`);
  return { key, label: mod.label, open: mod.open, deleteDb: mod.deleteDb, follow: mod.follow };
}

async function withFreshDb(impl, name, body) {
  await impl.deleteDb(name);
  const store = await impl.open(name);
  try {
    return await body(store);
  } finally {
    store.close();
    store.free?.(); // council-idb: release the wasm side now, not at GC
    await impl.deleteDb(name);
  }
}

/** Every ordering of `list` (Heap's algorithm). */
export function permutations(list) {
  const a = [...list];
  const out = [[...a]];
  const c = new Array(a.length).fill(0);
  for (let i = 1; i < a.length;) {
    if (c[i] < i) {
      const j = i % 2 === 0 ? 0 : c[i];
      [a[j], a[i]] = [a[i], a[j]];
      out.push([...a]);
      c[i]++;
      i = 1;
    } else {
      c[i] = 0;
      i++;
    }
  }
  return out;
}

async function settle() {
  // Let earlier garbage and background work settle outside the timer.
  if (typeof globalThis.gc === 'function') globalThis.gc();
  await sleep(settleMs);
}

const runOf = (x) => x.part.runBy?.[x.impl.key] ?? x.part.run;
const checkOf = (x, row) => x.part.check ?? row.check;
const dbName = (x, row, tag) => `bench-${token}-${x.impl.key}-${row.key}${x.part === row ? '' : '-base'}-${tag}`;

/**
 * One interleaved trial. `orders(r)` is the order of the parts in round r.
 * Returns { id: figure } for the parts that finished; calls fail(x, error)
 * for those that did not.
 */
async function interleavedTrial(row, p, tag, hooks, parts, orders, fail) {
  const open = new Map(); // id -> { store, ctx, name, x }
  const figures = {};
  try {
    for (const x of parts) {
      const name = dbName(x, row, tag);
      try {
        await x.impl.deleteDb(name);
        const store = await x.impl.open(name);
        open.set(x.id, { x, name, store, ctx: null });
        open.get(x.id).ctx = await row.setup(store, p, { impl: x.impl.key, dbName: name, follow: x.impl.follow });
      } catch (e) {
        fail(x, e, 'setup');
        const entry = open.get(x.id);
        if (entry) entry.failed = true;
      }
    }
    const batched = p.batch > 0;
    const rounds = batched ? Math.ceil(p.n / p.batch) : row.repeat ?? 1;
    const times = Object.fromEntries(parts.map((x) => [x.id, []]));
    const results = Object.fromEntries(parts.map((x) => [x.id, []]));
    let settled = false;
    for (let r = 0; r < rounds; r++) {
      for (const x of orders(r)) {
        const e = open.get(x.id);
        if (!e || e.failed) continue;
        if (!batched || !settled) {
          await settle();
          settled = true;
        }
        const from = batched ? r * p.batch : undefined;
        const to = batched ? Math.min(p.n, from + p.batch) : undefined;
        try {
          if (hooks.before) await hooks.before({ row: row.key, impl: x.id, tag: `${tag}r${r}` });
          const t0 = performance.now();
          const result = await runOf(x).call(x.part, e.store, e.ctx, from, to);
          const ms = performance.now() - t0;
          if (hooks.after) await hooks.after({ row: row.key, impl: x.id, tag: `${tag}r${r}`, ms });
          times[x.id].push(ms);
          results[x.id].push(result);
        } catch (err) {
          e.failed = true;
          fail(x, err, tag);
        }
      }
    }
    // The checks, after every part has been timed: they read and write, and
    // that work must not fall on a timed call of another part.
    for (const x of parts) {
      const e = open.get(x.id);
      if (!e || e.failed) continue;
      try {
        // A batched row's result is its last batch's; other rows check each call's.
        const toCheck = batched ? results[x.id].slice(-1) : results[x.id];
        for (const result of toCheck) await checkOf(x, row).call(x.part, e.store, e.ctx, result);
        const t = [...times[x.id]].sort((a, b) => a - b);
        figures[x.id] = batched ? t.reduce((a, b) => a + b, 0) : t[t.length >> 1];
      } catch (err) {
        e.failed = true;
        fail(x, err, tag);
      }
    }
  } finally {
    for (const { x, name, store } of open.values()) {
      try {
        store.close();
        store.free?.();
        await x.impl.deleteDb(name);
      } catch (err) {
        fail(x, err, `${tag} cleanup`);
      }
    }
  }
  return figures;
}

/** One sequential trial: each part set up, timed and checked before the next. */
async function sequentialTrial(row, p, tag, hooks, order, fail) {
  const figures = {};
  for (const x of order) {
    try {
      figures[x.id] = await withFreshDb(x.impl, dbName(x, row, tag), async (store) => {
        const ctx = await row.setup(store, p, { impl: x.impl.key, dbName: dbName(x, row, tag), follow: x.impl.follow });
        await settle();
        if (hooks.before) await hooks.before({ row: row.key, impl: x.id, tag });
        const t0 = performance.now();
        const result = await runOf(x).call(x.part, store, ctx);
        const ms = performance.now() - t0;
        if (hooks.after) await hooks.after({ row: row.key, impl: x.id, tag, ms });
        await checkOf(x, row).call(x.part, store, ctx, result);
        return row.measure ? row.measure(ctx, result) : ms;
      });
    } catch (e) {
      fail(x, e, tag);
    }
  }
  return figures;
}

/**
 * options: { smoke, trials (every row; default: the row's own, or
 *            DEFAULT_TRIALS), warmup, rows: [keys], impls: [keys], log(fn),
 *            hooks: {before, after} (awaited around each timed call or batch) }
 */
export async function runBench(options = {}) {
  const { smoke = false, warmup = 1, log = console.log, hooks = {} } = options;
  settleMs = smoke ? 10 : SETTLE_MS;
  const rowList = options.rows ? allRows.filter((r) => options.rows.includes(r.key)) : allRows;
  const implKeys = options.impls ?? IMPLS;
  const out = {
    meta: {
      userAgent: navigator.userAgent, smoke, trials: options.trials ?? null, warmup, started: new Date().toISOString(),
      crossOriginIsolated: globalThis.crossOriginIsolated ?? false,
    },
    impls: {}, conformance: {}, rows: [], errors: [],
  };

  const impls = [];
  for (const key of implKeys) {
    try {
      const impl = await loadImpl(key);
      impls.push(impl);
      out.impls[key] = impl.label;
    } catch (e) {
      out.errors.push({ impl: key, phase: 'load', error: describe(e) });
      log(`cannot load ${key}: ${describe(e)}`);
    }
  }

  for (const impl of [...impls]) {
    try {
      await withFreshDb(impl, `bench-${token}-${impl.key}-conformance`, conformance);
      out.conformance[impl.key] = 'ok';
      log(`conformance ${impl.key}: ok`);
    } catch (e) {
      out.conformance[impl.key] = describe(e);
      out.errors.push({ impl: impl.key, phase: 'conformance', error: describe(e) });
      log(`conformance ${impl.key}: FAILED ${describe(e)}`);
    }
  }

  for (const row of rowList) {
    const rowStarted = performance.now();
    const p = row.params(smoke);
    const trials = options.trials ?? (smoke ? 1 : row.trials ?? DEFAULT_TRIALS);
    const rowImpls = impls.filter((i) => !row.impls || row.impls.includes(i.key));
    if (rowImpls.length === 0) continue;
    // What is trialled: each implementation's run, and its baseline if any.
    const parts = rowImpls.flatMap((impl) => [
      { impl, part: row, id: impl.key },
      ...(row.baseline && (!row.baseline.impls || row.baseline.impls.includes(impl.key))
        ? [{ impl, part: row.baseline, id: `${impl.key}/baseline` }] : []),
    ]);
    const perms = permutations(parts);
    const samples = Object.fromEntries(parts.map((x) => [x.id, new Array(trials).fill(null)]));
    const p99s = Object.fromEntries(parts.map((x) => [x.id, new Array(trials).fill(null)]));
    const failed = {};
    const fail = (x, e, phase) => {
      if (failed[x.id]) return;
      failed[x.id] = describe(e);
      out.errors.push({ impl: x.id, row: row.key, phase, error: describe(e) });
      log(`${row.key} ${x.id} ${phase}: FAILED ${describe(e)}`);
    };
    // Trial i (warm-ups first) starts with permutation i; round r of it uses
    // permutation i + r, so over the rounds and trials each part goes first,
    // and follows each other part, equally often.
    const runTrial = (i, tag, h) => {
      const live = (x) => !failed[x.id];
      const orders = (r) => perms[(i + r) % perms.length].filter(live);
      return row.sequential
        ? sequentialTrial(row, p, tag, h, orders(0), fail)
        : interleavedTrial(row, p, tag, h, orders(0), orders, fail);
    };
    for (let w = 0; w < warmup; w++) await runTrial(w, `w${w}`, {});
    for (let t = 0; t < trials; t++) {
      const figures = await runTrial(warmup + t, `t${t}`, hooks);
      for (const [id, got] of Object.entries(figures)) {
        if (failed[id]) continue;
        samples[id][t] = round3(typeof got === 'number' ? got : got.ms);
        if (typeof got === 'object' && got.p99 != null) p99s[id][t] = round3(got.p99);
      }
    }
    const summarise = (id) => {
      if (failed[id]) return { error: failed[id] };
      const s = { samples: samples[id] };
      // Latency rows: each trial's p99 too.
      if (p99s[id].some((v) => v != null)) s.p99Samples = p99s[id];
      return s;
    };
    const result = {
      key: row.key, label: row.label(p), note: row.note, versus: row.versus, params: p, trials, warmup,
      mode: row.sequential ? 'sequential' : p.batch > 0 ? 'batched' : 'interleaved',
      impls: {},
    };
    if (row.info) result.info = row.info();
    for (const x of parts) {
      if (x.part === row) result.impls[x.impl.key] = summarise(x.id);
      else {
        result.baseline ??= { label: row.baseline.label(p), impls: {} };
        result.baseline.impls[x.impl.key] = summarise(x.id);
      }
    }
    result.seconds = Math.round((performance.now() - rowStarted) / 100) / 10;
    out.rows.push(result);
    log(`${row.key}: ${logLine(parts, samples, failed)} (${trials} trial${trials === 1 ? '' : 's'}, ${result.seconds} s)`);
  }
  out.meta.finished = new Date().toISOString();
  return out;
}

/** "plain 520 | council 1100 | dexie 840 ms; council÷plain 2.10× [2.02–2.21]" (medians, IQR). */
function logLine(parts, samples, failed) {
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
  const ms = parts.map((x) => `${x.id} ${failed[x.id] ? 'FAILED' : fmt(summary(samples[x.id])?.median ?? NaN)}`).join(' | ');
  const pairs = [['council', 'plain'], ['council', 'council/baseline'], ['council', 'dexie']]
    .filter(([a, b]) => samples[a] && samples[b] && !failed[a] && !failed[b])
    .map(([a, b]) => {
      const s = summary(pairedRatios(samples[a], samples[b]));
      return s ? `${a}÷${b} ${s.median.toFixed(2)}× [${s.q1.toFixed(2)}–${s.q3.toFixed(2)}]` : null;
    })
    .filter(Boolean);
  return `${ms} ms${pairs.length ? `; ${pairs.join(', ')}` : ''}`;
}
