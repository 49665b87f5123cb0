// A simulated council: a director plans a small task graph, workers "stream"
// text, and every step is persisted through the public CouncilStore API the
// way the orchestrator does it. No model, no network: text comes from a
// seeded generator, so the same goal always gives the same plan.
//
// Conventions (shared with the view in app.js):
// - wave 0 is the director's: plan_proposed, awaiting_approval (plan gate),
//   plan_approved / plan_rejected;
// - the graph's nodes sit in waves 1..graph.waves; every event about a node
//   carries that node's wave as its waveIndex;
// - council_complete is emitted at the last wave;
// - a run's graphJson holds the plan plus what is needed to resume it: which
//   nodes are complete (with their output) and which gates were approved.
//   It is written when the plan is proposed, after every approval and after
//   every node.

export const STATUSES = ["running", "awaiting_approval", "interrupted", "completed", "failed"];
export const HITL_MODES = ["none", "approve_plan", "approve_each_node", "approve_tools"];

const SPEEDS = {
  // [ms per text delta, ms the director "thinks", ms a tool call takes]
  fast: [1, 5, 3],
  normal: [55, 900, 500],
  slow: [220, 2500, 1500],
};

/** Reads `?speed=fast|normal|slow` and `?delay=<ms per delta>` from a URL. */
export function speedFromUrl(href) {
  const params = new URL(href).searchParams;
  const name = SPEEDS[params.get("speed")] ? params.get("speed") : "normal";
  let [delta, think, tool] = SPEEDS[name];
  const delay = Number(params.get("delay"));
  if (params.has("delay") && Number.isFinite(delay) && delay >= 0) {
    const scale = delta ? delay / delta : 1;
    [delta, think, tool] = [delay, think * scale, tool * scale];
  }
  return { name: params.has("delay") ? `${delay} ms` : name, delta, think, tool };
}

// ---------------------------------------------------------------- randomness

function hashString(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function rng(seedText) {
  let a = hashString(seedText) || 1;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (rand, list) => list[Math.floor(rand() * list.length)];

function pickDistinct(rand, list, n) {
  const pool = [...list];
  const out = [];
  while (out.length < n && pool.length) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]);
  return out;
}

// ------------------------------------------------------------------ planning

const ASPECTS = ["constraints", "prior art", "costs", "risks", "people involved", "timeline", "open questions"];
const ANALYSES = [
  ["Weigh the options", "compares the options against the constraints"],
  ["Estimate the effort", "sizes the work and its order"],
  ["Find the trade-offs", "names what each choice gives up"],
];
const CRITIQUES = [
  ["Red-team the analysis", "looks for the weakest assumption"],
  ["Check against the goal", "tests the draft against what was asked"],
];

