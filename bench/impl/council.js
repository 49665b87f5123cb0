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
