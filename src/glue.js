// The JavaScript half of council-idb, one module: wasm-bindgen serves every
// snippet as its own file, and each is one more request when a page loads
// the package (eight, before they were put together here). Sections:
// transactions, record checks, the layout check, run locks, change notices,
// CouncilStore helpers, watchers, export and import.

// ---- Transactions (src/indexed_db/raw.rs)

// db.transaction() over scope `scope` with access `access`, numbered as
// raw.rs's Scope (runs, events, both) and Access (read, write, durable
// write). A single store's scope is its name, as hand-written code passes
// it (Chromium converts a one-element array more slowly); a durable write
// completes only once the engine has flushed it to disk (an engine without
// the option ignores it). A write gets `councilEnded`, a promise of its
// end, rejected with its error (an AbortError when a call aborted it,
// which leaves none); it counts as handled, as a write dropped (aborted) is
// not waited for.
const SCOPES = ["runs", "events", ["runs", "events"]];
const STRICT = { durability: "strict" };
export function startTx(db, scope, access) {
  const tx = db.transaction(SCOPES[scope], access ? "readwrite" : "readonly", access > 1 ? STRICT : undefined);
  if (access) {
    tx.councilEnded = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onabort = () => reject(tx.error ?? { name: "AbortError" });
    });
    tx.councilEnded.catch(() => {});
  }
  return tx;
}

// `record` added (`put`: put) in the store of `tx` that `scope` names (0
// runs, 1 events, as for startTx), its outcome unwatched: a failure aborts
// the transaction, and the commit reports it. Throws [step, error] (see
// opBody below) when the request cannot be made.
export function writeRecord(tx, scope, record, put) {
  const store = storeOf(tx, SCOPES[scope]);
  try {
    if (put) store.put(record);
    else store.add(record);
  } catch (e) {
    throw [9, e];
  }
}

// `transaction.commit()` where the engine has it (every current one); a
// transaction without it commits by itself once its requests are done.
// `commit()` throws only when the transaction is no longer active, and then
// it ends by itself. With `abort`, `transaction.abort()` instead, which
// throws only when it has ended. Returns the promise of a write's end.
export function commitTx(tx, abort) {
  try {
    if (abort) tx.abort();
    else if (typeof tx.commit === "function") tx.commit();
  } catch {
    // Ended or ending: its end says how.
  }
  return tx.councilEnded;
}

// `{name}: {message}` of a DOMException or error (its name alone when the
// message is empty), else String(value), or "a value" when that throws (raw.rs,
// error_text). A field is read as Reflect.get reads it and kept only when it
// is a string: a primitive has none, a getter that throws gives none.
export function errorText(value) {
  const field = (key) => {
    try {
      const v = Reflect.get(value, key);
      return typeof v === "string" ? v : undefined;
    } catch {}
  };
  const name = field("name");
  const message = field("message");
  if (name !== undefined) return message ? `${name}: ${message}` : name;
  try {
    return String(value);
  } catch {
    return "a value";
  }
}

// Makes `handler` what the connection `db` calls when it is lost (another
// tab upgrades or deletes the database, or the browser closes it:
// connection.rs); with none (undefined), closes it, its handlers gone.
export function watchDb(db, handler) {
  db.onversionchange = db.onclose = handler ?? null;
  if (!handler) db.close();
}

// ---- Operation bodies (src/indexed_db/ops.rs)

// The requests of some operations' transactions, made here rather than in
// wasm, where each request is a future and a closure of its own; ops.rs
// keeps the rules and says which bodies run here. A body makes its first
// requests inside the call, while its transaction is active, and returns a
// promise. A failure rejects with [step, error]: `step` indexes STEPS below
// (or is the words themselves), so the error reads as it did when the body
// was Rust. A failed request is not prevented: it aborts the transaction,
// as a request made in Rust does.

// What failed, by the step number a body rejects with: the words the Rust
// bodies used, so messages (and the retry on a lost connection, which reads
// the DOMException name) stay as they were.
const STEPS = [
  "cannot read a record",
  "cannot read records",
  "cannot count records",
  "cannot read keys",
  "cannot build a key range",
  "cannot read the run",
  "cannot look up the run",
  "cannot find events to delete",
  "cannot delete records",
  "cannot store a record",
  "cannot list running runs",
  "cannot read stored events",
];

// The message of the Storage error a body's rejection `[step, error]` is
// (ops.rs, glue_failure): `{words}: {errorText(error)}`, or, for a rejection
// of another shape (a bug here), errorText of it. A number step is taken as
// Rust's `as usize` takes it (NaN and below 0 as 0, fractions cut).
export function failureText(rejection) {
  const part = (at) => {
    try {
      return Reflect.get(rejection, at);
    } catch {}
  };
  const step = part(0);
  const words = typeof step === "number" ? STEPS[step > 0 ? Math.floor(step) : 0] : step;
  return typeof words === "string" ? `${words}: ${errorText(part(1))}` : errorText(rejection);
}

// Store `name` of `tx`.
function storeOf(tx, name) {
  try {
    return tx.objectStore(name);
  } catch (e) {
    throw [`no object store "${name}"`, e];
  }
}

// Index `name` of `store` (src/indexed_db/schema.rs names them).
function indexOf(store, name) {
  try {
    return store.index(name);
  } catch (e) {
    throw [`no index "${name}"`, e];
  }
}

// IDBKeyRange.bound(lower, upper).
function range(lower, upper) {
  try {
    return IDBKeyRange.bound(lower, upper);
  } catch (e) {
    throw [4, e];
  }
}

// Makes the request `source[method](a, b)` and returns a promise of its
// result; `made` is the step of an exception making it, `failed` that of
// its error.
function ask(made, failed, source, method, a, b) {
  let request;
  try {
    request = source[method](a, b);
  } catch (e) {
    throw [made, e];
  }
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject([failed, request.error]);
  });
}

// The seq after the event key a backward key cursor stands on, or 0 for
// none (an empty log).
function seqAfter(cursor) {
  return cursor ? cursor.primaryKey[1] + 1 : 0;
}

