// Turns the page's results into the published forms: targets, a markdown
// table and an SVG chart of ratios to the hand-written version. Every ratio
// is the median of per-trial ratios (two parts timed in the same trial),
// shown with its interquartile range; see stats.js.

import { summary, pairedRatios } from './stats.js';

const IMPL_ORDER = ['plain', 'council', 'dexie'];
const TARGET_RATIO = 1.15;
const GROUP_COMMIT_RATIO = 1 / 5;
const SCALE_RATIO = 1.5;
// liveLatency: council-idb's median commit-to-callback latency, and how many
// times lower than Dexie's it must be.
const LIVE_MEDIAN_MS = 10;
const LIVE_VS_DEXIE = 3;

const fmtMs = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtRatio = (x) => (x == null || !Number.isFinite(x) ? '–' : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`);
const fmtBytes = (n) => `${(n / 1024).toFixed(1)} KiB`;
const fmtPct = (x) => `${Math.floor(x * 100)}%`;

/**
 * A part's per-trial figures: `samples` (index = trial, null where it did not
 * finish). Results written before the harness kept nulls hold the finished
 * trials in trial order, which pairs them the same way when none failed.
 */
const samplesOf = (s) => (s && !s.error && Array.isArray(s.samples) ? s.samples : null);

/** summary() of a part, with its p99 (latency rows) and error carried over. */
function partStat(s) {
  if (!s) return null;
  if (s.error) return { error: s.error };
  const st = summary(samplesOf(s) ?? []);
  if (!st) return { error: 'no finished trial' };
  if (s.p99Samples) st.p99 = summary(s.p99Samples);
  else if (s.p99?.median != null) st.p99 = { median: s.p99.median };
  return st;
}

/** Median, quartiles and interval of the per-trial ratios a ÷ b, or null. */
function ratioStat(a, b) {
  const x = samplesOf(a);
  const y = samplesOf(b);
  return x && y ? summary(pairedRatios(x, y)) : null;
}

/** A target on a statistic: met when its median is ≤ limit (< limit when strict). */
function statTarget(row, target, stat, limit, { strict = false, unit } = {}) {
  if (!stat) return { row, target, met: false, detail: 'no paired trials' };
  const met = strict ? stat.median < limit : stat.median <= limit;
  return { row, target, met, value: stat.median, stat, limit, unit };
}

/**
 * Adds to one browser's result: per row and part the statistics of its
 * trials (`stat`), the per-trial ratios to plain (`ratioStat`, and `ratio`,
 * their median), of council-idb to Dexie (`vsDexie`) and to its baseline
 * (`baseRatio`); the derived scale row; the target verdicts, each on a
 * median of per-trial ratios.
 */
export function analyse(run) {
  const rows = [];
  for (const row of run.rows) {
    const stat = {};
    const ratioStats = {};
    const ratio = {};
    for (const [key, s] of Object.entries(row.impls)) {
      stat[key] = partStat(s);
      ratioStats[key] = key === 'plain' ? null : ratioStat(s, row.impls.plain);
      ratio[key] = ratioStats[key]?.median ?? null;
    }
    const out = { ...row, trials: row.trials ?? run.meta?.trials, stat, ratioStat: ratioStats, ratio };
    out.vsDexie = ratioStat(row.impls.council, row.impls.dexie);
    if (row.baseline) {
      out.baselineStat = {};
      out.baseRatio = {};
      for (const [key, s] of Object.entries(row.baseline.impls)) {
        out.baselineStat[key] = partStat(s);
        out.baseRatio[key] = ratioStat(row.impls[key], s);
      }
    }
    rows.push(out);
  }
  const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
  const targets = [];
  for (const row of rows) {
    const c = row.stat.council;
    const d = row.stat.dexie;
    if (!c) continue;
    if (c.error) {
      targets.push({ row: row.key, target: 'runs without error', met: false, detail: c.error });
      continue;
    }
    if (row.key === 'liveLatency') {
      targets.push(statTarget(row.key, `median ≤ ${LIVE_MEDIAN_MS} ms`, c, LIVE_MEDIAN_MS, { unit: 'ms' }));
      if (d && !d.error) {
        targets.push(statTarget(row.key, `≥${LIVE_VS_DEXIE}× lower than Dexie (ratio ≤ ${fmtRatio(1 / LIVE_VS_DEXIE)})`,
          row.vsDexie, 1 / LIVE_VS_DEXIE));
      }
      continue;
    }
    // A row where plain and Dexie do other work than council-idb says which.
    const versus = row.versus ? ` (${row.versus})` : '';
    const base = row.baselineStat?.council;
    if (base) {
      const target = `≤ ${TARGET_RATIO}× council-idb's ${row.baseline.label}`;
      targets.push(base.error
        ? { row: row.key, target, met: false, detail: `the baseline failed: ${base.error}` }
        : statTarget(row.key, target, row.baseRatio.council, TARGET_RATIO));
    }
    if (row.key === 'appendEventConcurrent') {
      targets.push(statTarget(row.key, `≥5× faster than plain's one transaction per event (ratio ≤ ${GROUP_COMMIT_RATIO})`,
        row.ratioStat.council, GROUP_COMMIT_RATIO));
    } else if (row.stat.plain && !row.stat.plain.error) {
      targets.push(statTarget(row.key, `≤ ${TARGET_RATIO}× plain${versus}`, row.ratioStat.council, TARGET_RATIO));
    }
    if (d && !d.error) {
      targets.push(statTarget(row.key, `faster than Dexie${versus}`, row.vsDexie, 1, { strict: true }));
    }
  }
  let scale = null;
  if (byKey.scaleLoaded && byKey.scaleEmpty) {
    scale = {};
    for (const key of Object.keys(byKey.scaleLoaded.impls)) {
      const a = byKey.scaleLoaded.stat[key]?.median;
      const b = byKey.scaleEmpty.stat[key]?.median;
      scale[key] = a != null && b ? a / b : null;
    }
    if (scale.council != null) {
      targets.push({
        row: 'scale', target: `loaded ÷ empty ≤ ${SCALE_RATIO}×`, met: scale.council <= SCALE_RATIO, value: scale.council,
        detail: "ratio of the two rows' medians, trialled apart",
      });
    }
  }
  return { ...run, rows, scale, targets };
}

