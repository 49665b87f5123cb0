// Runs every workload row on every implementation in one page: a fresh
// database per trial, warm-up trials first, then at least five timed trials
// per implementation with the implementations' order rotated each trial, and
// median/min/max of the timed parts.
//
// A row may also declare `impls` (the implementations it applies to; the
// others show "–"), `baseline` ({ label(p), impls, run, check? }: a second
// timed part on the same implementation, trialled in the same rotation, that
// the row is measured against), and `measure(ctx, result)` (the trial's
// figure is then { ms, p99 } from the result rather than the wall time of
// run(), e.g. a latency).

import { rows as allRows, conformance } from './workloads.js';

export const IMPLS = ['plain', 'council', 'dexie'];

const token = Math.random().toString(36).slice(2, 8);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const round = (x) => Math.round(x * 1000) / 1000;
  return {
    median: round(median), min: round(s[0]), max: round(s[s.length - 1]),
    mean: round(s.reduce((a, b) => a + b, 0) / s.length), samples: samples.map(round),
  };
}

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

/**
 * One trial: setup, the timed part, the check. Returns milliseconds, or
 * { ms, p99 } for a row with `measure`. `part` is the row or its baseline.
 */
async function trial(impl, row, p, tag, hooks, part = row) {
  const name = `bench-${token}-${impl.key}-${row.key}${part === row ? '' : '-base'}-${tag}`;
  return withFreshDb(impl, name, async (store) => {
    const env = { impl: impl.key, dbName: name, follow: impl.follow };
    const ctx = await row.setup(store, p, env);
    // Let the setup's garbage and background work settle outside the timer.
    if (typeof globalThis.gc === 'function') globalThis.gc();
    await sleep(100);
    // Read-only rows repeat their call on the same database (row.repeat) and
    // count the median call, since one short call is at the mercy of the
    // scheduler; every repetition's result is checked.
    const times = [];
    for (let i = 0; i < (row.repeat ?? 1); i++) {
      if (hooks.before) await hooks.before({ row: row.key, impl: impl.key, tag });
      const t0 = performance.now();
      const result = await part.run(store, ctx);
      const ms = performance.now() - t0;
      if (hooks.after) await hooks.after({ row: row.key, impl: impl.key, tag, ms });
      await (part.check ?? row.check).call(part, store, ctx, result);
      if (row.measure) return row.measure(ctx, result);
      times.push(ms);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1];
  });
}

/**
 * options: { smoke, trials, warmup, rows: [keys], impls: [keys], log(fn),
 *            hooks: {before, after} (awaited around each timed part) }
 */
export async function runBench(options = {}) {
  const {
    smoke = false, trials = smoke ? 1 : 7, warmup = 1, log = console.log, hooks = {},
  } = options;
  const rowList = options.rows ? allRows.filter((r) => options.rows.includes(r.key)) : allRows;
  const implKeys = options.impls ?? IMPLS;
  const out = {
    meta: {
      userAgent: navigator.userAgent, smoke, trials, warmup, started: new Date().toISOString(),
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
    const p = row.params(smoke);
    const rowImpls = impls.filter((i) => !row.impls || row.impls.includes(i.key));
    if (rowImpls.length === 0) continue;
    // What is trialled: each implementation's run, and its baseline if any.
    const parts = rowImpls.flatMap((impl) => [
      { impl, part: row, id: impl.key },
      ...(row.baseline && (!row.baseline.impls || row.baseline.impls.includes(impl.key))
        ? [{ impl, part: row.baseline, id: `${impl.key}/baseline` }] : []),
    ]);
    const samples = Object.fromEntries(parts.map((x) => [x.id, []]));
    const p99s = Object.fromEntries(parts.map((x) => [x.id, []]));
    const failed = {};
    const attempt = async ({ impl, part, id }, tag) => {
      if (failed[id]) return;
      try {
        const got = await trial(impl, row, p, tag, tag.startsWith('w') ? {} : hooks, part);
        if (!tag.startsWith('w')) {
          samples[id].push(typeof got === 'number' ? got : got.ms);
          if (typeof got === 'object' && got.p99 != null) p99s[id].push(got.p99);
        }
      } catch (e) {
        failed[id] = describe(e);
        out.errors.push({ impl: id, row: row.key, phase: tag, error: describe(e) });
        log(`${row.key} ${id} ${tag}: FAILED ${describe(e)}`);
      }
    };
    for (let w = 0; w < warmup; w++) {
      for (const x of parts) await attempt(x, `w${w}`);
    }
    for (let t = 0; t < trials; t++) {
      // Rotate who goes first, so drift over the run hits everyone alike.
      for (let k = 0; k < parts.length; k++) await attempt(parts[(t + k) % parts.length], `t${t}`);
    }
    const summarise = (id) => {
      if (failed[id]) return { error: failed[id] };
      const s = stats(samples[id]);
      // Latency rows: the median over trials of each trial's p99, and the worst.
      if (p99s[id].length) s.p99 = { ...stats(p99s[id]), samples: undefined };
      return s;
    };
    const result = { key: row.key, label: row.label(p), note: row.note, params: p, impls: {} };
    if (row.info) result.info = row.info();
    for (const x of parts) {
      if (x.part === row) result.impls[x.impl.key] = summarise(x.id);
      else {
        result.baseline ??= { label: row.baseline.label(p), impls: {} };
        result.baseline.impls[x.impl.key] = summarise(x.id);
      }
    }
    out.rows.push(result);
    const summary = parts.map((x) => {
      const s = x.part === row ? result.impls[x.impl.key] : result.baseline.impls[x.impl.key];
      return `${x.id} ${s.median?.toFixed(2) ?? 'FAILED'}${s.p99 ? ` (p99 ${s.p99.median.toFixed(2)})` : ''}`;
    }).join(' | ');
    log(`${row.key}: ${summary} ms`);
  }
  out.meta.finished = new Date().toISOString();
  return out;
}