// `store.delete(query)`, its outcome unwatched: a failure aborts the
// transaction, and the commit reports it.
function remove(store, query) {
  try {
    store.delete(query);
  } catch (e) {
    throw [8, e];
  }
}

// A body (ops.rs, in_glue). Reads: kind 0: the run `id` (or undefined); 1:
// runs by creation; 2: runs of status `id`; 3: the events of run `id`; 4:
// at most `b` of them from seq `a` on; 5: {run, events}, the run and its
// events from seq `a` on, for a watcher; 6: 0 when run `id` exists; 7: the
// seq after its last event. Writes, which resolve once their requests are
// made: 8 deletes run `id` and its events (0); 9 deletes its events after
// wave `a` and records the rewind in the run (the seq after the last kept
// event). Kinds 6 to 9 give -1 for a missing run. For
// markInterruptedRuns, 10: the runs of status `id`; 11: their ids. For a
// change of a run, 12: as 0, a failure read as "cannot read the run". The
// caller commits.
export async function opBody(tx, kind, id, a, b) {
  // After every key of run `id` (arrays sort after numbers).
  const past = [id, []];
  if (kind === 8) {
    const runs = storeOf(tx, "runs");
    if (!(await ask(2, 6, runs, "count", id))) return -1;
    remove(runs, id);
    remove(storeOf(tx, "events"), range([id], past));
    return 0;
  }
  if (kind === 9) return truncate(tx, id, a, past);
  if (kind === 6 || kind === 7) return (await appendReads(tx, id, 1, 0, kind === 7))[0];
  if (kind === 5) {
    const run = ask(0, 5, storeOf(tx, "runs"), "get", id);
    const events = ask(1, 1, storeOf(tx, "events"), "getAll", range([id, a], past));
    const [r, e] = await Promise.all([run, events]);
    return { run: r, events: e };
  }
  if (kind === 3 || kind === 4) {
    const events = storeOf(tx, "events");
    return ask(1, 1, events, "getAll", range(kind === 3 ? [id] : [id, a], past), kind === 4 ? b : undefined);
  }
  const runs = storeOf(tx, "runs");
  if (kind === 0 || kind === 12) return ask(0, kind ? 5 : 1, runs, "get", id);
  const index = indexOf(runs, kind === 1 ? "by_created" : "by_status");
  const query = kind === 1 ? undefined : range([id], past);
  if (kind === 11) return ask(3, 10, index, "getAllKeys", query);
  return ask(1, kind === 10 ? 10 : 1, index, "getAll", query);
}

// Adds run record `record` in `tx` (ops.rs, create_run): a promise of the
// request's outcome, its error worded for the run. When the request cannot
// be made, before any other request of its transaction, it aborts `tx`, so
// nothing the caller asks of it after is written, and rejects with
// [step, error]. (Not a throw: an import that throws has glue of its own.)
export function addRun(tx, record) {
  try {
    return ask(9, `cannot store run "${record.id}"`, storeOf(tx, "runs"), "add", record);
  } catch (e) {
    try {
      tx.abort();
    } catch {
      // Ended already.
    }
    return Promise.reject(e);
  }
}

// `record`'s field `name` (the rewinds), if it has one, kept in `updated`,
// the record that replaces it (ops.rs, change_run).
export function keepField(updated, record, name) {
  if (record[name] !== undefined) updated[name] = record[name];
}

// Run record `record` given `status` as of `stamp` (its updatedAt) and
// put in `tx` (ops.rs, mark), the put unwatched. Returns what writeRecord
// throws, or undefined (not thrown: an import that throws has glue of its
// own).
export function putMarked(tx, record, status, stamp) {
  record.status = status;
  record.updatedAt = stamp;
  try {
    writeRecord(tx, 0, record, true);
  } catch (e) {
    return e;
  }
}

// The reads an append batch (ops.rs, write_events) needs of run `id`:
// whether it exists, its stored events with seqs `low`..=`high` (none when
// `low` > `high`) and, when `numbered`, the seq after its last event. A
// promise of [next, found]: `next` -1 for a missing run, else that seq (0
// when not `numbered`). Requests finish in order, so the first failure is
// the one reported, as when they were awaited one by one.
export async function appendReads(tx, id, low, high, numbered) {
  const runs = storeOf(tx, "runs");
  // Not in the scope of a claim's look-up (opBody's kind 6), which reads
  // nothing else.
  const events = low <= high || numbered ? storeOf(tx, "events") : null;
  const [n, found, last] = await Promise.all([
    ask(2, 6, runs, "count", id),
    low <= high ? ask(1, 11, events, "getAll", range([id, low], [id, high])) : undefined,
    numbered ? ask(3, 3, events, "openKeyCursor", range([id], [id, []]), "prev") : undefined,
  ]);
  return [n ? seqAfter(last) : -1, found];
}

// The events of run `id` after wave `wave` deleted, the rewind recorded in
// the run's `rewinds` (read by watchers) and written back: the seq after
// the last kept event, or -1 for a missing run. The caller commits.
async function truncate(tx, id, wave, past) {
  const runs = storeOf(tx, "runs");
  const events = storeOf(tx, "events");
  const record = ask(0, 6, runs, "get", id);
  const later = range([id, wave + 1], past);
  const keys = ask(3, 7, indexOf(events, "by_wave"), "getAllKeys", later);
  // Awaited after the run: a failed read of the run fails this one too.
  keys.catch(() => {});
  const run = await record;
  if (run === undefined) return -1;
  const seqs = (await keys).map((key) => key[1]).sort((x, y) => x - y);
  // Runs of consecutive seqs go with one range each: the seqs are
  // integers, so a range between two found ones holds no other.
  for (let i = 0, j = 0; i < seqs.length; i = ++j) {
    while (seqs[j + 1] === seqs[j] + 1) j++;
    remove(events, range([id, seqs[i]], [id, seqs[j]]));
  }
  // Requests run in order: this one sees the log after the deletes.
  const next = seqAfter(await ask(3, 3, events, "openKeyCursor", range([id], past), "prev"));
  run.rewinds = [...(Array.isArray(run.rewinds) ? run.rewinds : []), rewind(wave, next)];
  try {
    runs.put(run);
  } catch (e) {
    throw [9, e];
  }
  return next;
}

