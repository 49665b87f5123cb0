#!/usr/bin/env node
// node bench/run.mjs [--smoke] [--browser chromium|firefox|all (default: all
//   that are installed: Firefox needs firefox-esr and geckodriver)]
//   [--rows k1,k2] [--impls plain,council,dexie] [--trials N (every row;
//   default: each row's own, 5 to 15)] [--warmup N] [--profile] [--no-write]
//   [--pkg-web DIR] [--report-only]
//
// Serves the repository (bench/, pkg/, node_modules/dexie) on 127.0.0.1 with a
// dependency-free static server, runs bench/index.html in headless Chromium
// (playwright-core, persistent on-disk profile in a fresh directory) and, when
// asked, in Firefox ESR over WebDriver (geckodriver). A complete run writes
// bench/results.json, bench/results.md, bench/chart.svg and the table in
// bench/README.md; --smoke writes bench/results-smoke.json, and a run of some
// rows, implementations or trial counts only bench/results-partial.json.
// --report-only redraws results.md, chart.svg and the README table from
// results.json.
// --profile records a CPU profile (Chrome DevTools Protocol) of every timed
// part and prints where council-idb's time goes; the profiles land in
// bench/profile-cpu/. Two results files of one commit are compared with
// node bench/compare.mjs a.json b.json.

import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { analyse, markdown, chartSvg } from './report.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
let PKG_WEB = path.join(ROOT, 'pkg', 'web');
const DEXIE = path.join(ROOT, 'node_modules', 'dexie');

// ------------------------------------------------------------- options ----

function parseArgs(argv) {
  const o = { smoke: false, browser: undefined, profile: false, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--smoke') o.smoke = true;
    else if (a === '--profile') o.profile = true;
    else if (a === '--no-write') o.write = false;
    else if (a === '--report-only') o.reportOnly = true;
    else if (a.startsWith('--browser')) o.browser = val();
    else if (a.startsWith('--rows')) o.rows = val().split(',');
    else if (a.startsWith('--impls')) o.impls = val().split(',');
    else if (a.startsWith('--trials')) o.trials = Number(val());
    else if (a.startsWith('--warmup')) o.warmup = Number(val());
    else if (a.startsWith('--pkg-web')) o.pkgWeb = path.resolve(val());
    else if (a === '-h' || a === '--help') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 20).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  // Default: every browser this machine can drive.
  o.browser ??= findGeckodriver() && fs.existsSync(FIREFOX) ? 'all' : 'chromium';
  if (!['chromium', 'firefox', 'all'].includes(o.browser)) throw new Error(`--browser must be chromium, firefox or all`);
  if (o.trials !== undefined && !(o.trials >= 1)) throw new Error('--trials must be ≥ 1');
  return o;
}

// -------------------------------------------------------- static server ----

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml', '.css': 'text/css',
  '.map': 'application/json', '.ts': 'text/plain; charset=utf-8', '.md': 'text/plain; charset=utf-8',
};

// URL prefix → directory. Nothing else of the repository is served.
// --pkg-web serves another web build (say, one with a name section for
// profiling) as /pkg/web/.
let MOUNTS = [['/bench/', BENCH], ['/pkg/', path.join(ROOT, 'pkg')], ['/node_modules/dexie/', DEXIE]];

