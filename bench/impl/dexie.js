// Dexie 4, written the way its documentation teaches: a Dexie schema over the
// same keys and compound indexes, Table/Collection calls, db.transaction for
// the operations that read before they write, bulkAdd, modify, and
// Collection.delete.

import Dexie, { liveQuery } from '/node_modules/dexie/dist/dexie.mjs';
import {
  StoreError, notFound, conflict, sameEvent, newRunRecord, checkStatus, eventRecord,
  timestampAfter, seqSpans, planBatch,
} from './shared.js';

const { minKey, maxKey } = Dexie;

class DexieStore {
  constructor(db) {
    this.db = db;
    this.runs = db.table('runs');
    this.events = db.table('events');
  }

  close() {
    this.db.close();
  }

  async createRun(input) {
    const record = newRunRecord(input);
    try {
      await this.runs.add(record);
    } catch (e) {
      if (e.name === 'ConstraintError') {
        throw new StoreError('AlreadyExists', `run ${JSON.stringify(record.id)} exists already`);
      }
      throw e;
    }
    return record;
  }

  #changeRun(runId, change) {
    return this.db.transaction('rw', this.runs, async () => {
      const run = await this.runs.get(runId);
      if (run === undefined) throw notFound(runId);
      change(run);
      run.updatedAt = timestampAfter(run.updatedAt);
      await this.runs.put(run);
    });
  }

  async updateRunStatus(runId, status) {
    checkStatus(status);
    return this.#changeRun(runId, (run) => { run.status = status; });
  }

  async updateGraph(runId, graphJson) {
    if (typeof graphJson !== 'string') throw new StoreError('Constraint', 'graphJson must be a string');
    return this.#changeRun(runId, (run) => { run.graphJson = graphJson; });
  }

  async appendEvent(input) {
    const record = eventRecord(input);
    return this.db.transaction('rw', this.runs, this.events, async () => {
      const [count, old] = await Promise.all([
        this.runs.where(':id').equals(record.runId).count(),
        this.events.get([record.runId, record.seq]),
      ]);
      if (count === 0) throw notFound(record.runId);
      if (old === undefined) await this.events.add(record);
      else if (!sameEvent(old, record)) throw conflict(record);
    });
  }

  async appendEvents(inputs) {
    const records = inputs.map(eventRecord);
    if (records.length === 0) return;
    const spans = seqSpans(records);
    return this.db.transaction('rw', this.runs, this.events, async () => {
      const lookups = await Promise.all([...spans].map(([runId, { min, max }]) => Promise.all([
        runId,
        this.runs.where(':id').equals(runId).count(),
        this.events.where(':id').between([runId, min], [runId, max], true, true).toArray(),
      ])));
      const known = new Map();
      const stored = new Map();
      for (const [runId, count, found] of lookups) {
        known.set(runId, count > 0);
        stored.set(runId, found);
      }
      const toWrite = planBatch(records, known, stored);
      if (toWrite.length > 0) await this.events.bulkAdd(toWrite);
    });
  }

  getRun(runId) {
    return this.runs.get(runId);
  }

  async listRuns(status) {
    if (status == null) return this.runs.orderBy('[createdKey+id]').reverse().toArray();
    checkStatus(status);
    return this.runs.where('[status+createdKey+id]')
      .between([status, minKey, minKey], [status, maxKey, maxKey], true, true)
      .reverse()
      .toArray();
  }

  listEvents(runId) {
    return this.events.where(':id').between([runId, minKey], [runId, maxKey], true, true).toArray();
  }

  markInterruptedRuns() {
    return this.db.transaction('rw', this.runs, () => this.runs.where('[status+createdKey+id]')
      .between(['running', minKey, minKey], ['running', maxKey, maxKey], true, true)
      .modify((run) => {
        run.status = 'interrupted';
        run.updatedAt = timestampAfter(run.updatedAt);
      }));
  }

  truncateEventsAfterWave(runId, waveIndex) {
    return this.db.transaction('rw', this.runs, this.events, async () => {
      const count = await this.runs.where(':id').equals(runId).count();
      if (count === 0) throw notFound(runId);
      await this.events.where('[runId+waveIndex]')
        .between([runId, waveIndex + 1], [runId, maxKey], true, true)
        .delete();
    });
  }
}

export async function open(name) {
  const db = new Dexie(name);
  db.version(1).stores({
    runs: 'id, [createdKey+id], [status+createdKey+id]',
    events: '[runId+seq], [runId+waveIndex]',
  });
  await db.open();
  return new DexieStore(db);
}

/**
 * Follows a run for the liveLatency row the way Dexie's documentation
 * teaches: a liveQuery over the run's events (Dexie 4 re-runs it when this
 * or another tab or worker commits a change to the range, told by its
 * BroadcastChannel), each result passed on as the events not seen before.
 * Returns the function that stops it.
 */
export function follow(store, runId, onEvents, onError) {
  let seen = 0;
  const subscription = liveQuery(
    () => store.events.where(':id').between([runId, minKey], [runId, maxKey], true, true).toArray(),
  ).subscribe({
    next(list) {
      if (list.length > seen) {
        const fresh = list.slice(seen);
        seen = list.length;
        onEvents(fresh);
      }
    },
    error: onError,
  });
  return () => subscription.unsubscribe();
}

export function deleteDb(name) {
  return Dexie.delete(name);
}

export const label = 'Dexie 4';