// ---- Record checks (src/indexed_db/codec.rs)

// These run in JavaScript because they touch every field of every record:
// crossing into wasm for each would cost more than the check.

// Index of the first record that is not a well-formed run, or -1.
export function firstMalformedRun(records, statuses, modes) {
  const isSafe = (n) => n === null || Number.isSafeInteger(n);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (typeof r !== "object" || r === null || typeof r.id !== "string" ||
        typeof r.goal !== "string" || !statuses.includes(r.status) ||
        !modes.includes(r.hitlMode) || typeof r.createdAt !== "string" ||
        typeof r.updatedAt !== "string" || !isSafe(r.conversationId ?? null) ||
        !(r.graphJson == null || typeof r.graphJson === "string")) {
      return i;
    }
  }
  return -1;
}

// Index of the first record that is not a well-formed event, or -1.
export function firstMalformedEvent(records) {
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (typeof r !== "object" || r === null || typeof r.runId !== "string" ||
        !Number.isSafeInteger(r.seq) || r.seq < 0 || typeof r.eventJson !== "string" ||
        typeof r.createdAt !== "string" || !Number.isInteger(r.waveIndex) ||
        r.waveIndex < 0 || r.waveIndex > 4294967295) {
      return i;
    }
  }
  return -1;
}

// What is wrong with stored record `r` (an event when `event`, else a run),
// as a Serialization error's message naming the record and its first bad
// field, in the order codec.rs reads them: made here, and only for a record
// codec.rs refused, so that wasm carries neither the messages nor their
// formatting. `#at` names the record in its list should no field be wrong.
export function recordProblem(r, event, statuses, modes, at) {
  const what = event ? "event" : "run";
  if (typeof r !== "object" || r === null) {
    let text = "a value";
    try {
      text = String(r);
    } catch {}
    return `stored ${what} is not an object: ${text}`;
  }
  const get = (key) => {
    try {
      return r[key];
    } catch {}
  };
  const id = get(event ? "runId" : "id");
  const seq = get("seq");
  const name = event
    ? `stored event (run "${typeof id === "string" ? id : "<none>"}", seq ${typeof seq === "number" ? seq : "<none>"})`
    : `stored run "${typeof id === "string" ? id : "<no id>"}"`;
  // [field, null allowed, then the names it takes or the integer range]:
  // a string without either.
  const MAX = Number.MAX_SAFE_INTEGER;
  const fields = event
    ? [["runId"], ["seq", 0, 0, MAX], ["eventJson"], ["createdAt"], ["waveIndex", 0, 0, 4294967295]]
    : [["status", 0, statuses], ["hitlMode", 0, modes], ["id"], ["goal"], ["graphJson", 1],
      ["conversationId", 1, -MAX, MAX], ["createdAt"], ["updatedAt"]];
  for (const [key, nullable, min, max] of fields) {
    let problem = "cannot be read";
    try {
      const v = r[key];
      problem = nullable && v == null ? ""
        : typeof min === "number"
          ? typeof v !== "number" ? "is missing or not a number"
            : Number.isInteger(v) && v >= min && v <= max ? "" : `is ${v}, not an integer in ${min}..=${max}`
          : typeof v !== "string" ? nullable ? "is neither a string nor null" : "is missing or not a string"
            : min && !min.includes(v) ? `has unknown value "${v}"` : "";
    } catch {}
    if (problem) return `${name}: field "${key}" ${problem}`;
  }
  return `stored ${what} #${at} is malformed`;
}

// An event record (src/record.rs names its fields): one call from wasm
// instead of an object and five property sets.
export function eventRecord(runId, seq, eventJson, createdAt, waveIndex) {
  return { runId, seq, eventJson, createdAt, waveIndex };
}

// A run as the API hands it out, and with `createdKey` (when given) as
// IndexedDB stores it: one call from wasm instead of an object and eight or
// nine property sets. Absent optional fields arrive undefined and are null.
export function runRecord(id, goal, graphJson, status, hitlMode, conversationId,
                          createdAt, updatedAt, createdKey) {
  const run = {
    id,
    goal,
    graphJson: graphJson ?? null,
    status,
    hitlMode,
    conversationId: conversationId ?? null,
    createdAt,
    updatedAt,
  };
  if (createdKey !== undefined) run.createdKey = createdKey;
  return run;
}

// ---- The layout check (src/indexed_db/schema.rs)

// The database's layout at schema version 1, as `createLayout` makes it and
// `layoutDifferences` expects it: each object store with its key path and
// indexes. No store auto-increments and no index is unique or multi-entry.
// The store and index names are defined here (the reads and opBody name
// them too); the key paths are the record fields of src/record.rs, which a
// test there holds this text to.
const LAYOUT = [
  {
    name: "runs",
    keyPath: "id",
    indexes: [
      { name: "by_created", keyPath: ["createdKey", "id"] },
      { name: "by_status", keyPath: ["status", "createdKey", "id"] },
    ],
  },
  { name: "events", keyPath: ["runId", "seq"], indexes: [{ name: "by_wave", keyPath: ["runId", "waveIndex"] }] },
];

// Creates the object stores and indexes of LAYOUT in the version-change
// transaction of an `upgradeneeded` event. A DOMException it throws aborts
// that transaction (which fails the open) and is returned (undefined when
// all went well; not thrown: an import that throws has glue of its own).
export function createLayout(event) {
  const request = event.target;
  try {
    for (const spec of LAYOUT) {
      const store = request.result.createObjectStore(spec.name, { keyPath: spec.keyPath });
      for (const index of spec.indexes) store.createIndex(index.name, index.keyPath);
    }
  } catch (e) {
    try {
      request.transaction.abort();
    } catch {}
    return e;
  }
}

