// A minimal app as a Vite user writes it: the package by name, bundled.
import init, { CouncilStore } from "council-idb/web";

const out = document.getElementById("out");
try {
  await init();
  const store = await CouncilStore.open(`vite-smoke-${crypto.randomUUID()}`);
  const run = await store.createRun({ goal: "bundled" });
  await store.appendEvent({ runId: run.id, seq: 0, waveIndex: 0, eventJson: '{"type":"plan_proposed"}' });
  const events = await store.listEvents(run.id);
  window.result = { ok: true, goal: (await store.getRun(run.id)).goal, events: events.length };
} catch (e) {
  window.result = { ok: false, error: `${e.name}: ${e.message}` };
}
out.textContent = JSON.stringify(window.result);
