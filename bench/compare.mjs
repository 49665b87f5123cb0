#!/usr/bin/env node
// node bench/compare.mjs a.json b.json
//
// How two results files (two runs of bench/run.mjs, meant to be of the same
// commit) differ, row by row and browser by browser: each ratio of the
// report (the median of per-trial ratios: council-idb ÷ plain, Dexie ÷ plain,
// council-idb ÷ Dexie, a row ÷ its baseline) in run a, in run b, and b ÷ a
// (the ratio of the ratios: 1.00 = the same); each part's median time b ÷ a;
// the largest move of a ratio in the row; and the target verdicts that
// differ. Prints markdown, for bench/README.md's stability table.

import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { analyse } from './report.mjs';

const NAMES = { plain: 'plain', council: 'council', dexie: 'Dexie' };
const f2 = (x) => (x == null || !Number.isFinite(x) ? '–' : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(0)}%`;

function load(file) {
  const all = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const b of Object.keys(all.browsers ?? {})) all.browsers[b] = analyse(all.browsers[b]);
  return all;
}

/** The ratios a row reports: [name, median per-trial ratio]. */
function ratiosOf(row) {
  const out = [];
  for (const key of ['council', 'dexie']) {
    if (row.ratioStat?.[key]) out.push([`${NAMES[key]} ÷ plain`, row.ratioStat[key].median]);
  }
  if (row.vsDexie) out.push(['council ÷ Dexie', row.vsDexie.median]);
  for (const [key, st] of Object.entries(row.baseRatio ?? {})) {
    if (st) out.push([`${NAMES[key]} ÷ its baseline`, st.median]);
  }
  return out;
}

/** [part, median ms] of a row's parts (baselines included). */
function timesOf(row) {
  const out = [];
  for (const key of Object.keys(NAMES)) {
    const st = row.stat?.[key];
    if (st?.median != null) out.push([NAMES[key], st.median]);
    const base = row.baselineStat?.[key];
    if (base?.median != null) out.push([`${NAMES[key]} baseline`, base.median]);
  }
  return out;
}

export function compare(a, b) {
  const lines = [];
  const say = (...s) => lines.push(...(s.length ? s : ['']));
  say(`a: ${a.generated} at ${a.commit ?? '?'}${a.smoke ? ' (smoke)' : ''}`);
  say(`b: ${b.generated} at ${b.commit ?? '?'}${b.smoke ? ' (smoke)' : ''}`);
  if (a.commit !== b.commit) say(`**Not the same commit** (${a.commit} vs ${b.commit}): the differences below are not noise alone.`);
  const browsers = Object.keys(a.browsers).filter((x) => b.browsers[x]);
  if (browsers.length === 0) say('No browser in both files.');
  for (const browser of browsers) {
    const ra = a.browsers[browser];
    const rb = b.browsers[browser];
    say('', `### ${ra.meta?.browser ?? browser}`, '');
    const wa = ra.meta?.pkgWasm?.split(' ')[0];
    const wb = rb.meta?.pkgWasm?.split(' ')[0];
    if (wa !== wb) say(`**Different council-idb wasm** (${wa} vs ${wb}).`, '');
    say('Each ratio: run a → run b (b ÷ a). Times: median of b ÷ median of a. Largest move: the ratio that moved most, up or down.', '');
    say('| Row | trials a / b | ratios | times b ÷ a | largest move |');
    say('|---|---:|---|---|---:|');
    for (const rowA of ra.rows) {
      const rowB = rb.rows.find((r) => r.key === rowA.key);
      if (!rowB) {
        say(`| ${rowA.key} | ${rowA.trials} / – | not in b | | |`);
        continue;
      }
      const rb2 = new Map(ratiosOf(rowB));
      let worst = null;
      const ratios = ratiosOf(rowA).map(([name, x]) => {
        const y = rb2.get(name);
        const rr = x > 0 && y > 0 ? y / x : null;
        if (rr != null && (worst == null || Math.abs(Math.log(rr)) > Math.abs(Math.log(worst)))) worst = rr;
        return `${name} ${f2(x)} → ${f2(y)} (${f2(rr)})`;
      });
      const tb = new Map(timesOf(rowB));
      const times = timesOf(rowA).map(([name, x]) => `${name} ${f2(tb.has(name) && x > 0 ? tb.get(name) / x : null)}`);
      say(`| ${rowA.key} | ${rowA.trials} / ${rowB.trials} | ${ratios.join('; ') || '–'} | ${times.join(', ')} | ${worst == null ? '–' : pct(worst - 1)} |`);
    }
    for (const rowB of rb.rows) {
      if (!ra.rows.some((r) => r.key === rowB.key)) say(`| ${rowB.key} | – / ${rowB.trials} | not in a | | |`);
    }
    const verdicts = (run) => new Map(run.targets.map((t) => [`${t.row}, ${t.target}`, t.met]));
    const va = verdicts(ra);
    const vb = verdicts(rb);
    const changed = [...va].filter(([k, met]) => vb.has(k) && vb.get(k) !== met);
    say('', changed.length
      ? `Targets judged differently: ${changed.map(([k, met]) => `${k} (a: ${met ? 'met' : 'missed'}, b: ${vb.get(k) ? 'met' : 'missed'})`).join('; ')}.`
      : 'Every target present in both runs is judged the same.');
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  const files = process.argv.slice(2);
  if (files.length !== 2 || files.some((f) => f.startsWith('-'))) {
    console.error('usage: node bench/compare.mjs a.json b.json');
    process.exit(2);
  }
  console.log(compare(load(files[0]), load(files[1])));
}