// How the database's layout differs from LAYOUT: a promise of sentences
// joined by "; ", empty when it is the same, settled once the transaction
// that read the layout has ended (a worker terminated while it is still
// pending can leave WebKit's connection open for good); rejected with what
// a read of it throws (async: an import that throws has glue of its own).
export async function layoutDifferences(db) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const shown = (p) => JSON.stringify(p);
  const out = [];
  const names = LAYOUT.map((s) => s.name);
  const missing = names.filter((n) => !db.objectStoreNames.contains(n));
  for (const n of missing) out.push(`no object store "${n}"`);
  for (const n of Array.from(db.objectStoreNames)) {
    if (!names.includes(n)) out.push(`an object store "${n}" that council-idb does not make`);
  }
  if (missing.length) return out.join("; ");
  const tx = db.transaction(names, "readonly");
  const ended = new Promise((resolve) => {
    tx.oncomplete = tx.onabort = tx.onerror = () => resolve(out.join("; "));
  });
  for (const spec of LAYOUT) {
    const store = tx.objectStore(spec.name);
    if (!same(store.keyPath, spec.keyPath)) {
      out.push(`"${spec.name}" has key path ${shown(store.keyPath)}, not ${shown(spec.keyPath)}`);
    }
    if (store.autoIncrement) out.push(`"${spec.name}" auto-increments`);
    const wanted = spec.indexes.map((i) => i.name);
    for (const name of Array.from(store.indexNames)) {
      if (!wanted.includes(name)) out.push(`"${spec.name}" has an index "${name}" that council-idb does not make`);
    }
    for (const want of spec.indexes) {
      if (!store.indexNames.contains(want.name)) {
        out.push(`"${spec.name}" has no index "${want.name}"`);
        continue;
      }
      const index = store.index(want.name);
      if (!same(index.keyPath, want.keyPath)) {
        out.push(`index "${spec.name}.${want.name}" has key path ${shown(index.keyPath)}, not ${shown(want.keyPath)}`);
      }
      if (index.unique) out.push(`index "${spec.name}.${want.name}" is unique`);
      if (index.multiEntry) out.push(`index "${spec.name}.${want.name}" is multi-entry`);
    }
  }
  return ended;
}

// Settles an open or delete request that schema.rs made with the idb crate:
// resolves with its result, rejects with its error (undefined if it has
// none), or, blocked and still pending `graceMs` after, rejects with null
// and gives it up: a delete is remembered until it ends (`deleting` is the
// database's name), an open that succeeds later closes its connection.
// A request can also wait with no `blocked` event at all: queued behind
// another realm's delete or upgrade that a connection blocks (the browser
// fires `blocked` at that request, not at ours), or, in Firefox, now and
// then (4 in 10 tries) when one connection closes on `versionchange` and
// another does not. Such a request is given up the same way once it has
// been pending for 4 × `graceMs`, rather than left to hang.
export function settleRequest(request, graceMs, deleting) {
  return new Promise((resolve, reject) => {
    // Rejects with null when blocked, false when no event came at all.
    const giveUp = (why) => {
      if (deleting == null) request.onsuccess = () => request.result.close();
      else deleteLeftPending(request, deleting);
      reject(why);
    };
    let timer = setTimeout(giveUp, 4 * graceMs, false);
    let blocked = false;
    request.onsuccess = () => {
      clearTimeout(timer);
      // Until the store takes the connection (after the layout check), a
      // version change asked for by another connection closes it: unheard,
      // it would keep that upgrade or delete blocked for as long as the
      // store is open. The store then finds it closed and opens again.
      if (deleting == null) request.result.onversionchange = () => request.result.close();
      resolve(request.result);
    };
    request.onerror = () => {
      clearTimeout(timer);
      reject(request.error ?? undefined);
    };
    request.onblocked = () => {
      if (blocked) return;
      blocked = true;
      clearTimeout(timer);
      timer = setTimeout(giveUp, graceMs, null);
    };
  });
}