function implsOf(run) {
  const present = new Set(run.rows.flatMap((r) => Object.keys(r.impls)));
  return IMPL_ORDER.filter((k) => present.has(k));
}

const NAMES = { plain: 'plain IDB', council: 'council-idb', dexie: 'Dexie 4' };

/** "524 (452–546)": median and interquartile range of a part's trials. */
function cell(s) {
  if (!s) return '–';
  if (s.error) return 'FAILED';
  return `${fmtMs(s.median)} (${fmtMs(s.q1)}–${fmtMs(s.q3)})${s.p99 ? `, p99 ${fmtMs(s.p99.median)}` : ''}`;
}

/** "1.11× (1.05–1.18)": median and interquartile range of per-trial ratios. */
function ratioCell(st) {
  if (!st) return '–';
  return `${fmtRatio(st.median)} (${fmtRatio(st.q1).slice(0, -1)}–${fmtRatio(st.q3)})`;
}

const SUPERSCRIPTS = ['¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
/** ¹ for the first row with a note, ² for the second... */
function footnoteMark(run, row) {
  const i = run.rows.filter((r) => r.note).indexOf(row);
  return SUPERSCRIPTS[i] ?? `(${i + 1})`;
}

export function markdownTable(run) {
  const impls = implsOf(run);
  const others = impls.filter((k) => k !== 'plain');
  const both = impls.includes('council') && impls.includes('dexie');
  const head = ['Row', 'trials', ...impls.map((k) => `${NAMES[k]} ms`), ...others.map((k) => `${NAMES[k]} ÷ plain`)];
  if (both) head.push('council ÷ Dexie');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of run.rows) {
    const label = row.note ? `${row.label} ${footnoteMark(run, row)}` : row.label;
    const cells = [label, String(row.trials ?? ''), ...impls.map((k) => cell(row.stat[k])), ...others.map((k) => ratioCell(row.ratioStat[k]))];
    if (both) cells.push(ratioCell(row.vsDexie));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  if (run.scale) {
    const cells = ['Scale: loaded store ÷ empty store (the two rows above, ratio of their medians)', '',
      ...impls.map((k) => fmtRatio(run.scale[k])), ...others.map(() => '')];
    if (both) cells.push('');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function sizeTable(sizes) {
  if (!sizes) return '';
  const lines = ['| Package | raw | gzip |', '|---|---:|---:|'];
  for (const s of sizes.items) lines.push(`| ${s.label} | ${fmtBytes(s.raw)} | ${fmtBytes(s.gzip)} |`);
  if (sizes.ratio != null) lines.push(`| council-idb ÷ Dexie (gzip) | | ${fmtRatio(sizes.ratio)} |`);
  return lines.join('\n');
}

/**
 * "met: getRun, ≤ 1.15× plain — 1.08× (IQR 1.02–1.13; median's 96% interval
 * 1.00–1.16, holds the target: too close to call)".
 */
export function targetList(run) {
  return run.targets.map((t) => {
    const fmt = (x) => (t.unit === 'ms' ? `${fmtMs(x)} ms` : fmtRatio(x));
    let v = '';
    if (t.value != null) {
      v = ` — ${fmt(t.value)}`;
      const { stat } = t;
      if (stat?.n >= 2) {
        // The median's interval only from 3 trials on (with 3, min–max: 75%).
        const ci = stat.n >= 3 ? stat.ci : null;
        const close = ci && t.limit >= ci.lo && t.limit <= ci.hi;
        v += ` (IQR ${fmt(stat.q1)}–${fmt(stat.q3)}, n ${stat.n}`
          + `${ci ? `; median's ${fmtPct(ci.coverage)} interval ${fmt(ci.lo)}–${fmt(ci.hi)}` : ''}`
          + `${close ? ', holds the target: too close to call' : ''})`;
      } else if (stat?.n === 1) {
        v += ' (one trial)';
      } else if (t.detail) v += ` (${t.detail})`;
    } else if (t.detail) v = ` — ${t.detail}`;
    return `- ${t.met ? 'met' : '**MISSED**'}: ${t.row}, ${t.target}${v}`;
  }).join('\n');
}

export function markdown(all) {
  const out = [];
  if (all.host) out.push(`Host: ${all.host}. Generated ${all.generated}.`, '');
  for (const [browser, run] of Object.entries(all.browsers)) {
    out.push(`### ${run.meta?.browser ? `${run.meta.browser}, headless` : browser}`);
    out.push('');
    out.push(`Per row: the median over its trials (interquartile range in brackets), after ${run.meta.warmup} warm-up`
      + ` trial${run.meta.warmup === 1 ? '' : 's'}; a ratio is the median of per-trial ratios (both parts timed in the`
      + ' same trial), its interquartile range in brackets; fresh databases every trial; on-disk profile.'
      + `${run.meta.pkgWasm ? ` council-idb wasm ${run.meta.pkgWasm.split(' ')[0]}${all.commit ? ` (repository at ${all.commit})` : ''}.` : ''}`
      + `${run.meta.pkgChangedDuringRun ? ' **pkg/ was rebuilt during this run.**' : ''}`);
    out.push('');
    out.push(markdownTable(run));
    const notes = run.rows.filter((r) => r.note);
    if (notes.length) out.push('', ...notes.map((r) => `${footnoteMark(run, r)} ${r.note}.`));
    for (const r of run.rows) {
      for (const [impl, s] of Object.entries(r.baselineStat ?? {})) {
        const br = r.baseRatio?.[impl];
        out.push('', `${r.key}, ${NAMES[impl]} baseline (${r.baseline.label}): ${cell(s)} ms`
          + `${br ? `; ${r.key} ÷ baseline ${ratioCell(br)}` : ''}.`);
      }
      if (r.info) out.push('', `${r.key}: ${r.info}.`);
    }
    out.push('', 'Targets (council-idb; each verdict on the median, the spread beside it):', '', targetList(run), '');
  }
  if (all.sizes) out.push('### Size', '', sizeTable(all.sizes), '');
  return out.join('\n');
}

// ---------------------------------------------------------------- chart ----

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal grouped bars, one group per row, one bar per implementation and
 * browser, drawn from the plain line (1×) on a log2 axis: left is faster than
 * hand-written IndexedDB, right is slower. Values beyond the axis are capped
 * and marked with an arrow.
 */
export function chartSvg(all) {
  const series = [];
  const colors = { council: ['#1f6feb', '#79b8ff'], dexie: ['#d9480f', '#ffa94d'] };
  const browsers = Object.keys(all.browsers);
  for (const impl of ['council', 'dexie']) {
    browsers.forEach((b, bi) => {
      if (all.browsers[b].rows.some((r) => r.impls[impl])) {
        series.push({ impl, browser: b, color: colors[impl][bi % 2], name: `${NAMES[impl]}${browsers.length > 1 ? ` (${b})` : ''}` });
      }
    });
  }
  const first = all.browsers[browsers[0]];
  // Rows with no ratio to plain (council-only rows, latencies) are left out.
  const rowDefs = first.rows.filter((r) => Object.entries(r.ratio).some(([key, v]) => key !== 'plain' && v != null))
    .map((r) => ({ key: r.key, label: r.label }));
  if (first.scale) rowDefs.push({ key: 'scale', label: 'Scale: loaded ÷ empty store, each impl vs itself' });

  const value = (b, impl, key) => {
    const run = all.browsers[b];
    if (key === 'scale') return run.scale?.[impl] ?? null;
    const row = run.rows.find((r) => r.key === key);
    return row?.ratio?.[impl] ?? null;
  };
  // The interquartile range of the per-trial ratios, drawn as a whisker.
  const spread = (b, impl, key) => {
    if (key === 'scale') return null;
    const st = all.browsers[b].rows.find((r) => r.key === key)?.ratioStat?.[impl];
    return st && st.q1 > 0 ? st : null;
  };

  // log2 axis wide enough for every value (capped at 1/32 … 32).
  const all2 = [];
  for (const rd of rowDefs) for (const s of series) {
    const v = value(s.browser, s.impl, rd.key);
    if (v > 0) all2.push(Math.log2(v));
  }
  const lo = Math.max(-5, Math.min(-1, Math.floor(Math.min(...all2, Math.log2(GROUP_COMMIT_RATIO)))));
  const hi = Math.min(5, Math.max(1, Math.ceil(Math.max(...all2, Math.log2(SCALE_RATIO)))));
  // Room for the longest row label (about 6.8 px a character at 12 px).
  const left = Math.max(220, Math.ceil(Math.max(...rowDefs.map((r) => r.label.length)) * 6.8) + 24);
  const plotW = 560; const right = 60;
  const barH = 13; const gap = 3; const groupPad = 14;
  const top = 70;
  const groupH = series.length * (barH + gap) + groupPad;
  const legendRows = Math.ceil(series.length / 2);
  const height = top + rowDefs.length * groupH + 55 + legendRows * 18;
  const width = left + plotW + right;
  const x = (ratio) => {
    const l = Math.min(hi, Math.max(lo, Math.log2(ratio)));
    return left + ((l - lo) / (hi - lo)) * plotW;
  };
  const counts = first.rows.map((r) => r.trials).filter((n) => n > 0);
  const trialSpan = Math.min(...counts) === Math.max(...counts) ? `${counts[0]}` : `${Math.min(...counts)}–${Math.max(...counts)}`;
  const parts = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="600">Time relative to hand-written IndexedDB (log scale; left = faster)</text>`);
  parts.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">median of per-trial ratios (${trialSpan} trials a row, see results.md), whiskers: interquartile range${all.smoke ? ' — SMOKE RUN, tiny N, numbers meaningless' : ''}</text>`);
  // Grid.
  for (let l = lo; l <= hi; l++) {
    const gx = x(2 ** l);
    parts.push(`<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${top + rowDefs.length * groupH - groupPad + 6}" stroke="${l === 0 ? '#222' : '#e3e3e3'}" stroke-width="${l === 0 ? 1.5 : 1}"/>`);
    const lab = l >= 0 ? `${2 ** l}×` : `1/${2 ** -l}×`;
    parts.push(`<text x="${gx}" y="${top + rowDefs.length * groupH + 8}" text-anchor="middle" fill="#444">${lab}</text>`);
  }
  parts.push(`<text x="${x(1) - 4}" y="${top - 12}" text-anchor="end" font-size="11">plain = 1×</text>`);
  parts.push(`<text x="${x(TARGET_RATIO) + 4}" y="${top - 12}" fill="#2b8a3e" font-size="11">┆ council-idb's target</text>`);
  rowDefs.forEach((rd, gi) => {
    const gy = top + gi * groupH;
    if (gi % 2 === 1) parts.push(`<rect x="0" y="${gy - 4}" width="${width}" height="${groupH - groupPad + 8}" fill="#000" fill-opacity="0.035"/>`);
    const target = rd.key === 'scale' ? SCALE_RATIO : rd.key === 'appendEventConcurrent' ? GROUP_COMMIT_RATIO : TARGET_RATIO;
    const tx = x(target);
    parts.push(`<line x1="${tx}" y1="${gy - 4}" x2="${tx}" y2="${gy + groupH - groupPad + 4}" stroke="#2b8a3e" stroke-width="1.5" stroke-dasharray="3 2"><title>target ${fmtRatio(target)}</title></line>`);
    const midY = gy + (series.length * (barH + gap)) / 2;
    parts.push(`<text x="${left - 10}" y="${midY + 4}" text-anchor="end" font-weight="500">${esc(rd.label)}</text>`);
    series.forEach((s, si) => {
      const v = value(s.browser, s.impl, rd.key);
      const by = gy + si * (barH + gap);
      if (v == null) {
        parts.push(`<text x="${x(1) + 4}" y="${by + barH - 2}" fill="#999" font-size="11">n/a</text>`);
        return;
      }
      const x0 = x(1); const x1 = x(v);
      const capped = Math.log2(v) > hi || Math.log2(v) < lo;
      parts.push(`<rect x="${Math.min(x0, x1)}" y="${by}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${barH}" fill="${s.color}"><title>${esc(s.name)}: ${fmtRatio(v)}</title></rect>`);
      const sp = spread(s.browser, s.impl, rd.key);
      let lx = v >= 1 ? x1 + 4 : x1 - 4;
      if (sp) {
        const wy = by + barH / 2;
        const a = x(sp.q1); const z = x(sp.q3);
        parts.push(`<path d="M${a} ${wy}H${z}M${a} ${wy - 3}V${wy + 3}M${z} ${wy - 3}V${wy + 3}" stroke="#222" stroke-width="1" fill="none"><title>${esc(s.name)}: interquartile range ${fmtRatio(sp.q1)}–${fmtRatio(sp.q3)}</title></path>`);
        lx = v >= 1 ? Math.max(x1, z) + 4 : Math.min(x1, a) - 4;
      }
      parts.push(`<text x="${lx}" y="${by + barH - 2}" text-anchor="${v >= 1 ? 'start' : 'end'}" font-size="11">${capped ? (v > 1 ? '▶ ' : '◀ ') : ''}${fmtRatio(v)}</text>`);
    });
  });
  // Legend.
  series.forEach((s, i) => {
    const lx = left + (i % 2) * 250;
    const ly = top + rowDefs.length * groupH + 38 + Math.floor(i / 2) * 18;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