/** Short form of a goal for use inside generated prose. */
export function topicOf(goal) {
  const flat = goal.replace(/\s+/g, " ").trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}…` : flat;
}

/**
 * The director's plan for a goal: 3 or 4 waves of 1 to 3 nodes, each node
 * depending on every node of the wave before.
 */
export function planGraph(goal) {
  const rand = rng(`plan:${goal}`);
  const waves = rand() < 0.5 ? 3 : 4;
  const nodes = [];
  const add = (wave, id, title, role, about, extra = {}) =>
    nodes.push({
      id,
      wave,
      title,
      role,
      about,
      deps: nodes.filter((n) => n.wave === wave - 1).map((n) => n.id),
      status: "pending",
      output: null,
      approved: false,
      ...extra,
    });

  const aspects = pickDistinct(rand, ASPECTS, 2 + Math.floor(rand() * 2));
  aspects.forEach((aspect, i) =>
    add(1, `research-${i + 1}`, `Research the ${aspect}`, "researcher", `gathers what is known about the ${aspect}`, {
      tool: { name: "web_search", args: { query: `${topicOf(goal)} ${aspect}` }, approved: false },
    }),
  );
  pickDistinct(rand, ANALYSES, 1 + Math.floor(rand() * 2)).forEach(([title, about], i) =>
    add(2, `analyse-${i + 1}`, title, "analyst", about),
  );
  if (waves === 4) {
    pickDistinct(rand, CRITIQUES, 1 + Math.floor(rand() * 2)).forEach(([title, about], i) =>
      add(3, `critique-${i + 1}`, title, "critic", about),
    );
  }
  add(waves, "answer", "Write the answer", "writer", "writes the final answer from everything above");
  return { version: 1, waves, planApproved: false, nodes };
}

// ------------------------------------------------------------- worker prose

const FINDINGS = [
  "the simplest option covers most of the need",
  "timing matters more than budget here",
  "two constraints pull in opposite directions",
  "earlier attempts stalled on unclear ownership",
  "a small pilot would take most of the risk out",
  "the data is thin but points one way",
  "most of the cost sits in the first week",
  "the people affected care more about clarity than speed",
  "there is a cheap fallback if the main path fails",
  "one dependency is outside our control",
  "the hard part is deciding, not doing",
  "a fixed deadline makes the order of work obvious",
];
const CONNECTIVES = ["First,", "Second,", "Also,", "Notably,", "On the other hand,", "Finally,"];

function nodeText(goal, node, graph) {
  const rand = rng(`text:${goal}:${node.id}`);
  const topic = topicOf(goal);
  const findings = pickDistinct(rand, FINDINGS, 3);
  const sentences = [];
  switch (node.role) {
    case "researcher":
      sentences.push(`Looking into the ${node.title.replace(/^Research the /, "")} of “${topic}”.`);
      findings.forEach((f, i) => sentences.push(`${CONNECTIVES[i]} ${f}.`));
      sentences.push(`Confidence: ${pick(rand, ["high", "medium", "moderate"])}.`);
      break;
    case "analyst": {
      const inputs = graph.nodes.filter((n) => node.deps.includes(n.id)).map((n) => n.title.toLowerCase());
      sentences.push(`Reading ${inputs.length} reports (${inputs.join("; ")}).`);
      sentences.push(`They agree that ${findings[0]}, and that ${findings[1]}.`);
      sentences.push(`The one real tension: ${findings[2]}.`);
      sentences.push(`Recommendation: start small, measure, then commit.`);
      break;
    }
    case "critic":
      sentences.push(`Pushing back on the analysis.`);
      sentences.push(`It assumes ${findings[0]}; that holds only if ${findings[1]}.`);
      sentences.push(`Worth a second look: ${findings[2]}.`);
      sentences.push(`Verdict: ${pick(rand, ["sound, with one caveat", "mostly right", "right direction, wrong order"])}.`);
      break;
    default:
      sentences.push(`Answer for “${topic}”:`);
      sentences.push(`Do the small version first, because ${findings[0]}.`);
      sentences.push(`Then decide on the rest, knowing that ${findings[1]}.`);
      sentences.push(`Keep an eye on one thing: ${findings[2]}.`);
      sentences.push(`(${graph.nodes.length - 1} workers contributed.)`);
  }
  return sentences.join(" ");
}

/** Splits text into the small pieces a streaming model would send. */
function chunks(text, seed) {
  const rand = rng(seed);
  const words = text.split(/(?<= )/);
  const out = [];
  for (let i = 0; i < words.length; ) {
    const n = 1 + Math.floor(rand() * 3);
    out.push(words.slice(i, i + n).join(""));
    i += n;
  }
  return out;
}

// -------------------------------------------------------------------- gates

/**
 * The approval gate a run stops at next, or null. The executor and the view
 * both ask this, so they always agree on what "Approve" approves.
 */
export function nextGate(graph, hitlMode) {
  if (!graph) return null;
  if (hitlMode === "approve_plan" && !graph.planApproved) return { gate: "plan", wave: 0 };
  const wave = firstIncompleteWave(graph);
  if (wave === null) return null;
  const todo = graph.nodes.filter((n) => n.wave === wave && n.status !== "complete");
  if (hitlMode === "approve_each_node") {
    const node = todo.find((n) => !n.approved);
    if (node) return { gate: "node", wave, nodeId: node.id };
  }
  if (hitlMode === "approve_tools") {
    const node = todo.find((n) => n.tool && !n.tool.approved);
    if (node) return { gate: "tool", wave, nodeId: node.id, tool: node.tool.name };
  }
  return null;
}

export function firstIncompleteWave(graph) {
  const waves = graph.nodes.filter((n) => n.status !== "complete").map((n) => n.wave);
  return waves.length ? Math.min(...waves) : null;
}

export function parseGraph(graphJson) {
  if (!graphJson) return null;
  try {
    const graph = JSON.parse(graphJson);
    return graph && Array.isArray(graph.nodes) ? graph : null;
  } catch {
    return null;
  }
}

// ----------------------------------------------------------------- executor

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Thrown to stop a session at a gate; not an error. */
class Paused {}

/**
 * One run's executor. Its whole state comes from the store (run, graph), so a
 * session made after a reload carries on where the last one stopped. It
 * numbers nothing: every event goes out with `appendNext`, un-awaited, and
 * the store gives it the seq after the last one of the run (group commit
 * batches what is fired meanwhile). Methods resolve when the run stops:
 * completed, failed, or at a gate.
 */
export class RunSession {
  /**
   * @param {import("/pkg/web/council_idb.js").CouncilStore} store
   * @param {string} runId
   * @param {{speed: {delta:number, think:number, tool:number},
   *          onError?: (err: unknown, context: string) => void}} options
   */
  constructor(store, runId, { speed, onError = () => {} }) {
    this.store = store;
    this.runId = runId;
    this.speed = speed;
    this.onError = onError;
    this.run = null;
    this.graph = null;
    this.inFlight = []; // appends fired and not yet awaited by settle()
  }

  /** Creates the run (status "running") and returns its session, not started. */
  static async create(store, { goal, hitlMode }, options) {
    const run = await store.createRun({ goal, hitlMode });
    const session = new RunSession(store, run.id, options);
    session.run = run;
    return session;
  }

  /** Reads the run and its graph. */
  async load() {
    const run = await this.store.getRun(this.runId);
    if (!run) throw demoError(`run ${this.runId} is not in the store`);
    this.run = run;
    this.graph = parseGraph(run.graphJson);
  }

  // ------------------------------------------------------- persistence

  /**
   * Appends an event, not awaited: calls on one store take effect in the
   * order they are made, so whatever is called after (a graph update, a
   * status) lands after it. The orchestrator's rule: a failed append is
   * reported and the run goes on.
   */
  emit(waveIndex, event) {
    const landed = this.store
      .appendNext(this.runId, { waveIndex, eventJson: JSON.stringify(event) })
      .then(
        () => {},
        (err) => this.onError(err, `appending ${event.type ?? "an event"} (wave ${waveIndex})`),
      );
    this.inFlight.push(landed);
  }

  /** Resolves once every event emitted so far has landed (or failed). */
  async settle() {
    while (this.inFlight.length) await Promise.all(this.inFlight.splice(0));
  }

  async saveGraph() {
    await this.store.updateGraph(this.runId, JSON.stringify(this.graph));
  }

  async setStatus(status) {
    // The status is written after the events either way (call order); this
    // waits so that append failures are reported before the run stops.
    await this.settle();
    await this.store.updateRunStatus(this.runId, status);
    this.run.status = status;
  }

  // ------------------------------------------------------- entry points

  /** Runs a new or reloaded run from wherever its state says. */
  async start() {
    return this.guard("running the council", async () => {
      if (!this.run) await this.load(); // a session from create() has its run
      await this.execute();
    });
  }

  /** Approves (or rejects) the gate the run is waiting at, then carries on. */
  async decide(approve) {
    return this.guard(approve ? "approving" : "rejecting", async () => {
      await this.load();
      if (this.run.status !== "awaiting_approval") throw demoError(`run is ${this.run.status}, not awaiting approval`);
      const gate = nextGate(this.graph, this.run.hitlMode);
      if (!gate) throw demoError("nothing to approve");
      const node = gate.nodeId && this.graph.nodes.find((n) => n.id === gate.nodeId);
      const about = gate.nodeId ? { nodeId: gate.nodeId } : {};
      if (!approve) {
        this.emit(gate.wave, { type: `${gate.gate}_rejected`, ...about });
        await this.setStatus("failed");
        return;
      }
      if (gate.gate === "plan") this.graph.planApproved = true;
      if (gate.gate === "node") node.approved = true;
      if (gate.gate === "tool") node.tool.approved = true;
      this.emit(gate.wave, {
        type: `${gate.gate}_approved`,
        ...about,
        ...(gate.tool ? { tool: gate.tool } : {}),
      });
      await this.saveGraph();
      await this.setStatus("running");
      await this.execute();
    });
  }

  /** Picks up an interrupted run: nodes not complete in the graph run again. */
  async resume() {
    return this.guard("resuming", async () => {
      await this.load();
      await this.setStatus("running");
      const wave =
        this.graph && this.graph.planApproved ? (firstIncompleteWave(this.graph) ?? this.graph.waves) : 0;
      this.emit(wave, { type: "run_resumed", fromWave: wave });
      await this.execute();
    });
  }

  /**
   * Rewinds to wave `wave` the orchestrator's way: read the log to find the
   * nodes done after that wave, drop the later events, reset those nodes in
   * the graph, set the run running, and execute again. The store numbers
   * the new events after the last surviving one.
   */
  async rewind(wave) {
    return this.guard(`rewinding to wave ${wave}`, async () => {
      await this.load();
      // Running first: this tab owns the run before it changes anything (a
      // run another tab executes rejects with Conflict here).
      await this.setStatus("running");
      const events = await this.store.listEvents(this.runId);
      const reset = new Set();
      for (const e of events) {
        if (e.waveIndex <= wave) continue;
        const event = safeParse(e.eventJson);
        if (event?.type === "node_complete" && event.nodeId) reset.add(event.nodeId);
      }
      await this.store.truncateEventsAfterWave(this.runId, wave);
      if (this.graph) {
        for (const node of this.graph.nodes) {
          // Nodes the log says finished after the wave, and (should the log
          // have lost an event) any node of a later wave.
          if (!reset.has(node.id) && node.wave <= wave) continue;
          if (node.wave > wave) reset.add(node.id);
          node.status = "pending";
          node.output = null;
          node.approved = false;
          if (node.tool) node.tool.approved = false;
        }
        await this.saveGraph();
      }
      this.emit(wave, { type: "run_rewound", toWave: wave, resetNodes: [...reset].sort() });
      await this.execute();
    });
  }

  // ------------------------------------------------------- the loop

  async guard(context, work) {
    try {
      await work();
    } catch (err) {
      if (err instanceof Paused) return;
      this.onError(err, `${context} (run ${this.runId.slice(0, 8)})`);
      // A Conflict means another tab executes the run: it is not ours to fail.
      if (err?.kind === "Conflict") return;
      try {
        await this.settle();
        await this.store.updateRunStatus(this.runId, "failed");
      } catch (err2) {
        this.onError(err2, "marking the run failed");
      }
    } finally {
      await this.settle();
    }
  }

  async stopAt(gate) {
    this.emit(gate.wave, {
      type: "awaiting_approval",
      gate: gate.gate,
      ...(gate.nodeId ? { nodeId: gate.nodeId } : {}),
      ...(gate.tool ? { tool: gate.tool } : {}),
    });
    await this.setStatus("awaiting_approval");
    throw new Paused();
  }

  async execute() {
    const { goal, hitlMode } = this.run;
    if (!this.graph) {
      await sleep(this.speed.think);
      this.graph = planGraph(goal);
      this.emit(0, {
        type: "plan_proposed",
        waves: this.graph.waves,
        nodes: this.graph.nodes.map(({ id, wave, title, role, deps }) => ({ id, wave, title, role, deps })),
      });
      await this.saveGraph();
    }
    if (!this.graph.planApproved) {
      const gate = nextGate(this.graph, hitlMode);
      if (gate?.gate === "plan") await this.stopAt(gate);
      // Modes without a plan gate approve it themselves.
      this.graph.planApproved = true;
      this.emit(0, { type: "plan_approved", auto: true });
      await this.saveGraph();
    }

    for (let wave = 1; wave <= this.graph.waves; wave++) {
      const todo = this.graph.nodes.filter((n) => n.wave === wave && n.status !== "complete");
      if (!todo.length) continue;
      const gate = nextGate(this.graph, hitlMode);
      if (gate) await this.stopAt(gate);
      this.emit(wave, { type: "wave_started", wave, nodeIds: todo.map((n) => n.id) });
      await Promise.all(todo.map((node) => this.runNode(node)));
      this.emit(wave, { type: "wave_complete", wave });
      await this.settle(); // a wave boundary: everything so far has landed
    }

    const answer = this.graph.nodes.find((n) => n.role === "writer");
    this.emit(this.graph.waves, {
      type: "council_complete",
      nodes: this.graph.nodes.length,
      answer: answer?.output ?? null,
    });
    await this.setStatus("completed");
  }

  async runNode(node) {
    const { goal } = this.run;
    this.emit(node.wave, { type: "node_started", nodeId: node.id, title: node.title, role: node.role });
    await sleep(this.speed.delta * 2);
    if (node.tool) {
      this.emit(node.wave, { type: "tool_call", nodeId: node.id, tool: node.tool.name, args: node.tool.args });
      await sleep(this.speed.tool);
      const hits = 3 + (hashString(node.id + goal) % 7);
      this.emit(node.wave, { type: "tool_result", nodeId: node.id, tool: node.tool.name, result: { hits } });
    }
    const text = nodeText(goal, node, this.graph);
    const jitter = rng(`jitter:${goal}:${node.id}`);
    for (const delta of chunks(text, `chunks:${goal}:${node.id}`)) {
      await sleep(this.speed.delta * (0.5 + jitter()));
      this.emit(node.wave, { type: "node_text_delta", nodeId: node.id, delta });
    }
    node.status = "complete";
    node.output = text;
    this.emit(node.wave, { type: "node_complete", nodeId: node.id, chars: text.length });
    await this.saveGraph();
  }
}

function demoError(message) {
  const err = new Error(message);
  err.name = "CouncilDemoError";
  return err;
}

export function safeParse(json) {
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
}
