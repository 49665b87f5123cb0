// Runs every workload row on every implementation in one page: a fresh
// database per trial, warm-up trials first, then at least five timed trials
// per implementation with the implementations' order rotated each trial, and
// median/min/max of the timed parts.

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
  return { key, label: mod.label, open: mod.open, deleteDb: mod.deleteDb };
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

/** One trial: setup, the timed part, the check. Returns milliseconds. */
async function trial(impl, row, p, tag, hooks) {
  const name = `bench-${token}-${impl.key}-${row.key}-${tag}`;
  return withFreshDb(impl, name, async (store) => {
    const ctx = await row.setup(store, p);
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
      const result = await row.run(store, ctx);
      const ms = performance.now() - t0;
      if (hooks.after) await hooks.after({ row: row.key, impl: impl.key, tag, ms });
      await row.check(store, ctx, result);
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
    const samples = Object.fromEntries(impls.map((i) => [i.key, []]));
    const failed = {};
    const attempt = async (impl, tag) => {
      if (failed[impl.key]) return;
      try {
        const ms = await trial(impl, row, p, tag, tag.startsWith('w') ? {} : hooks);
        if (!tag.startsWith('w')) samples[impl.key].push(ms);
      } catch (e) {
        failed[impl.key] = describe(e);
        out.errors.push({ impl: impl.key, row: row.key, phase: tag, error: describe(e) });
        log(`${row.key} ${impl.key} ${tag}: FAILED ${describe(e)}`);
      }
    };
    for (let w = 0; w < warmup; w++) {
      for (const impl of impls) await attempt(impl, `w${w}`);
    }
    for (let t = 0; t < trials; t++) {
      // Rotate who goes first, so drift over the run hits everyone alike.
      for (let k = 0; k < impls.length; k++) await attempt(impls[(t + k) % impls.length], `t${t}`);
    }
    const result = { key: row.key, label: row.label(p), note: row.note, params: p, impls: {} };
    for (const impl of impls) {
      result.impls[impl.key] = failed[impl.key]
        ? { error: failed[impl.key] }
        : stats(samples[impl.key]);
    }
    out.rows.push(result);
    const summary = impls.map((i) => `${i.key} ${result.impls[i.key].median?.toFixed(2) ?? 'FAILED'}`).join(' | ');
    log(`${row.key}: ${summary} ms`);
  }
  out.meta.finished = new Date().toISOString();
  return out;
}
