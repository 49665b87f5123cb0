// What the writing page acknowledged, as Node received it, and the check of a
// database read back after the crash against it.
//
// The page reports positions only; content.mjs gives the one content each
// position can hold. An acknowledgement the page had but had not yet sent
// when the browser died is simply not here: nothing is claimed about it.
import { RUNS, eventJson, goal, graphJson, runId, statusPlan, waveOf } from "./content.mjs";

export class Ledger {
  constructor(db) {
    this.db = db;
    this.runs = RUNS;
    /** Resolved promises reported (one per call, a batch counts once). */
    this.acks = 0;
    /** Events whose write was acknowledged. */
    this.ackedEvents = 0;
    this.createdRuns = new Set();
    /** run -> Set of acknowledged seqs */
    this.events = new Map();
    /** batch id -> { ranges: [[run, from, to], ...], big, acked } */
    this.batches = new Map();
    /** run -> highest acknowledged status call; run -> highest graph call */
    this.status = new Map();
    this.graph = new Map();
    this.errors = [];
    /** "run:seq" of the events the check pages appended after a crash. */
    this.appendedAfterCrash = new Set();
  }

  /** Takes one message of the page (an array of entries, see page.mjs). */
  receive(entries) {
    for (const entry of entries) {
      const [kind, ...rest] = entry;
      switch (kind) {
        case "run":
          this.acks++;
          this.createdRuns.add(rest[0]);
          break;
        case "event":
        case "next":
          this.acks++;
          this.ackEvent(rest[0], rest[1]);
          break;
        case "issued": {
          const [id, ranges, big] = rest;
          const batch = this.batches.get(id) ?? { ranges, acked: false };
          batch.big = big === "big";
          this.batches.set(id, batch);
          break;
        }
        case "batch": {
          this.acks++;
          const [id, ranges] = rest;
          const batch = this.batches.get(id) ?? { ranges, big: false };
          batch.acked = true;
          this.batches.set(id, batch);
          for (const [run, from, to] of ranges) for (let seq = from; seq <= to; seq++) this.ackEvent(run, seq);
          break;
        }
        case "status":
          this.acks++;
          this.status.set(rest[0], Math.max(rest[1], this.status.get(rest[0]) ?? -1));
          break;
        case "graph":
          this.acks++;
          this.graph.set(rest[0], Math.max(rest[1], this.graph.get(rest[0]) ?? -1));
          break;
        case "error":
          this.errors.push(rest[0]);
          break;
        default:
          this.errors.push(`unknown acknowledgement ${JSON.stringify(entry)}`);
      }
    }
  }

  ackEvent(run, seq) {
    let seqs = this.events.get(run);
    if (!seqs) this.events.set(run, (seqs = new Set()));
    if (!seqs.has(seq)) {
      seqs.add(seq);
      this.ackedEvents++;
    }
  }

  /** The big batch, if the page issued one: its ranges and whether it was acknowledged. */
  bigBatch() {
    return [...this.batches.values()].find((b) => b.big);
  }

