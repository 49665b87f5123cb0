// The writer of the liveLatency row: another agent of the origin (a second
// tab, opened by run.mjs with bench/writer.html, or else a dedicated worker)
// that appends a run's events one at a time while the bench page follows the
// run. Commands and replies go over the BroadcastChannel CHANNEL:
//   { type: 'ping' }                              → { type: 'ready', writer, agent, visibility, now }
//   { type: 'prepare', writer, id, impl, dbName, runId } → { type: 'prepared', id }
//   { type: 'write', writer, id, n, gapMs }       → { type: 'written', id, commits }
//   { type: 'close', writer, id }                 → { type: 'closed', id }
// and { type: 'error', id, error } when a command fails. `commits[i]` is
// performance.timeOrigin + performance.now() when the append of seq i had
// resolved (its transaction committed), as this agent saw it.

import { eventJson, WRITER_CHANNEL as CHANNEL } from './workloads.js';

const writer = Math.random().toString(36).slice(2, 10);
const agent = typeof document === 'undefined' ? 'worker' : 'tab';
const channel = new BroadcastChannel(CHANNEL);
const clock = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let current = null; // { store, runId }

async function closeCurrent() {
  if (!current) return;
  const { store } = current;
  current = null;
  store.close();
  store.free?.();
}

const commands = {
  async prepare({ impl, dbName, runId }) {
    await closeCurrent();
    const mod = await import(`./impl/${impl}.js`);
    const store = await mod.open(dbName);
    current = { store, runId };
    // The writer creates the run, as an executor would: with council-idb it
    // then owns it, and the page that follows it only reads.
    await store.createRun({ id: runId, goal: 'live latency', createdAt: new Date().toISOString() });
    return {};
  },
  async write({ n, gapMs }) {
    const { store, runId } = current;
    const commits = new Array(n);
    for (let seq = 0; seq < n; seq++) {
      const sentAt = clock();
      const json = eventJson(runId, seq, 0);
      await store.appendEvent({
        runId, seq, waveIndex: 0, createdAt: new Date().toISOString(),
        // The call time travels in the event; the commit time comes back in `commits`.
        eventJson: `{"sentAt":${sentAt},${json.slice(1)}`,
      });
      commits[seq] = clock();
      if (gapMs > 0) await sleep(gapMs);
    }
    return { commits };
  },
  async close() {
    await closeCurrent();
    return {};
  },
};

const REPLY = { prepare: 'prepared', write: 'written', close: 'closed' };

channel.onmessage = async ({ data }) => {
  if (data.type === 'ping') {
    channel.postMessage({
      type: 'ready', writer, agent, now: clock(),
      visibility: typeof document === 'undefined' ? null : document.visibilityState,
    });
    return;
  }
  if (data.writer !== writer || !commands[data.type]) return;
  try {
    const out = await commands[data.type](data);
    channel.postMessage({ type: REPLY[data.type], id: data.id, ...out });
  } catch (e) {
    channel.postMessage({ type: 'error', id: data.id, error: `${e?.name ?? 'Error'}: ${e?.message ?? e}` });
  }
};

// Announce ourselves to a page already waiting.
channel.postMessage({ type: 'ready', writer, agent, now: clock(), visibility: typeof document === 'undefined' ? null : document.visibilityState });
if (agent === 'tab') window.writerReady = true;