// A promise that resolves after `ms` milliseconds (connection.rs's test hook
// that loses the connection).
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Databases whose deletion this realm stopped waiting for (blocked by a
// connection that did not close): the browser still deletes each once that
// connection goes, and holds back every later open or delete of it until
// then, without a `blocked` event. A name leaves the set when its delete ends.
const pendingDeletes = new Set();
function deleteLeftPending(request, name) {
  pendingDeletes.add(name);
  const ended = () => pendingDeletes.delete(name);
  request.addEventListener("success", ended);
  request.addEventListener("error", ended);
}
export function deletePending(name) {
  return pendingDeletes.has(name);
}

// ---- Run locks (src/indexed_db/locks.rs)

export function locksExist() {
  try {
    return typeof navigator === "object" && navigator !== null &&
      typeof navigator.locks === "object" && navigator.locks !== null &&
      typeof navigator.locks.request === "function";
  } catch {
    return false;
  }
}
const PREFIX = "council-idb:run:";
function lockName(db, run) {
  return PREFIX + JSON.stringify([db, run]);
}
// Locks this realm has let go of whose release the browser has not finished:
// name -> promise settled once it has. A store that takes a lock again right
// after letting it go must not find it "held elsewhere" by its own past.
const releasing = new Map();
// Takes the lock of each run of `runs` (ids) of database `db` that nobody
// holds. Resolves to an array with, per run, the function that releases
// it, or null where another holder has it.
export function tryLocks(db, runs) {
  return Promise.all(runs.map(async (run) => {
    const name = lockName(db, run);
    await releasing.get(name);
    return new Promise((resolve, reject) => {
      const done = navigator.locks.request(name, { ifAvailable: true }, (lock) => {
        if (lock === null) {
          resolve(null);
          return undefined;
        }
        return new Promise((release) => resolve(() => {
          const gone = done.then(() => {}, () => {}).then(() => {
            if (releasing.get(name) === gone) releasing.delete(name);
          });
          releasing.set(name, gone);
          release();
        }));
      });
      done.catch(reject);
    });
  }));
}
// Calls `f` (a lock's release; a watch's stop, watch.rs), what it throws
// unheard: an import that throws has glue of its own.
export function callQuietly(f) {
  try {
    f();
  } catch {}
}
// Run ids of database `db` whose lock anyone in the origin holds.
export async function lockedRuns(db) {
  // Locks this realm let go of are listed until the browser has released
  // them (Firefox: for a while after `releaseRun` resolves), and would
  // read as owned elsewhere, by the store that gave them up or its
  // neighbours in this realm: wait for them first, as "owner" notices do.
  const own = [];
  for (const [name, gone] of releasing) own.push(gone.then(() => lockFree(name)));
  await Promise.all(own);
  const { held } = await navigator.locks.query();
  const runs = [];
  for (const { name } of held) {
    if (typeof name !== "string" || !name.startsWith(PREFIX)) continue;
    try {
      const [lockDb, run] = JSON.parse(name.slice(PREFIX.length));
      if (lockDb === db && typeof run === "string") runs.push(run);
    } catch {
      // Not one of ours.
    }
  }
  return runs;
}

// ---- Change notices (src/indexed_db/feed.rs)

// "appended" notices are sent at once while they are few: up to
// APPEND_FREE of them in APPEND_WINDOW ms. Past that, the runs appended to
// wait for the end of the window and go out together, one notice per run;
// a new window starts then. So a watcher following a run written at a
// human pace gets every notice at once, and a burst of appends costs a few
// posts (each ~50-100 µs) instead of one per append. Any other notice sends
// the waiting ones first, so every listener sees changes in order. A feed
// is null where there is no BroadcastChannel: nothing is posted then.
const APPEND_WINDOW = 8;
const APPEND_FREE = 2;

export function openChannel(name) {
  try {
    return typeof BroadcastChannel === "function"
      ? { channel: new BroadcastChannel(`council-idb:${name}`), db: name, runs: new Set(), timer: 0, since: -Infinity, sent: 0, later: null, watches: new Set(), ended: false }
      : null;
  } catch {
    return null;
  }
}
// Posts `notice`, after the notices still waiting (for a lock to go, see
// "owner" below): a feed's notices go out in the order they were posted.
function send(feed, notice) {
  if (feed.later) later(feed, () => post(feed, notice));
  else post(feed, notice);
}
function post(feed, notice) {
  try {
    feed.channel.postMessage(notice);
  } catch {
    // A closed channel: nobody to tell.
  }
}
// Runs `step` after the steps queued before it, at the earliest in a
// microtask.
function later(feed, step) {
  const next = (feed.later ?? Promise.resolve()).then(step).catch(() => {});
  feed.later = next;
  next.then(() => {
    if (feed.later === next) feed.later = null;
  });
}
function sendAppended(feed) {
  for (const runId of feed.runs) send(feed, { kind: "appended", runId });
  feed.runs.clear();
}
// Resolves once no one in the origin holds lock `name`, or after half a
// second (another holder took it). WebKit settles a lock request's promise
// before its lock registry, in another process, lists the lock as released.
async function lockFree(name) {
  for (let tries = 0; tries < 50; tries++) {
    const { held } = await navigator.locks.query();
    if (!held.some((lock) => lock.name === name)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
export function postNotice(feed, kind, run, a, b) {
  if (!feed) return;
  if (kind === "appended") {
    if (feed.timer) {
      feed.runs.add(run);
      return;
    }
    const now = performance.now();
    if (now - feed.since >= APPEND_WINDOW) {
      feed.since = now;
      feed.sent = 0;
    }
    if (feed.sent < APPEND_FREE) {
      feed.sent++;
      send(feed, { kind, runId: run });
      return;
    }
    feed.runs.add(run);
    feed.timer = setTimeout(() => {
      feed.timer = 0;
      sendAppended(feed);
      feed.since = performance.now();
      feed.sent = 0;
    }, feed.since + APPEND_WINDOW - now);
    return;
  }
  sendAppended(feed);
  const notice = noticeOf(kind, run, a, b);
  if (kind === "owner") {
    // A run given up (or taken): told once this realm has let go of its
    // lock (the store drops it right after posting, in the same task) and
    // the browser lists it as free, so that a tab reading who owns what on
    // hearing this finds the run free; the notices posted after it wait.
    later(feed, async () => {
      const name = lockName(feed.db, run);
      const gone = releasing.get(name);
      try {
        if (gone) await gone.then(() => lockFree(name));
      } catch {
        // No lock list to read: told now.
      }
      post(feed, notice);
    });
    return;
  }
  send(feed, notice);
}
// A notice as watchers receive it: `{ kind, runId }`, with `status` (`a`)
// for "status", `afterWave` and `nextSeq` (`a`, `b`) for "rewound".
function noticeOf(kind, runId, a, b) {
  if (kind === "rewound") return { kind, runId, afterWave: a, nextSeq: b };
  if (kind === "status") return { kind, runId, status: a };
  return { kind, runId };
}
// Ends the watches of the store that posts on `feed` (it closes): a closed
// store can read no more, so they could only fail at every later notice.
export function endWatches(feed) {
  if (!feed) return;
  feed.ended = true;
  for (const w of feed.watches) w.stop();
}
export function closeChannel(feed) {
  if (!feed) return;
  endWatches(feed);
  clearTimeout(feed.timer);
  sendAppended(feed);
  if (feed.later) later(feed, () => feed.channel.close());
  else feed.channel.close();
}

// ---- CouncilStore helpers (src/js.rs)

// A CouncilStoreError (see `js_error` in src/js.rs). A `Storage` error
// whose message names a DOMException, as `RepositoryError::dom_name` finds
// it (the first ':'-separated part that, without leading spaces, looks like
// `QuotaExceededError`), also gets that name as `domName` and, as `cause`, a
// DOMException of that name with the text after it. With `reject`, a
// promise rejected with it.
export function councilStoreError(message, kind, reject) {
  const error = new Error(message);
  error.name = "CouncilStoreError";
  error.kind = kind;
  // The first part: from the start or a ':', spaces, the name, then a ':'
  // or the end.
  const found = kind === "Storage" && /(?:^|:) *([A-Z][A-Za-z0-9]*Error)(?=:|$)/.exec(message);
  if (found) {
    const name = (error.domName = found[1]);
    const rest = message.slice(found.index + found[0].length);
    error.cause = domException(rest.replace(/^[: ]+/, ""), name);
  }
  return reject ? Promise.reject(error) : error;
}

function domException(message, name) {
  try {
    return new DOMException(message, name);
  } catch {
    const error = new Error(message);
    error.name = name;
    return error;
  }
}

// A random UUID v4 (RFC 9562), lowercase and hyphenated, for a run made
// without an id (`crypto.randomUUID` exists in secure contexts only).
export function newRunId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const hex = Array.from(b, (x) => (x | 256).toString(16).slice(1)).join("");
  return hex.replace(/(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
}

// `CouncilStore.persist` and `estimate`: where there is no
// `navigator.storage` or no method of that name, the call throws, and the
// answer is the same as the browser's refusal.
export async function persistStorage() {
  try {
    return (await navigator.storage.persist()) === true;
  } catch {
    return false;
  }
}

export async function estimateStorage() {
  try {
    const { usage, quota } = await navigator.storage.estimate();
    return { usage: usage ?? 0, quota: quota ?? 0 };
  } catch {
    return { usage: 0, quota: 0 };
  }
}

// A short, safe description of a value for error messages ("the string
// \"x\"", "an object"...).
function describe(value) {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "string") {
    return value.length > 40 ? `a string of ${value.length} characters` : `the string "${value}"`;
  }
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" ? "an object" : `a ${type}`;
}

// The message of an argument error of src/js.rs (its `arg_error`), for the
// argument `what` and the value given: made only for an argument refused,
// so that wasm carries neither the messages nor their formatting.
// `problem` is -2 not a string, -3 more than `a` UTF-16 units, -4 `b`
// UTF-8 bytes, more than `a`, -5 not an integer in a..=b, -6 not one of the
// names `a`, -7 not `a` (what was expected), -8 `value` is an unknown key
// of `a`'s (null: the keys cannot be listed), -9 cannot be read, -10 its
// items cannot be read, -11 not an array of events; else the index of an
// unpaired surrogate.
export function argError(what, value, problem, a, b) {
  const must = (expected) => `${what} must be ${expected}, got ${describe(value)}`;
  const names = () => a.map((name) => `"${name}"`).join(", ");
  switch (problem) {
    case -2: return must("a string");
    case -3: return `${what} has ${value.length} characters, more than the limit of ${a} bytes`;
    case -4: return `${what} is ${b} bytes, more than the limit of ${a}`;
    case -5: return must(`an integer in ${a}..=${b}`);
    case -6: return must(`one of ${names()}`);
    case -7: return must(a);
    case -8:
      return value === null
        ? `${what}: its fields cannot be listed`
        : `${what} has an unknown field "${value}"; known fields: ${names()}`;
    case -9: return `${what} cannot be read`;
    case -10: return `${what}: its items cannot be read`;
    case -11: return `${what} takes an array of events, got ${describe(value)}`;
  }
  return `${what} holds an unpaired UTF-16 surrogate at index ${problem}; only well-formed Unicode text can be stored unchanged`;
}

// For pruneRuns' olderThan (src/js.rs, date_iso): one call rather than
// three (instanceof, getTime, toISOString).
export function dateIso(value) {
  try {
    if (!(value instanceof Date)) return undefined;
  } catch {
    return undefined;
  }
  return isNaN(value.getTime()) ? null : value.toISOString();
}

export function isAbortSignal(value) {
  return typeof AbortSignal === "function" && value instanceof AbortSignal;
}

// For `string_arg` in src/js.rs, one call: -2 when `value` is not a
// string, -3 when it has more than `max` UTF-16 units, else the index of
// its first unpaired surrogate, or -1. In a `u` regex a well-formed pair
// is one code point, so only a lone half matches.
export function stringCheck(value, max) {
  if (typeof value !== "string") return -2;
  if (value.length > max) return -3;
  if (typeof value.isWellFormed === "function" && value.isWellFormed()) return -1;
  const found = /\p{Cs}/u.exec(value);
  return found ? found.index : -1;
}

// Stored runs as the API shows them: new objects with the public fields
// only (deleting the stored-only ones instead sends the engines' objects
// into a slow mode, 10-20% of a listRuns in Firefox), `null` for absent
// optional fields, newest first.
export function publicRuns(records) {
  const n = records.length;
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = records[n - 1 - i];
    out[i] = {
      id: r.id,
      goal: r.goal,
      graphJson: r.graphJson ?? null,
      status: r.status,
      hitlMode: r.hitlMode,
      conversationId: r.conversationId ?? null,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    };
  }
  return out;
}

// ---- Watchers (src/indexed_db/watch.rs, src/js.rs)

// Watchers of a store: `watchEvents` follows one run's log, `watchRuns` the
// list of runs. Both wake on change notices: posted by every IndexedDB store
// of the database on a BroadcastChannel (so from other tabs and workers, and
// from this store, whose notices reach the watchers' own channel objects),
// or, for an in-memory store, on the store's own event hub. A notice only
// says what changed; a watcher reads the events from the store, so a late
// notice can delay an event but never duplicate one or show an uncommitted
// one.

/** Reports an error without throwing it (a page-level error event). */
function report(error) {
  if (typeof reportError === "function") reportError(error);
  else console.error(error);
}

/** Calls `callback(value)`; an exception is reported, not thrown. */
function deliver(callback, value) {
  try {
    callback(value);
  } catch (error) {
    report(error);
  }
}

/**
 * Subscribes `onNotice` to the store's hub (an in-memory store) or else to
 * the channel of the database `feed` posts on (a feed of its own: see
 * openChannel); with neither, no notice ever comes.
 */
function listen(feed, hub, onNotice) {
  if (hub === undefined) {
    if (!feed) return () => {};
    let channel;
    try {
      channel = new BroadcastChannel(`council-idb:${feed.db}`);
    } catch {
      // No BroadcastChannel here, or it refused to open: the stores cannot
      // open theirs either (feed.rs), so no notice would ever come.
      return () => {};
    }
    channel.onmessage = (message) => onNotice(message.data);
    return () => channel.close();
  }
  const handler = (event) => onNotice(event.detail);
  hub.addEventListener("notice", handler);
  return () => hub.removeEventListener("notice", handler);
}

/**
 * Calls `onNotice(notice)` for each notice until stopped (by `w.stop()` or
 * `signal`); returns `w`, with `w.stopped` telling whether it is.
 */
function watch(feed, hub, signal, onNotice) {
  let unlisten = () => {};
  const w = { stopped: false };
  w.stop = () => {
    if (w.stopped) return;
    w.stopped = true;
    unlisten();
    signal?.removeEventListener("abort", w.stop);
    feed?.watches.delete(w);
  };
  // A store closed already has ended its watches: so is this one.
  if (signal?.aborted || feed?.ended) {
    w.stopped = true;
    return w;
  }
  signal?.addEventListener("abort", w.stop);
  feed?.watches.add(w);
  unlisten = listen(feed, hub, (notice) => {
    if (!w.stopped && notice) onNotice(notice);
  });
  return w;
}

export function newHub() {
  return new EventTarget();
}

// What an in-memory store's `read(from)` resolves to (see `tail_reader` in
// src/js.rs): `{ run: { rewinds }, events }`, or `{ events: [] }` for an
// unknown run (`rewinds` undefined).
export function memoryTail(rewinds, events) {
  return rewinds === undefined ? { events: [] } : { run: { rewinds }, events };
}

// One truncation in a run's `rewinds`.
export function rewind(afterWave, nextSeq) {
  return { afterWave, nextSeq };
}

// An in-memory store's notice to its watchers, as `noticeOf` makes it.
export function notifyHub(hub, kind, runId, a, b) {
  hub.dispatchEvent(new CustomEvent("notice", { detail: noticeOf(kind, runId, a, b) }));
}

/**
 * Follows one run: `onBatch` receives arrays of events in seq order (each
 * event once), `{ rewound: { afterWave, nextSeq } }` when the run was
 * truncated (drop your events with `waveIndex > afterWave` or
 * `seq >= nextSeq`; what follows starts at `nextSeq`), and `{ deleted: true }`
 * when the run is gone (or never existed), after which the watch ends.
 * `read(from)` resolves to `{ run, events }`: the run's rewinds (or
 * undefined) and its events from seq `from` on, read together.
 */
export function watchEvents(read, feed, hub, runId, fromSeq, signal, onBatch) {
  let next = fromSeq;
  let seenRewinds = -1;
  let reading = false;
  let again = false;
  // A "deleted" notice for the run came: see below.
  let gone = false;
  let w;

  const pull = async () => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const { run, events } = await read(next);
        if (w.stopped) return;
        const rewinds = run?.rewinds ?? [];
        // A run of the same id created after the delete (an import that
        // restores it, say) is another log: read alone, it passed for the
        // watched one, whose events stayed shown and whose end never came.
        // The delete's notice says so, and so do fewer rewinds than seen.
        if (run === undefined || gone || rewinds.length < seenRewinds) {
          w.stop();
          deliver(onBatch, { deleted: true });
          return;
        }
        if (seenRewinds < 0) {
          // Rewinds before the watch began are history, not news.
          seenRewinds = rewinds.length;
        } else if (rewinds.length > seenRewinds) {
          const fresh = rewinds.slice(seenRewinds);
          seenRewinds = rewinds.length;
          const afterWave = Math.min(...fresh.map((r) => r.afterWave));
          const nextSeq = Math.min(next, ...fresh.map((r) => r.nextSeq));
          next = Math.max(nextSeq, fromSeq);
          deliver(onBatch, { rewound: { afterWave, nextSeq } });
          // Events from the new position on are read again.
          again = true;
          continue;
        }
        if (events.length > 0) {
          next = events[events.length - 1].seq + 1;
          deliver(onBatch, events);
        }
      } while (again && !w.stopped);
    } catch (error) {
      // The store failed: report it (unless the watch ended meanwhile, as
      // when its store closed); the next notice retries.
      if (!w.stopped) report(error);
    } finally {
      reading = false;
    }
  };

  w = watch(feed, hub, signal, (notice) => {
    if (notice.runId !== runId) return;
    if (notice.kind === "deleted") gone = true;
    pull();
  });
  if (!w.stopped) pull();
  return w.stop;
}