function startServer() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let pathname;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (pathname === '/' || pathname === '/bench') {
      res.writeHead(302, { location: '/bench/index.html' }).end();
      return;
    }
    const mount = MOUNTS.find(([prefix]) => pathname.startsWith(prefix));
    if (!mount) {
      res.writeHead(404).end('not found');
      return;
    }
    const file = path.resolve(mount[1], `.${pathname.slice(mount[0].length - 1)}`);
    if (file !== mount[1] && !file.startsWith(mount[1] + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname}`);
        return;
      }
      res.writeHead(200, {
        'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        // Cross-origin isolation gives performance.now() its fine resolution
        // (Firefox clamps it to 1 ms otherwise).
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(data);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// ---------------------------------------------------------------- sizes ----

/** Every .js file under `dir`, sorted; none when it does not exist. */
function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f) => path.join(dir, f));
}

function sizes() {
  const gz = (file) => {
    const data = fs.readFileSync(file);
    return { raw: data.length, gzip: zlib.gzipSync(data, { level: 9 }).length };
  };
  const items = [];
  const wasm = path.join(PKG_WEB, 'council_idb_bg.wasm');
  const glue = path.join(PKG_WEB, 'council_idb.js');
  let council = null;
  if (fs.existsSync(wasm) && fs.existsSync(glue)) {
    const w = gz(wasm);
    const g = gz(glue);
    items.push({ label: 'council-idb wasm (council_idb_bg.wasm)', ...w });
    items.push({ label: 'council-idb glue (council_idb.js)', ...g });
    council = { raw: w.raw + g.raw, gzip: w.gzip + g.gzip };
    // The package's own JavaScript (src/glue.js), which wasm-bindgen copies
    // under snippets/ and the glue imports: part of every download.
    for (const file of filesUnder(path.join(PKG_WEB, 'snippets'))) {
      const s = gz(file);
      items.push({ label: `council-idb ${path.relative(PKG_WEB, file).replace(/^snippets\/[^/]+\//, 'snippets/…/')}`, ...s });
      council.raw += s.raw;
      council.gzip += s.gzip;
    }
    items.push({ label: '**council-idb total (wasm + glue + snippets)**', ...council });
  }
  const dexie = gz(path.join(DEXIE, 'dist', 'dexie.min.js'));
  const dexieVersion = JSON.parse(fs.readFileSync(path.join(DEXIE, 'package.json'), 'utf8')).version;
  items.push({ label: `**Dexie ${dexieVersion} (dexie.min.js)**`, ...dexie });
  return { items, council, dexie, ratio: council ? council.gzip / dexie.gzip : null };
}

// ------------------------------------------------------------ chromium ----

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
  // Lets the harness collect garbage between setup and the timed part.
  '--js-flags=--expose-gc',
];

const IDB_API = new Set(['transaction', 'objectStore', 'index', 'get', 'getAll', 'getAllKeys', 'getKey', 'add', 'put',
  'count', 'delete', 'commit', 'abort', 'bound', 'only', 'lowerBound', 'upperBound', 'openCursor', 'openKeyCursor']);

/** Self time per function and per category from a V8 CPU profile. */
function summariseProfile(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
  }
  const fns = new Map();
  const cats = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const url = cf.url ?? '';
    const file = url.split('/').pop();
    const name = `${cf.functionName || '(anonymous)'} ${file ? `${file}:${cf.lineNumber + 1}` : ''}`.trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
    let cat;
    if (url.startsWith('wasm://') || url.endsWith('.wasm')) cat = 'council wasm';
    else if (url.includes('/pkg/')) cat = 'council glue JS';
    else if (url.includes('dexie')) cat = 'Dexie JS';
    else if (url.includes('/bench/impl/')) cat = 'plain JS (impl/shared)';
    else if (url.includes('/bench/')) cat = 'harness/workload JS';
    else if (['(idle)', '(program)', '(garbage collector)'].includes(cf.functionName)) cat = cf.functionName;
    else if (IDB_API.has(cf.functionName)) cat = 'IndexedDB API calls (native)';
    else if (cf.functionName === 'wasm-to-js' || cf.functionName === 'js-to-wasm') cat = 'wasm<->JS transitions';
    else cat = `other native (${cf.functionName})`;
    cats.set(cat, (cats.get(cat) ?? 0) + us);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const top = [...fns].sort((a, b) => b[1] - a[1]).slice(0, 20);
  return { totalMs: total / 1000, categories: [...cats].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / 1000]), top: top.map(([k, v]) => [k, v / 1000]) };
}

/** The liveLatency row's writer runs in a second tab, bench/writer.html (see bench/writer.js). */
const wantsWriterTab = (opts) => !opts.rows || opts.rows.includes('liveLatency');
const writerUrl = (url) => url.replace(/index\.html$/, 'writer.html');

