// Turns the page's results into the published forms: targets, a markdown
// table and an SVG chart of ratios to the hand-written version.

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

/** Adds ratios, the derived scale row and the target verdicts to one browser's result. */
export function analyse(run) {
  const rows = [];
  for (const row of run.rows) {
    const plain = row.impls.plain;
    const ratio = {};
    for (const [key, s] of Object.entries(row.impls)) {
      ratio[key] = s.median != null && plain?.median ? s.median / plain.median : null;
    }
    rows.push({ ...row, ratio });
  }
  const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
  const targets = [];
  for (const row of rows) {
    const c = row.impls.council;
    const d = row.impls.dexie;
    if (!c) continue;
    if (c.error) {
      targets.push({ row: row.key, target: 'runs without error', met: false, detail: c.error });
      continue;
    }
    if (row.key === 'liveLatency') {
      targets.push({ row: row.key, target: `median ≤ ${LIVE_MEDIAN_MS} ms`, met: c.median <= LIVE_MEDIAN_MS, value: c.median, unit: 'ms' });
      if (d && d.median != null) {
        targets.push({ row: row.key, target: `≥${LIVE_VS_DEXIE}× lower than Dexie (ratio ≤ ${fmtRatio(1 / LIVE_VS_DEXIE)})`, met: c.median * LIVE_VS_DEXIE <= d.median, value: c.median / d.median });
      }
      continue;
    }
    const base = row.baseline?.impls?.council;
    if (base) {
      targets.push(base.median != null
        ? { row: row.key, target: `≤ ${TARGET_RATIO}× council-idb's ${row.baseline.label}`, met: c.median <= TARGET_RATIO * base.median, value: c.median / base.median }
        : { row: row.key, target: `≤ ${TARGET_RATIO}× council-idb's ${row.baseline.label}`, met: false, detail: `the baseline failed: ${base.error}` });
    }
    if (row.key === 'appendEventConcurrent') {
      const r = row.ratio.council;
      targets.push({ row: row.key, target: `≥5× faster than plain's one transaction per event (ratio ≤ ${GROUP_COMMIT_RATIO})`, met: r != null && r <= GROUP_COMMIT_RATIO, value: r });
    } else if (row.ratio.council != null) {
      const r = row.ratio.council;
      targets.push({ row: row.key, target: `≤ ${TARGET_RATIO}× plain`, met: r <= TARGET_RATIO, value: r });
    }
    if (d && d.median != null) {
      targets.push({ row: row.key, target: 'faster than Dexie', met: c.median < d.median, value: c.median / d.median });
    }
  }
  let scale = null;
  if (byKey.scaleLoaded && byKey.scaleEmpty) {
    scale = {};
    for (const key of Object.keys(byKey.scaleLoaded.impls)) {
      const a = byKey.scaleLoaded.impls[key]?.median;
      const b = byKey.scaleEmpty.impls[key]?.median;
      scale[key] = a != null && b ? a / b : null;
    }
    if (scale.council != null) {
      targets.push({ row: 'scale', target: `loaded ÷ empty ≤ ${SCALE_RATIO}×`, met: scale.council <= SCALE_RATIO, value: scale.council });
    }
  }
  return { ...run, rows, scale, targets };
}

function implsOf(run) {
  const present = new Set(run.rows.flatMap((r) => Object.keys(r.impls)));
  return IMPL_ORDER.filter((k) => present.has(k));
}

const NAMES = { plain: 'plain IDB', council: 'council-idb', dexie: 'Dexie 4' };

function cell(s) {
  if (!s) return '–';
  if (s.error) return 'FAILED';
  return `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})${s.p99 ? `, p99 ${fmtMs(s.p99.median)}` : ''}`;
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
  const head = ['Row', ...impls.map((k) => `${NAMES[k]} ms`), ...others.map((k) => `${NAMES[k]} ÷ plain`)];
  if (impls.includes('council') && impls.includes('dexie')) head.push('council ÷ Dexie');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of run.rows) {
    const label = row.note ? `${row.label} ${footnoteMark(run, row)}` : row.label;
    const cells = [label, ...impls.map((k) => cell(row.impls[k])), ...others.map((k) => fmtRatio(row.ratio[k]))];
    if (impls.includes('council') && impls.includes('dexie')) {
      const c = row.impls.council?.median;
      const d = row.impls.dexie?.median;
      cells.push(c != null && d ? fmtRatio(c / d) : '–');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  if (run.scale) {
    const cells = ['Scale: loaded store ÷ empty store (the two rows above)', ...impls.map((k) => fmtRatio(run.scale[k])), ...others.map(() => '')];
    if (impls.includes('council') && impls.includes('dexie')) cells.push('');
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

export function targetList(run) {
  return run.targets.map((t) => {
    const v = t.value != null ? ` — ${t.unit === 'ms' ? `${fmtMs(t.value)} ms` : fmtRatio(t.value)}` : t.detail ? ` — ${t.detail}` : '';
    return `- ${t.met ? 'met' : '**MISSED**'}: ${t.row}, ${t.target}${v}`;
  }).join('\n');
}

export function markdown(all) {
  const out = [];
  if (all.host) out.push(`Host: ${all.host}. Generated ${all.generated}.`, '');
  for (const [browser, run] of Object.entries(all.browsers)) {
    out.push(`### ${run.meta?.browser ? `${run.meta.browser}, headless` : browser}`);
    out.push('');
    out.push(`Median of ${run.meta.trials} trials after ${run.meta.warmup} warm-up, min–max in brackets; fresh database per trial; on-disk profile.`
      + `${run.meta.pkgWasm ? ` council-idb wasm ${run.meta.pkgWasm.split(' ')[0]}${all.commit ? ` (repository at ${all.commit})` : ''}.` : ''}`
      + `${run.meta.pkgChangedDuringRun ? ' **pkg/ was rebuilt during this run.**' : ''}`);
    out.push('');
    out.push(markdownTable(run));
    const notes = run.rows.filter((r) => r.note);
    if (notes.length) out.push('', ...notes.map((r) => `${footnoteMark(run, r)} ${r.note}.`));
    for (const r of run.rows) {
      for (const [impl, s] of Object.entries(r.baseline?.impls ?? {})) {
        const main = r.impls[impl];
        out.push('', `${r.key}, ${NAMES[impl]} baseline (${r.baseline.label}): ${cell(s)} ms`
          + `${main?.median != null && s.median ? `; ${r.key} ÷ baseline ${fmtRatio(main.median / s.median)}` : ''}.`);
      }
      if (r.info) out.push('', `${r.key}: ${r.info}.`);
    }
    out.push('', 'Targets (council-idb):', '', targetList(run), '');
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
  const parts = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="600">Time relative to hand-written IndexedDB (log scale; left = faster)</text>`);
  parts.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">median of ${first.meta.trials} trials each, same page run${all.smoke ? ' — SMOKE RUN, tiny N, numbers meaningless' : ''}</text>`);
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
      const lx = v >= 1 ? x1 + 4 : x1 - 4;
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