/**
 * Follows every run of the database: `onChange` receives its notices
 * ("created", "status", "graph", "appended", "rewound", "deleted", "owner";
 * with their detail: see `noticeOf`).
 */
export function watchRuns(feed, hub, signal, onChange) {
  return watch(feed, hub, signal, (notice) => {
    if (typeof notice.kind === "string") deliver(onChange, { ...notice });
  }).stop;
}

// ---- Export and import (src/js/transfer.rs)

// Export and import streams of `CouncilStore`: the NDJSON bytes out, and the
// lines in. The lines are written and read by Rust (src/transfer.rs); this
// module only moves bytes and splits lines, so a file of any size passes
// through a line at a time.

/** The longest line import reads, in UTF-16 code units (an event of the
 * largest size allowed, escaped, fits with room to spare). */
const MAX_LINE = 128 * 1024 * 1024;

/** A `ReadableStream` of UTF-8 bytes; `next()` resolves to the next chunk
 * of text, or `undefined` at the end. (The default strategy queues one chunk
 * ahead: `highWaterMark` 1.) */
export function exportStream(next) {
  const encoder = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const chunk = await next();
      if (chunk === undefined) controller.close();
      else controller.enqueue(encoder.encode(chunk));
    },
  });
}

/** The chunks of `input`: a string, a Blob, bytes, or a ReadableStream of
 * bytes or strings. */