async function runChromium(url, opts) {
  const { chromium } = await import('playwright-core');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'council-bench-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
  });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    page.on('console', (m) => {
      const t = m.text();
      if (t.startsWith('[bench] ')) console.log(`  chromium: ${t.slice(8)}`);
      else if (m.type() === 'error') console.log(`  chromium console error: ${t}`);
    });
    page.on('pageerror', (e) => console.log(`  chromium page error: ${e.message}`));
    if (wantsWriterTab(opts)) {
      // A second page of the same context: another tab of the same profile.
      const writer = await context.newPage();
      writer.on('console', (m) => {
        if (m.type() === 'error') console.log(`  chromium writer tab console error: ${m.text()}`);
      });
      writer.on('pageerror', (e) => console.log(`  chromium writer tab page error: ${e.message}`));
      await writer.goto(writerUrl(url));
      await writer.waitForFunction(() => window.writerReady === true);
      await page.bringToFront();
    }
    const profiles = [];
    if (opts.profile) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
      await page.exposeFunction('__benchHook', async (phase, info) => {
        if (phase === 'before') await cdp.send('Profiler.start');
        else {
          const { profile } = await cdp.send('Profiler.stop');
          profiles.push({ ...info, profile });
        }
      });
    }
    await page.goto(url);
    await page.waitForFunction(() => window.benchReady === true);
    const pageOpts = { smoke: opts.smoke, rows: opts.rows, impls: opts.impls, trials: opts.trials, warmup: opts.warmup, profile: opts.profile };
    const result = await page.evaluate((o) => {
      const clean = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
      if (clean.profile) {
        clean.hooks = {
          before: (info) => window.__benchHook('before', info),
          after: (info) => window.__benchHook('after', info),
        };
      }
      delete clean.profile;
      return window.runBench(clean);
    }, pageOpts);
    result.meta.browser = `Chromium ${context.browser()?.version() ?? ''}`.trim();
    if (opts.profile) reportProfiles(profiles);
    return result;
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function reportProfiles(profiles) {
  const outDir = path.join(BENCH, 'profile-cpu');
  fs.mkdirSync(outDir, { recursive: true });
  const groups = new Map();
  for (const p of profiles) {
    const key = `${p.row} ${p.impl}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(p);
    // p.impl is "council" or "council/baseline"; p.tag names the trial and round.
    fs.writeFileSync(path.join(outDir, `${p.row}-${p.impl.replace('/', '-')}-${p.tag}.cpuprofile`), JSON.stringify(p.profile));
  }
  const summary = {};
  for (const [key, list] of groups) {
    // Summarise the median trial by wall time.
    const sorted = [...list].sort((a, b) => a.ms - b.ms);
    const mid = sorted[sorted.length >> 1];
    const s = summariseProfile(mid.profile);
    summary[key] = { wallMs: mid.ms, ...s };
    console.log(`\nprofile ${key} (trial ${mid.tag}, ${mid.ms.toFixed(1)} ms wall, ${s.totalMs.toFixed(1)} ms sampled)`);
    for (const [cat, ms] of s.categories.slice(0, 12)) console.log(`  ${cat.padEnd(26)} ${ms.toFixed(2).padStart(9)} ms`);
    console.log('  top self time:');
    for (const [fn, ms] of s.top.slice(0, 12)) console.log(`    ${ms.toFixed(2).padStart(9)} ms  ${fn}`);
  }
  fs.writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2));
  console.log(`\nCPU profiles and summary.json written to ${path.relative(ROOT, outDir)}/ (open .cpuprofile in Chrome DevTools)`);
}

// ------------------------------------------------------------- firefox ----

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A minimal W3C WebDriver client over fetch. */
async function webdriver(base, method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method, headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok || json.value?.error) throw new Error(`WebDriver ${method} ${route}: ${json.value?.error} ${json.value?.message ?? ''}`);
  return json.value;
}

const FIREFOX = '/usr/bin/firefox-esr';

function findGeckodriver() {
  return [path.join(os.homedir(), '.cargo', 'bin', 'geckodriver'), '/usr/bin/geckodriver', '/usr/local/bin/geckodriver']
    .find((p) => fs.existsSync(p));
}

async function runFirefox(url, opts) {
  const geckodriver = findGeckodriver();
  if (!geckodriver) throw new Error('geckodriver not found (cargo install geckodriver)');
  const port = await freePort();
  // Fresh on-disk profile directories go here.
  const profileRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'council-bench-firefox-'));
  const driver = spawn(geckodriver, ['--port', String(port), '--profile-root', profileRoot], { stdio: ['ignore', 'pipe', 'pipe'] });
  let driverLog = '';
  driver.stdout.on('data', (d) => { driverLog += d; });
  driver.stderr.on('data', (d) => { driverLog += d; });
  const base = `http://127.0.0.1:${port}`;
  let session;
  try {
    for (let i = 0; ; i++) {
      try {
        await webdriver(base, 'GET', '/status');
        break;
      } catch (e) {
        if (i > 100) throw new Error(`geckodriver did not start: ${driverLog}`);
        await sleep(100);
      }
    }
    const created = await webdriver(base, 'POST', '/session', {
      capabilities: {
        alwaysMatch: {
          browserName: 'firefox',
          'moz:firefoxOptions': { binary: FIREFOX, args: ['-headless'] },
        },
      },
    });
    session = created.sessionId;
    const s = `/session/${session}`;
    const version = created.capabilities?.browserVersion ?? '';
    if (wantsWriterTab(opts)) {
      // A second top-level browsing context of the session: another tab
      // (a separate window, so that it is not a throttled background tab).
      const main = await webdriver(base, 'GET', `${s}/window`);
      const { handle } = await webdriver(base, 'POST', `${s}/window/new`, { type: 'window' });
      await webdriver(base, 'POST', `${s}/window`, { handle });
      await webdriver(base, 'POST', `${s}/url`, { url: writerUrl(url) });
      for (let i = 0; ; i++) {
        const ok = await webdriver(base, 'POST', `${s}/execute/sync`, { script: 'return window.writerReady === true;', args: [] });
        if (ok) break;
        if (i > 200) throw new Error('writer page did not load in Firefox');
        await sleep(100);
      }
      await webdriver(base, 'POST', `${s}/window`, { handle: main });
    }
    await webdriver(base, 'POST', `${s}/url`, { url });
    for (let i = 0; ; i++) {
      const ok = await webdriver(base, 'POST', `${s}/execute/sync`, { script: 'return window.benchReady === true;', args: [] });
      if (ok) break;
      if (i > 200) throw new Error('bench page did not load in Firefox');
      await sleep(100);
    }
    const pageOpts = Object.fromEntries(Object.entries({
      smoke: opts.smoke, rows: opts.rows, impls: opts.impls, trials: opts.trials, warmup: opts.warmup,
    }).filter(([, v]) => v !== undefined));
    await webdriver(base, 'POST', `${s}/execute/sync`, { script: 'window.startBench(arguments[0]); return true;', args: [pageOpts] });
    for (;;) {
      await sleep(opts.smoke ? 200 : 1000);
      const st = await webdriver(base, 'POST', `${s}/execute/sync`, {
        script: 'return { log: window.__benchLog.splice(0), done: window.__benchResult };', args: [],
      });
      for (const line of st.log) console.log(`  firefox: ${line}`);
      if (st.done) {
        if (!st.done.ok) throw new Error(`bench page failed in Firefox: ${st.done.error}`);
        st.done.result.meta.browser = `Firefox ${version}`;
        return st.done.result;
      }
    }
  } finally {
    if (session) await webdriver(base, 'DELETE', `/session/${session}`).catch(() => {});
    driver.kill();
    await new Promise((r) => (driver.exitCode !== null ? r() : driver.once('exit', r)));
    fs.rmSync(profileRoot, { recursive: true, force: true });
  }
}

/** The repository's HEAD, with "+changes" when the working tree is dirty outside bench/. */
function gitDescribe() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '.', ':!bench'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return null;
  }
}

