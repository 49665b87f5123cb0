// council-idb through its published JavaScript API (web build). The store is
// handed to the workloads as is: no wrapper between them and the wasm glue.

import init, { CouncilStore } from '/pkg/web/council_idb.js';

let ready;

export async function open(name) {
  ready ??= init();
  await ready;
  return CouncilStore.open(name);
}

export async function deleteDb(name) {
  ready ??= init();
  await ready;
  if (typeof CouncilStore.deleteDatabase === 'function') return CouncilStore.deleteDatabase(name);
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}

export const label = 'council-idb';

/**
 * Follows a run for the liveLatency row: `onEvents(events)` gets each batch
 * watchEvents delivers (stored events first, then every commit of any tab or
 * worker). Returns the function that stops it.
 */
export function follow(store, runId, onEvents, onError) {
  return store.watchEvents(runId, { fromSeq: 0 }, (batch) => {
    if (Array.isArray(batch)) onEvents(batch);
    else onError(new Error(`watchEvents delivered ${JSON.stringify(batch)}`));
  });
}
