// Compiled with `tsc --noEmit` by types.test.mjs: the package's declarations
// give exact types, so right use compiles and each wrong use below is an error.
import {
  CouncilStore,
  type CouncilRun,
  type CouncilRunEvent,
  type CouncilRunStatus,
  type CouncilStoreError,
  type HitlMode,
} from "council-idb";

export async function usage(): Promise<void> {
  const store: CouncilStore = await CouncilStore.open();
  const named: CouncilStore = await CouncilStore.open("my-runs");
  const memory: CouncilStore = CouncilStore.inMemory();
  const run: CouncilRun = await store.createRun({ goal: "g", hitlMode: "approve_plan" });
  const status: CouncilRunStatus = run.status;
  const mode: HitlMode = run.hitlMode;
  const graph: string | null = run.graphJson;
  const conversation: number | null = run.conversationId;
  await store.updateRunStatus(run.id, "awaiting_approval");
  await store.updateGraph(run.id, "{}");
  await store.appendEvent({ runId: run.id, seq: 0, waveIndex: 0, eventJson: "{}" });
  await store.appendEvents([{ runId: run.id, seq: 1, waveIndex: 0, eventJson: "{}", createdAt: "2026-01-01T00:00:00Z" }]);
  const maybe: CouncilRun | undefined = await store.getRun(run.id);
  const all: CouncilRun[] = await store.listRuns();
  const some: CouncilRun[] = await store.listRuns("failed");
  const events: CouncilRunEvent[] = await store.listEvents(run.id);
  const seq: number = events[0].seq;
  const json: string = events[0].eventJson;
  const count: number = await store.markInterruptedRuns();
  await store.truncateEventsAfterWave(run.id, 1);
  const next: number = await store.nextSeq(run.id);
  const given: number = await store.appendNext(run.id, { waveIndex: 1, eventJson: "{}" });
  await store.deleteRun(run.id);
  const claimed: boolean = await store.claimRun(run.id);
  await store.releaseRun(run.id);
  const elsewhere: string[] = await store.runsOwnedElsewhere();
  store.close();
  named.close();
  await CouncilStore.deleteDatabase("my-runs");
  try {
    await memory.getRun("x");
  } catch (e) {
    const err = e as CouncilStoreError;
    const kind: "NotFound" | "AlreadyExists" | "Storage" | "Serialization" | "Constraint" | "Conflict" = err.kind;
    console.log(kind, err.message);
  }
  console.log(status, mode, graph, conversation, maybe, all, some, seq, json, count, claimed, elsewhere, next, given);

  // @ts-expect-error goal must be a string
  await store.createRun({ goal: 1 });
  // @ts-expect-error unknown hitl mode
  await store.createRun({ goal: "g", hitlMode: "sometimes" });
  // @ts-expect-error unknown status
  await store.updateRunStatus(run.id, "done");
  // @ts-expect-error eventJson is a string, not an object
  await store.appendEvent({ runId: run.id, seq: 0, waveIndex: 0, eventJson: {} });
  // @ts-expect-error seq is required
  await store.appendEvent({ runId: run.id, waveIndex: 0, eventJson: "{}" });
  // @ts-expect-error getRun may resolve to undefined
  const sure: CouncilRun = await store.getRun(run.id);
  // @ts-expect-error events are not runs
  const wrong: CouncilRun[] = await store.listEvents(run.id);
  // @ts-expect-error appendNext takes no seq
  await store.appendNext(run.id, { seq: 1, waveIndex: 1, eventJson: "{}" });
  // @ts-expect-error claimRun resolves to a boolean
  const notIds: string[] = await store.claimRun(run.id);
  console.log(sure, wrong, notIds);
}