/** sha256 (first 12 hex) and mtime of the wasm being benchmarked. */
function pkgFingerprint() {
  const wasm = path.join(PKG_WEB, 'council_idb_bg.wasm');
  if (!fs.existsSync(wasm)) return null;
  const hash = createHash('sha256').update(fs.readFileSync(wasm)).digest('hex').slice(0, 12);
  return `${hash} ${fs.statSync(wasm).mtime.toISOString()}`;
}

// ---------------------------------------------------------------- main ----

const README_START = '<!-- results:start -->';
const README_END = '<!-- results:end -->';

/** Rewrites results.md, chart.svg and the README table from results.json. */
function writeReport(all) {
  const md = markdown(all);
  fs.writeFileSync(path.join(BENCH, 'results.md'), `${md}\n`);
  fs.writeFileSync(path.join(BENCH, 'chart.svg'), `${chartSvg(all)}\n`);
  const readme = path.join(BENCH, 'README.md');
  if (fs.existsSync(readme)) {
    const text = fs.readFileSync(readme, 'utf8');
    const a = text.indexOf(README_START);
    const z = text.indexOf(README_END);
    if (a >= 0 && z > a) {
      fs.writeFileSync(readme, `${text.slice(0, a + README_START.length)}\n${md}\n${text.slice(z)}`);
    }
  }
  return md;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.reportOnly) {
    const all = JSON.parse(fs.readFileSync(path.join(BENCH, 'results.json'), 'utf8'));
    for (const b of Object.keys(all.browsers)) all.browsers[b] = analyse(all.browsers[b]);
    console.log(writeReport(all));
    return;
  }
  const started = Date.now();
  if (opts.pkgWeb) {
    PKG_WEB = opts.pkgWeb;
    MOUNTS = [['/pkg/web/', PKG_WEB], ...MOUNTS];
  }
  if (opts.smoke) {
    opts.trials ??= 1;
    opts.warmup ??= 1;
  }
  const wantCouncil = !opts.impls || opts.impls.includes('council');
  if (wantCouncil && !fs.existsSync(path.join(PKG_WEB, 'council_idb.js'))) {
    console.error('pkg/web/council_idb.js is missing: run `make pkg` first (or pass --impls plain,dexie).');
    process.exit(2);
  }
  const server = await startServer();
  const url = `http://127.0.0.1:${server.address().port}/bench/index.html`;
  console.log(`serving ${ROOT} at ${url}`);
  const browsers = opts.browser === 'all' ? ['chromium', 'firefox'] : [opts.browser];
  const all = { generated: new Date().toISOString(), smoke: opts.smoke, commit: gitDescribe(), host: `${os.type()} ${os.release()}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}`, browsers: {}, failures: [] };
  try {
    for (const b of browsers) {
      console.log(`\n${b}:`);
      try {
        const before = pkgFingerprint();
        const raw = b === 'chromium' ? await runChromium(url, opts) : await runFirefox(url, opts);
        raw.meta.pkgWasm = before;
        if (pkgFingerprint() !== before) {
          console.warn(`warning: pkg/web changed while ${b} ran; its council-idb numbers may mix two builds`);
          raw.meta.pkgChangedDuringRun = true;
        }
        all.browsers[b] = analyse(raw);
        for (const e of raw.errors) all.failures.push({ browser: b, ...e });
      } catch (e) {
        console.error(`${b} failed: ${e.stack ?? e}`);
        all.failures.push({ browser: b, phase: 'driver', error: String(e.message ?? e) });
      }
    }
  } finally {
    server.close();
  }
  all.sizes = sizes();
  const md = markdown(all);
  console.log(`\n${md}`);
  const complete = !opts.pkgWeb && !opts.rows && !opts.impls && !opts.smoke && opts.trials === undefined && opts.warmup === undefined && !opts.profile;
  if (opts.write && Object.keys(all.browsers).length) {
    const resultsFile = path.join(BENCH, opts.smoke ? 'results-smoke.json' : complete ? 'results.json' : 'results-partial.json');
    fs.writeFileSync(resultsFile, `${JSON.stringify(all, null, 2)}\n`);
    // Only a complete run (every row and implementation, default trials)
    // replaces the published table, results.md and chart.svg.
    if (complete) writeReport(all);
    console.log(`wrote ${path.relative(ROOT, resultsFile)}${complete ? ', bench/results.md, bench/chart.svg, the table in bench/README.md' : ''}`);
  }
  console.log(`\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (all.failures.length) {
    console.error(`\n${all.failures.length} failure(s):`);
    for (const f of all.failures) console.error(`  ${f.browser} ${f.impl ?? ''} ${f.row ?? ''} ${f.phase}: ${f.error}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e.stack ?? e);
  process.exit(1);
});