async function* chunks(input) {
  if (typeof input === "string") {
    yield input;
    return;
  }
  let stream;
  // A Proxy whose traps throw, or a Blob whose `stream` does, is refused as
  // any other input that is none of these.
  try {
    if (typeof Blob === "function" && input instanceof Blob) stream = input.stream();
    else if (typeof ReadableStream === "function" && input instanceof ReadableStream) stream = input;
    else if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
      stream = new Blob([input]).stream();
    }
  } catch {}
  if (!stream) {
    throw councilStoreError(
      `importRuns takes a string, a Blob, bytes or a ReadableStream, got ${input === null ? "null" : typeof input}`,
      "Constraint",
    );
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const decode = (bytes, options) => {
    try {
      return decoder.decode(bytes, options);
    } catch {
      throw councilStoreError("importRuns: the input is not valid UTF-8", "Serialization");
    }
  };
  let reader;
  try {
    reader = stream.getReader();
  } catch {
    throw councilStoreError("importRuns: the stream is locked (already being read)", "Constraint");
  }
  try {
    for (;;) {
      let got;
      try {
        got = await reader.read();
      } catch (error) {
        // The caller's stream (or Blob) failed: a typed error like every
        // other of importRuns, the stream's own as its cause.
        const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        const failed = councilStoreError(`importRuns: the input could not be read: ${text}`, "Serialization");
        failed.cause = error;
        throw failed;
      }
      const { value, done } = got;
      if (done) break;
      if (typeof value === "string") yield value;
      else if (value instanceof Uint8Array) yield decode(value, { stream: true });
      else throw councilStoreError("importRuns: the stream gave a chunk that is neither bytes nor a string", "Constraint");
    }
    yield decode();
  } finally {
    reader.releaseLock();
  }
}

