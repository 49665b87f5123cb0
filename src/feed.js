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

/** Subscribes `onNotice` to the database's channel or the store's hub. */
function listen(channelName, hub, onNotice) {
  if (channelName !== undefined) {
    let channel;
    try {
      channel = new BroadcastChannel(`council-idb:${channelName}`);
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

export function newHub() {
  return new EventTarget();
}

export function notifyHub(hub, notice) {
  hub.dispatchEvent(new CustomEvent("notice", { detail: notice }));
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
export function watchEvents(read, channelName, hub, runId, fromSeq, signal, onBatch) {
  let next = fromSeq;
  let seenRewinds = -1;
  let stopped = false;
  let reading = false;
  let again = false;

  let unlisten = () => {};
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unlisten();
    signal?.removeEventListener("abort", stop);
  };

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
        if (stopped) return;
        if (run === undefined) {
          stop();
          deliver(onBatch, { deleted: true });
          return;
        }
        const rewinds = run.rewinds ?? [];
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
        if (events.length > 0 && !stopped) {
          next = events[events.length - 1].seq + 1;
          deliver(onBatch, events);
        }
      } while (again && !stopped);
    } catch (error) {
      // The store failed (closed, say): report it; the next notice retries.
      report(error);
    } finally {
      reading = false;
    }
  };

  if (signal?.aborted) return stop;
  signal?.addEventListener("abort", stop);
  unlisten = listen(channelName, hub, (notice) => {
    if (!stopped && notice && notice.runId === runId) pull();
  });
  pull();
  return stop;
}

/**
 * Follows every run of the database: `onChange` receives
 * `{ kind, runId, status? }` notices ("created", "status", "graph",
 * "appended", "rewound", "deleted", "owner").
 */
export function watchRuns(channelName, hub, signal, onChange) {
  let stopped = false;
  let unlisten = () => {};
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unlisten();
    signal?.removeEventListener("abort", stop);
  };
  if (signal?.aborted) return stop;
  signal?.addEventListener("abort", stop);
  unlisten = listen(channelName, hub, (notice) => {
    if (!stopped && notice && typeof notice.kind === "string") deliver(onChange, { ...notice });
  });
  return stop;
}