  /**
   * Checks `report` (what the check page read from the database after the
   * crash, see page.mjs) against what was acknowledged. Resolves to the list
   * of problems (empty when all is well) and counts. Afterwards the events
   * the check page appended count as acknowledged too, so a later check of
   * the same database expects them.
   */
  verify(report) {
    const problems = [];
    const runsById = new Map(report.runs.map((run) => [run.id, run]));
    const stored = new Map(); // run -> Map seq -> [waveIndex, eventJson]
    for (let run = 0; run < this.runs; run++) stored.set(run, new Map());
    let found = 0;
    for (const [id, events] of Object.entries(report.events)) {
      const run = Number(id.replace(/^crash-run-/, ""));
      if (runId(run) !== id || !stored.has(run)) {
        problems.push(`a run the writer never created: ${id}`);
        continue;
      }
      for (const [seq, wave, json] of events) {
        found++;
        stored.get(run).set(seq, [wave, json]);
        // Every stored event, acknowledged or not, is exactly what was written there.
        if (json !== eventJson(run, seq) || wave !== waveOf(seq)) {
          problems.push(`run ${run} seq ${seq}: stored event differs from the one written (wave ${wave}, ${json.length} chars: ${json.slice(0, 80)})`);
        }
      }
    }

    for (const run of this.createdRuns) {
      const record = runsById.get(runId(run));
      if (!record) problems.push(`run ${run}: createRun was acknowledged, the run is missing`);
      else if (record.goal !== goal(run)) problems.push(`run ${run}: goal differs: ${JSON.stringify(record.goal)}`);
    }

    for (let run = 0; run < this.runs; run++) {
      const acked = this.events.get(run) ?? new Set();
      const seqs = stored.get(run);
      const missing = [...acked].filter((seq) => !seqs.has(seq)).sort((a, b) => a - b);
      if (missing.length) {
        problems.push(`run ${run}: ${missing.length} acknowledged events missing (seqs ${abbreviate(missing)})`);
      }
      const maxAcked = highest(acked);
      const gaps = [];
      for (let seq = 0; seq <= maxAcked; seq++) if (!seqs.has(seq)) gaps.push(seq);
      if (gaps.length) problems.push(`run ${run}: gap below the highest acknowledged seq ${maxAcked}: ${abbreviate(gaps)} absent`);
      // Seqs of a run are written in increasing order, each call after the
      // last, and a crash keeps a prefix of the commits: so the stored seqs
      // are 0..=last with none missing, acknowledged or not.
      const maxStored = highest(seqs.keys());
      if (seqs.size !== maxStored + 1) {
        const holes = [];
        for (let seq = 0; seq <= maxStored; seq++) if (!seqs.has(seq)) holes.push(seq);
        problems.push(`run ${run}: stored seqs are not a prefix: ${abbreviate(holes)} absent below ${maxStored}`);
      }

      const record = runsById.get(runId(run));
      if (record) {
        // The status is the acknowledged one or one a later call wrote.
        const plan = statusPlan(run);
        const call = this.status.get(run);
        const allowed = call === undefined ? new Set(["running", ...plan]) : new Set(plan.slice(call));
        if (!allowed.has(record.status)) {
          problems.push(`run ${run}: status ${record.status}, but call ${call} (${plan[call]}) was acknowledged`);
        }
        const graphCall = this.graph.get(run);
        if (record.graphJson === null || record.graphJson === undefined) {
          if (graphCall !== undefined) problems.push(`run ${run}: graph update ${graphCall} acknowledged, no graph stored`);
        } else {
          const storedCall = JSON.parse(record.graphJson).call;
          if (record.graphJson !== graphJson(run, storedCall)) problems.push(`run ${run}: stored graph differs from every graph written`);
          else if (graphCall !== undefined && storedCall < graphCall) {
            problems.push(`run ${run}: graph update ${graphCall} acknowledged, update ${storedCall} stored`);
          }
        }
      } else if (this.events.has(run)) {
        problems.push(`run ${run}: events acknowledged, run record missing`);
      }
    }

    // Every batch reported as issued is stored whole or not at all (an
    // event appended after a crash may have taken a seq of a batch that was
    // lost, unacknowledged).
    let bigFound = null;
    for (const [id, batch] of this.batches) {
      let present = 0;
      let total = 0;
      for (const [run, from, to] of batch.ranges) {
        for (let seq = from; seq <= to; seq++) {
          if (this.appendedAfterCrash.has(`${run}:${seq}`)) continue;
          total++;
          if (stored.get(run).has(seq)) present++;
        }
      }
      if (present !== 0 && present !== total) problems.push(`batch ${id}: ${present} of its ${total} events stored`);
      if (batch.big) bigFound = present === total ? "stored whole" : present === 0 ? "absent" : "split";
    }

    // The store worked after the crash: one appendNext per run, read back.
    for (const { run, expected, seq, readBack } of report.appended) {
      if (seq !== expected) problems.push(`run ${run}: appendNext after the crash gave seq ${seq}, expected ${expected}`);
      else if (!readBack) problems.push(`run ${run}: the event appended after the crash did not read back`);
      else {
        this.ackEvent(run, seq);
        this.appendedAfterCrash.add(`${run}:${seq}`);
      }
    }
    if (this.createdRuns.size && report.appended.length < this.createdRuns.size) {
      problems.push(`appended after the crash to ${report.appended.length} runs, ${this.createdRuns.size} were acknowledged`);
    }

    for (const error of this.errors) problems.push(`the writing page: ${error}`);
    return { problems, found, bigBatch: bigFound };
  }
}

/** The highest of `numbers`, -1 for none. */
function highest(numbers) {
  let max = -1;
  for (const n of numbers) if (n > max) max = n;
  return max;
}

/** "1, 2, 3, ... (40 in all)" */
function abbreviate(list) {
  return list.length > 8 ? `${list.slice(0, 8).join(", ")}, ... (${list.length} in all)` : list.join(", ");
}