/** The lines of `input`, without their `\n`; a last line without one too. */
async function* lines(input) {
  // The start of a line that a chunk cut, joined to the rest of it when its
  // `\n` comes (engines concatenate strings as ropes).
  let rest = "";
  let count = 0;
  for await (const chunk of chunks(input)) {
    let start = 0;
    for (let end; (end = chunk.indexOf("\n", start)) >= 0; start = end + 1) {
      yield rest + chunk.slice(start, end);
      count += 1;
      rest = "";
    }
    rest += chunk.slice(start);
    if (rest.length > MAX_LINE) {
      throw councilStoreError(`line ${count + 1}: longer than ${MAX_LINE} characters`, "Serialization");
    }
  }
  if (rest) yield rest;
}

/** What importRuns resolves to (see `Importer::counts` in src/js/transfer.rs). */
export function importCounts(runs, events) {
  return { runs, events };
}

/** Feeds the lines of `input` to `importer` (see src/js/transfer.rs): each
 * line in turn, waiting while it writes; on any failure it undoes what it
 * can of the run it was importing and the failure is thrown.
 * `importer(0, line)` reads a line, `importer(0)` ends the input (the
 * counts, or a rejection), `importer(1)` abandons the import. */
export async function importLines(input, importer) {
  try {
    for await (const line of lines(input)) {
      const writing = importer(0, line);
      if (writing !== undefined) await writing;
    }
    // The end of the input: the counts, or a rejection.
    return await importer(0);
  } catch (error) {
    await importer(1).catch(() => {});
    throw error;
  }
}

// ---- Argument checks (src/js.rs)

// The first own enumerable key of `o` that `known` does not hold, or
// undefined: one call instead of every key copied into wasm. `null` when
// the keys cannot be listed (a Proxy whose trap throws), 0 when `o` is not
// an object (`typeof` "object", so a function is not one) or is an array.
export function unknownKey(o, known) {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return 0;
  try {
    return Object.keys(o).find((k) => !known.includes(k));
  } catch {
    return null;
  }
}

// ---- Reads of one request (src/indexed_db/mod.rs, read_now)

// Reads in a readonly transaction made now, so it comes after every
// transaction made before it, as a queued read would. `shape` 0: run `arg`
// (or undefined); 1: runs, newest first, of status `arg` unless it is null;
// 2: the events of run `arg`. The records are
// checked and handed over as IndexedDB made them. A malformed record goes
// to `slow(shape, arg, found)`, which names what is wrong in the records
// found; a request error to `slow(shape, arg)`, the queued read of the same,
// which retries on a lost connection; its promise settles this one. (When
// the transaction cannot start, undefined: the caller queues the read.)
export function readNow(db, shape, arg, statuses, modes, slow) {
  let tx;
  let request;
  try {
    const store = shape === 2 ? "events" : "runs";
    tx = db.transaction(store, "readonly");
    let source = tx.objectStore(store);
    if (shape === 0) {
      request = source.get(arg);
    } else {
      if (shape === 1) source = source.index(arg == null ? "by_created" : "by_status");
      // Every key [arg, ...]: arrays sort after strings.
      request = source.getAll(arg == null ? undefined : IDBKeyRange.bound([arg], [arg, []]));
    }
  } catch {
    return undefined;
  }
  return new Promise((resolve) => {
    request.onsuccess = () => {
      // The read is done: end its transaction now rather than let it
      // commit later, so a store closed right after it closes at once
      // (WebKit leaves a connection open for good when its worker is
      // terminated while the close waits for a transaction).
      try {
        tx.abort();
      } catch {
        // Ended already.
      }
      // A malformed record goes to Rust as found here, in the read's place
      // in call order (a read queued now would see the calls made since).
      const found = request.result;
      if (shape === 2) {
        resolve(firstMalformedEvent(found) < 0 ? found : slow(shape, arg, found));
      } else if (shape === 1) {
        resolve(firstMalformedRun(found, statuses, modes) < 0 ? publicRuns(found) : slow(shape, arg, found));
      } else if (found === undefined) {
        resolve(undefined);
      } else {
        resolve(firstMalformedRun([found], statuses, modes) < 0 ? publicRuns([found])[0] : slow(shape, arg, found));
      }
    };
    request.onerror = (event) => {
      event.preventDefault();
      resolve(slow(shape, arg));
    };
  });
}

// A plain copy of the array argument `a`, or null when its items cannot be
// read (a Proxy whose trap throws): Rust then walks the copy, which cannot
// throw.
export function arrayItems(a) {
  try {
    return Array.from(a);
  } catch {
    return null;
  }
}
