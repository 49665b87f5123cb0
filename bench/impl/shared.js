// Rules shared by the hand-written and Dexie implementations, so both do the
// same checks council-idb does before touching storage.

export const STATUSES = new Set(['running', 'awaiting_approval', 'interrupted', 'completed', 'failed']);
export const HITL_MODES = new Set(['none', 'approve_plan', 'approve_each_node', 'approve_tools']);

export class StoreError extends Error {
  constructor(kind, message) {
    super(`${kind}: ${message}`);
    this.name = kind;
    this.kind = kind;
  }
}

export const notFound = (runId) => new StoreError('NotFound', `run ${JSON.stringify(runId)} does not exist`);
export const constraint = (message) => new StoreError('Constraint', message);

/** The instant of an RFC 3339 timestamp as a sortable string (normalised ISO, UTC). */
export function sortKey(timestamp, what) {
  const ms = typeof timestamp === 'string' ? Date.parse(timestamp) : NaN;
  if (Number.isNaN(ms)) throw constraint(`${what}: ${JSON.stringify(timestamp)} is not an RFC 3339 timestamp`);
  return new Date(ms).toISOString();
}

/** A timestamp strictly later than `previous` and no earlier than now (ms precision). */
export function timestampAfter(previous) {
  const prev = Date.parse(previous);
  const now = Date.now();
  return new Date(Number.isNaN(prev) ? now : Math.max(now, prev + 1)).toISOString();
}

/** The stored form of a new run (with createdKey), after the contract's checks. */
export function newRunRecord(input) {
  if (input === null || typeof input !== 'object') throw constraint('createRun needs an object');
  const id = input.id ?? crypto.randomUUID();
  if (typeof id !== 'string' || id === '') throw constraint('run id must be a non-empty string');
  if (typeof input.goal !== 'string') throw constraint(`run ${id}: goal must be a string`);
  const hitlMode = input.hitlMode ?? 'none';
  if (!HITL_MODES.has(hitlMode)) throw constraint(`run ${id}: unknown hitlMode ${JSON.stringify(hitlMode)}`);
  const conversationId = input.conversationId ?? null;
  if (conversationId !== null && !Number.isSafeInteger(conversationId)) {
    throw constraint(`run ${id}: conversationId must be a safe integer`);
  }
  const graphJson = input.graphJson ?? null;
  if (graphJson !== null && typeof graphJson !== 'string') throw constraint(`run ${id}: graphJson must be a string`);
  const createdAt = input.createdAt ?? new Date().toISOString();
  const createdKey = sortKey(createdAt, `run ${id} createdAt`);
  return {
    id, goal: input.goal, graphJson, status: 'running', hitlMode, conversationId,
    createdAt, updatedAt: createdAt, createdKey,
  };
}

export function checkStatus(status) {
  if (!STATUSES.has(status)) throw constraint(`unknown status ${JSON.stringify(status)}`);
}

/** The stored form of an event, after the checks made before storage is read. */
export function eventRecord(e) {
  if (e === null || typeof e !== 'object') throw constraint('an event must be an object');
  const { runId, seq, eventJson, waveIndex } = e;
  if (typeof runId !== 'string' || runId === '') throw constraint('event runId must be a non-empty string');
  if (!Number.isSafeInteger(seq) || seq < 0) throw constraint(`event seq ${seq} of run ${runId} is outside 0..=2^53 − 1`);
  if (typeof eventJson !== 'string') throw constraint(`event ${seq} of run ${runId}: eventJson must be a string`);
  if (!Number.isInteger(waveIndex) || waveIndex < 0 || waveIndex > 0xffffffff) {
    throw constraint(`event ${seq} of run ${runId}: waveIndex ${waveIndex} is not a u32`);
  }
  const createdAt = e.createdAt ?? new Date().toISOString();
  if (Number.isNaN(Date.parse(createdAt))) {
    throw constraint(`event ${seq} of run ${runId}: createdAt ${JSON.stringify(createdAt)} is not an RFC 3339 timestamp`);
  }
  return { runId, seq, eventJson, createdAt, waveIndex };
}

export const conflict = (e) => constraint(
  `run ${e.runId} already has an event with seq ${e.seq} and different content`);

export const sameEvent = (a, b) => a.eventJson === b.eventJson && a.waveIndex === b.waveIndex;

/** Per run, the lowest and highest seq of a batch. */
export function seqSpans(records) {
  const spans = new Map();
  for (const r of records) {
    const s = spans.get(r.runId);
    if (s === undefined) spans.set(r.runId, { min: r.seq, max: r.seq });
    else {
      if (r.seq < s.min) s.min = r.seq;
      if (r.seq > s.max) s.max = r.seq;
    }
  }
  return spans;
}

/**
 * Decides which records of a batch to write. `known` maps runId → exists,
 * `stored` maps runId → array of stored events in the batch's span. Throws on
 * the first rule broken (all or nothing).
 */
export function planBatch(records, known, stored) {
  const seen = new Map(); // runId -> Map(seq -> event)
  for (const [runId, list] of stored) {
    if (list.length === 0) continue;
    const m = new Map();
    for (const e of list) m.set(e.seq, e);
    seen.set(runId, m);
  }
  const toWrite = [];
  for (const r of records) {
    if (!known.get(r.runId)) throw notFound(r.runId);
    let m = seen.get(r.runId);
    if (m === undefined) { m = new Map(); seen.set(r.runId, m); }
    const prior = m.get(r.seq);
    if (prior === undefined) { m.set(r.seq, r); toWrite.push(r); }
    else if (!sameEvent(prior, r)) throw conflict(r);
  }
  return toWrite;
}

/** Sorted integer seqs → [first, last] spans of consecutive values. */
export function consecutiveSpans(seqs) {
  seqs.sort((a, b) => a - b);
  const out = [];
  let i = 0;
  while (i < seqs.length) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1] === seqs[j] + 1) j++;
    out.push([seqs[i], seqs[j]]);
    i = j + 1;
  }
  return out;
}
