// Hand-written IndexedDB, the fast way: one transaction per operation, every
// read of a transaction issued before any result is looked at, getAll instead
// of cursors, range deletes, explicit commit(), reads answered on the
// request's success. The practical floor the other two are measured against.

import {
  StoreError, notFound, conflict, sameEvent, newRunRecord, checkStatus, eventRecord,
  timestampAfter, seqSpans, planBatch, consecutiveSpans,
} from './shared.js';

const RUNS = 'runs';
const EVENTS = 'events';
const BOTH = [RUNS, EVENTS];

function upgrade(db) {
  const runs = db.createObjectStore(RUNS, { keyPath: 'id' });
  runs.createIndex('by_created', ['createdKey', 'id']);
  runs.createIndex('by_status', ['status', 'createdKey', 'id']);
  const events = db.createObjectStore(EVENTS, { keyPath: ['runId', 'seq'] });
  events.createIndex('by_wave', ['runId', 'waveIndex']);
}

const prefix = (first) => IDBKeyRange.bound([first], [first, []]);

/**
 * Runs `body(tx)` in a transaction and settles with `tx.result` once it
 * commits. `body` may set `tx.failure` and abort; the promise then rejects
 * with that error instead of the browser's AbortError.
 */
function write(db, stores, body) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores, 'readwrite');
    tx.oncomplete = () => resolve(tx.result);
    tx.onabort = () => reject(tx.failure ?? tx.error ?? new StoreError('Storage', 'transaction aborted'));
    body(tx);
  });
}

function fail(tx, error) {
  tx.failure = error;
  tx.abort();
}

class PlainStore {
  constructor(db) {
    this.db = db;
  }

  close() {
    this.db.close();
  }

  createRun(input) {
    let record;
    try {
      record = newRunRecord(input);
    } catch (e) {
      return Promise.reject(e);
    }
    return write(this.db, RUNS, (tx) => {
      const req = tx.objectStore(RUNS).add(record);
      // The failed add aborts the transaction (commit() was called, so it
      // must not be cancelled); name the reason.
      req.onerror = () => {
        if (req.error.name === 'ConstraintError') {
          tx.failure = new StoreError('AlreadyExists', `run ${JSON.stringify(record.id)} exists already`);
        }
      };
      tx.result = record;
      tx.commit();
    });
  }

  #changeRun(runId, change) {
    return write(this.db, RUNS, (tx) => {
      const runs = tx.objectStore(RUNS);
      const req = runs.get(runId);
      req.onsuccess = () => {
        const run = req.result;
        if (run === undefined) return fail(tx, notFound(runId));
        change(run);
        run.updatedAt = timestampAfter(run.updatedAt);
        runs.put(run);
        tx.commit();
      };
    });
  }

  updateRunStatus(runId, status) {
    try {
      checkStatus(status);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#changeRun(runId, (run) => { run.status = status; });
  }

  updateGraph(runId, graphJson) {
    if (typeof graphJson !== 'string') return Promise.reject(new StoreError('Constraint', 'graphJson must be a string'));
    return this.#changeRun(runId, (run) => { run.graphJson = graphJson; });
  }

  appendEvent(input) {
    let record;
    try {
      record = eventRecord(input);
    } catch (e) {
      return Promise.reject(e);
    }
    return write(this.db, BOTH, (tx) => {
      const events = tx.objectStore(EVENTS);
      const runCount = tx.objectStore(RUNS).count(record.runId);
      const prior = events.get([record.runId, record.seq]);
      // Requests of a transaction complete in order: runCount is done here.
      prior.onsuccess = () => {
        if (runCount.result === 0) return fail(tx, notFound(record.runId));
        const old = prior.result;
        if (old === undefined) events.add(record);
        else if (!sameEvent(old, record)) return fail(tx, conflict(record));
        tx.commit();
      };
    });
  }

  appendEvents(inputs) {
    let records;
    try {
      records = inputs.map(eventRecord);
    } catch (e) {
      return Promise.reject(e);
    }
    if (records.length === 0) return Promise.resolve();
    const spans = seqSpans(records);
    return write(this.db, BOTH, (tx) => {
      const runs = tx.objectStore(RUNS);
      const events = tx.objectStore(EVENTS);
      const lookups = [];
      let last;
      for (const [runId, { min, max }] of spans) {
        const count = runs.count(runId);
        last = events.getAll(IDBKeyRange.bound([runId, min], [runId, max]));
        lookups.push([runId, count, last]);
      }
      last.onsuccess = () => {
        const known = new Map();
        const stored = new Map();
        for (const [runId, count, found] of lookups) {
          known.set(runId, count.result > 0);
          stored.set(runId, found.result);
        }
        let toWrite;
        try {
          toWrite = planBatch(records, known, stored);
        } catch (e) {
          return fail(tx, e);
        }
        for (const r of toWrite) events.add(r);
        tx.commit();
      };
    });
  }

  getRun(runId) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(RUNS, 'readonly');
      const req = tx.objectStore(RUNS).get(runId);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      tx.commit();
    });
  }

  listRuns(status) {
    if (status !== undefined && status !== null) {
      try {
        checkStatus(status);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(RUNS, 'readonly');
      const runs = tx.objectStore(RUNS);
      const req = status == null
        ? runs.index('by_created').getAll()
        : runs.index('by_status').getAll(prefix(status));
      req.onsuccess = () => resolve(req.result.reverse());
      req.onerror = () => reject(req.error);
      tx.commit();
    });
  }

  listEvents(runId) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(EVENTS, 'readonly');
      const req = tx.objectStore(EVENTS).getAll(prefix(runId));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      tx.commit();
    });
  }

  markInterruptedRuns() {
    return write(this.db, RUNS, (tx) => {
      const runs = tx.objectStore(RUNS);
      const req = runs.index('by_status').getAll(prefix('running'));
      req.onsuccess = () => {
        const list = req.result;
        for (const run of list) {
          run.status = 'interrupted';
          run.updatedAt = timestampAfter(run.updatedAt);
          runs.put(run);
        }
        tx.result = list.length;
        tx.commit();
      };
    });
  }

  truncateEventsAfterWave(runId, waveIndex) {
    return write(this.db, BOTH, (tx) => {
      const events = tx.objectStore(EVENTS);
      const count = tx.objectStore(RUNS).count(runId);
      const keys = events.index('by_wave')
        .getAllKeys(IDBKeyRange.bound([runId, waveIndex + 1], [runId, []]));
      keys.onsuccess = () => {
        if (count.result === 0) return fail(tx, notFound(runId));
        const seqs = keys.result.map((k) => k[1]);
        for (const [first, last] of consecutiveSpans(seqs)) {
          events.delete(IDBKeyRange.bound([runId, first], [runId, last]));
        }
        tx.commit();
      };
    });
  }
}

export function open(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => upgrade(req.result);
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => db.close();
      resolve(new PlainStore(db));
    };
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new StoreError('Storage', `opening ${name} is blocked`));
  });
}

export function deleteDb(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}

export const label = 'plain IndexedDB';
