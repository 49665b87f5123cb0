// The demo page: a run list, a run view laid out by wave, and the controls
// that drive the simulated council in council.js. Everything it shows is
// read back from the store through the public CouncilStore API.
//
// Query parameters: ?speed=fast|normal|slow, ?delay=<ms per text delta>,
// ?db=<IndexedDB database name> (default "council-idb-demo").

import { h, replaceChildren } from "./dom.js";
import { RunSession, nextGate, parseGraph, safeParse, speedFromUrl } from "./council.js";

const params = new URL(location.href).searchParams;
const DB_NAME = params.get("db") || "council-idb-demo";
const SPEED = speedFromUrl(location.href);
const REWINDABLE = new Set(["completed", "failed", "interrupted", "awaiting_approval"]);
const STATUS_LABEL = {
  running: "Running",
  awaiting_approval: "Awaiting approval",
  interrupted: "Interrupted",
  completed: "Completed",
  failed: "Failed",
};
const HITL_LABEL = {
  none: "no approvals",
  approve_plan: "approve plan",
  approve_each_node: "approve each node",
  approve_tools: "approve tools",
};

const $ = (id) => document.getElementById(id);

const state = {
  store: null,
  runs: [],
  filter: "",
  selectedId: null,
  view: null, // { run, events, graph } of the selected run
  active: new Map(), // runId -> RunSession running in this tab
  errors: [],
  notice: null,
  showDeltas: false,
  rowCache: { runId: null, rows: new Map() },
};

// ------------------------------------------------------------------ errors

/** Shows an error to the user (and the console); never swallows it. */
function reportError(err, context) {
  console.error(`[council-idb demo] ${context}:`, err);
  const kind = err?.kind ?? err?.name ?? "Error";
  const message = err?.message ?? String(err);
  const same = state.errors.find((e) => e.kind === kind && e.message === message && e.context === context);
  if (same) same.count += 1;
  else state.errors.push({ kind, message, context, count: 1, isStoreError: err?.name === "CouncilStoreError" });
  renderBanners();
}

// ----------------------------------------------------------------- loading

let refreshing = false;
let refreshAgain = false;
let refreshTimer = null;
const idleWaiters = [];

/** Asks for a re-read of the store; coalesced to one read per ~80 ms. */
function invalidate() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 80);
}

async function refresh() {
  if (!state.store) return;
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      try {
        await load();
      } catch (err) {
        reportError(err, "reading the store");
      }
      render();
    } while (refreshAgain);
  } finally {
    refreshing = false;
  }
  if (!state.active.size && !refreshTimer) for (const resolve of idleWaiters.splice(0)) resolve();
}

async function load() {
  const store = state.store;
  state.runs = await store.listRuns(state.filter || undefined);
  if (!state.selectedId) {
    state.view = null;
    return;
  }
  const run = await store.getRun(state.selectedId);
  if (!run) {
    state.view = { missing: state.selectedId };
    return;
  }
  const events = await store.listEvents(run.id);
  state.view = { run, events, graph: parseGraph(run.graphJson) };
}

// ---------------------------------------------------------------- actions

function select(runId) {
  state.selectedId = runId;
  history.replaceState(null, "", runId ? `#run=${encodeURIComponent(runId)}` : location.pathname + location.search);
  return refresh();
}

function sessionFor(runId) {
  return new RunSession(state.store, runId, { speed: SPEED, onChange: invalidate, onError: reportError });
}

/** Runs `work(session)` with the run marked active in this tab. */
async function drive(session, work) {
  if (state.active.has(session.runId)) return; // a double click
  state.active.set(session.runId, session);
  invalidate();
  try {
    await work(session);
  } catch (err) {
    reportError(err, "running the council");
  } finally {
    state.active.delete(session.runId);
    invalidate();
  }
}

async function startRun(goal, hitlMode) {
  let session;
  try {
    session = await RunSession.create(state.store, { goal, hitlMode }, {
      speed: SPEED,
      onChange: invalidate,
      onError: reportError,
    });
  } catch (err) {
    reportError(err, "creating the run");
    return false;
  }
  select(session.runId);
  drive(session, (s) => s.start());
  return true;
}

const approve = (runId, yes) => drive(sessionFor(runId), (s) => s.decide(yes));
const resume = (runId) => drive(sessionFor(runId), (s) => s.resume());
const rewind = (runId, wave) => drive(sessionFor(runId), (s) => s.rewind(wave));

// -------------------------------------------------------------- analysis

/** What the event log says about each node, the plan and each wave. */
function analyse({ run, events, graph }) {
  const nodes = new Map();
  const plan = { proposed: false, approved: false, rejected: false, auto: false };
  const byWave = new Map();
  const node = (id) => {
    if (!nodes.has(id)) nodes.set(id, { status: "pending", text: "", tool: null, starts: 0 });
    return nodes.get(id);
  };
  const parsed = [];
  for (const record of events) {
    const event = safeParse(record.eventJson) ?? { type: "unparseable" };
    parsed.push({ record, event });
    if (!byWave.has(record.waveIndex)) byWave.set(record.waveIndex, []);
    byWave.get(record.waveIndex).push({ record, event });
    switch (event.type) {
      case "plan_proposed":
        plan.proposed = true;
        break;
      case "plan_approved":
        plan.approved = true;
        plan.auto = Boolean(event.auto);
        break;
      case "plan_rejected":
        plan.rejected = true;
        break;
      case "node_started": {
        const n = node(event.nodeId);
        n.status = "running";
        n.text = "";
        n.starts += 1;
        break;
      }
      case "node_text_delta":
        node(event.nodeId).text += event.delta ?? "";
        break;
      case "tool_call":
        node(event.nodeId).tool = { name: event.tool, hits: null };
        break;
      case "tool_result":
        node(event.nodeId).tool = { name: event.tool, hits: event.result?.hits ?? null };
        break;
      case "node_complete":
        node(event.nodeId).status = "complete";
        break;
      case "node_rejected":
      case "tool_rejected":
        node(event.nodeId).status = "failed";
        break;
    }
  }
  const live = state.active.has(run.id);
  const gate = run.status === "awaiting_approval" ? nextGate(graph, run.hitlMode) : null;
  for (const g of graph?.nodes ?? []) {
    const n = node(g.id);
    if (n.status === "running" && !live) n.status = "interrupted";
    if (n.status === "pending" && g.status === "complete") n.status = "complete";
    if (gate?.nodeId === g.id && n.status === "pending") n.status = "awaiting";
  }
  return { nodes, plan, byWave, parsed, gate, live };
}

// ---------------------------------------------------------------- render

function render() {
  renderTopMeta();
  renderBanners();
  renderRunList();
  renderRunView();
}

function renderTopMeta() {
  replaceChildren(
    $("top-meta"),
    h("span", { class: "pill subtle", title: "IndexedDB database name" }, "db ", h("b", null, DB_NAME)),
    h("span", { class: "pill subtle", testid: "speed" }, "speed ", h("b", null, SPEED.name)),
    state.active.size ? h("span", { class: "pill live" }, `${state.active.size} running here`) : null,
  );
}

function renderBanners() {
  const banners = [];
  if (state.notice) {
    banners.push(
      h(
        "div",
        { class: "banner notice", testid: "notice", role: "status" },
        h("span", null, state.notice),
        h("button", { class: "x", title: "Dismiss", onclick: () => ((state.notice = null), renderBanners()) }, "×"),
      ),
    );
  }
  if (state.errors.length) {
    banners.push(
      h(
        "div",
        { class: "banner error", testid: "error-banner", role: "alert" },
        h(
          "div",
          { class: "banner-body" },
          h("strong", null, state.errors.length === 1 ? "The store reported an error" : `${state.errors.length} errors`),
          h(
            "ul",
            null,
            state.errors.map((e) =>
              h(
                "li",
                { testid: "error-item", dataset: { kind: e.kind } },
                h("span", { class: "kind" }, e.kind),
                " ",
                h("span", { class: "context" }, `while ${e.context}: `),
                h("span", { class: "message" }, e.message),
                e.count > 1 ? h("span", { class: "count" }, ` ×${e.count}`) : null,
              ),
            ),
          ),
        ),
        h("button", { class: "x", title: "Dismiss", onclick: () => ((state.errors = []), renderBanners()) }, "×"),
      ),
    );
  }
  replaceChildren($("banners"), banners);
}

function fmtTime(rfc3339, withMs = false) {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const ms = withMs ? `.${pad(d.getMilliseconds(), 3)}` : "";
  const today = new Date().toDateString() === d.toDateString();
  return today ? time + ms : `${d.toLocaleDateString()} ${time}${ms}`;
}

function statusBadge(status, testid) {
  return h("span", { class: `badge s-${status}`, testid, dataset: { status } }, STATUS_LABEL[status] ?? status);
}

function renderRunList() {
  const list = $("run-list");
  if (!state.runs.length) {
    replaceChildren(
      list,
      h("li", { class: "empty small" }, state.filter ? `No ${STATUS_LABEL[state.filter].toLowerCase()} runs.` : "No runs yet."),
    );
    return;
  }
  replaceChildren(
    list,
    state.runs.map((run) => {
      const graph = parseGraph(run.graphJson);
      const live = state.active.has(run.id);
      return h(
        "li",
        null,
        h(
          "button",
          {
            class: `run-item${run.id === state.selectedId ? " selected" : ""}`,
            testid: "run-item",
            dataset: { runId: run.id, status: run.status },
            "aria-current": run.id === state.selectedId ? "true" : null,
            onclick: () => select(run.id),
          },
          h("span", { class: `dot s-${run.status}${live ? " pulse" : ""}`, "aria-hidden": "true" }),
          h(
            "span",
            { class: "run-item-main" },
            h("span", { class: "run-item-goal", testid: "run-item-goal" }, run.goal),
            h(
              "span",
              { class: "run-item-meta" },
              h("span", { testid: "run-item-status" }, STATUS_LABEL[run.status] ?? run.status),
              graph ? ` · ${graph.waves} waves` : "",
              ` · ${HITL_LABEL[run.hitlMode] ?? run.hitlMode}`,
              ` · ${fmtTime(run.createdAt)}`,
            ),
          ),
        ),
      );
    }),
  );
}

function renderRunView() {
  const main = $("run-view");
  const view = state.view;
  if (!view) {
    replaceChildren(
      main,
      h(
        "div",
        { class: "empty big" },
        h("h2", null, "No run selected"),
        h("p", null, "Enter a goal on the left and start a run. The director plans a few waves of work, workers stream their answers, and every event is written to IndexedDB as it happens."),
        h("p", null, "Reload the page mid-run: the run comes back as interrupted, with every event written so far. Pick a wave and rewind: later events are dropped and the council runs again from there."),
      ),
    );
    return;
  }
  if (view.missing) {
    replaceChildren(main, h("div", { class: "empty big" }, h("h2", null, "Run not found"), h("p", null, `No run with id ${view.missing} in this database.`)));
    return;
  }
  const info = analyse(view);
  if (state.rowCache.runId !== view.run.id) state.rowCache = { runId: view.run.id, rows: new Map() };
  replaceChildren(main, renderHeader(view, info), renderBoard(view, info), renderLog(view, info));
}

function renderHeader({ run, graph, events }, info) {
  const actions = [];
  if (info.live) {
    actions.push(h("span", { class: "live-note", testid: "live" }, h("span", { class: "spinner" }), "Running in this tab"));
  } else if (info.gate) {
    actions.push(
      h("span", { class: "gate-note", testid: "gate" }, gateText(info.gate, graph)),
      h("button", { class: "btn primary", testid: "approve", onclick: () => approve(run.id, true) }, "Approve"),
      h("button", { class: "btn", testid: "reject", onclick: () => approve(run.id, false) }, "Reject"),
    );
  } else if (run.status === "interrupted") {
    actions.push(
      h("span", { class: "gate-note" }, "This run was running when its page went away."),
      h("button", { class: "btn primary", testid: "resume", onclick: () => resume(run.id) }, "Resume"),
    );
  } else if (run.status === "running") {
    actions.push(h("span", { class: "gate-note" }, "Marked running, but not by this tab."));
  }
  const last = events.at(-1);
  return h(
    "section",
    { class: "run-head card" },
    h(
      "div",
      { class: "run-head-top" },
      statusBadge(run.status, "run-status"),
      h("h1", { class: "run-goal", testid: "run-goal" }, run.goal),
    ),
    h(
      "dl",
      { class: "run-meta" },
      meta("id", h("code", { testid: "run-id" }, run.id)),
      meta("human in the loop", HITL_LABEL[run.hitlMode] ?? run.hitlMode),
      meta("created", fmtTime(run.createdAt)),
      meta("updated", fmtTime(run.updatedAt, true)),
      meta("events", h("span", { testid: "event-count" }, String(events.length))),
      meta("last seq", last ? String(last.seq) : "–"),
      graph ? meta("graph", `${graph.waves} waves · ${graph.nodes.length} nodes`) : null,
    ),
    actions.length ? h("div", { class: "run-actions" }, actions) : null,
  );
}

function meta(label, value) {
  return h("div", null, h("dt", null, label), h("dd", null, value));
}

function gateText(gate, graph) {
  const node = gate.nodeId ? graph?.nodes.find((n) => n.id === gate.nodeId) : null;
  if (gate.gate === "plan") return `Waiting for approval of the plan (${graph.waves} waves, ${graph.nodes.length} nodes).`;
  if (gate.gate === "node") return `Waiting for approval to run “${node?.title ?? gate.nodeId}” (wave ${gate.wave}).`;
  return `Waiting for approval of a ${gate.tool} call by “${node?.title ?? gate.nodeId}” (wave ${gate.wave}).`;
}

function rewindButton(run, wave, graph, info) {
  if (info.live || !graph || !REWINDABLE.has(run.status) || wave >= graph.waves) return null;
  // Only where there is something after the wave to drop and redo.
  if (!info.parsed.some(({ record }) => record.waveIndex > wave)) return null;
  return h(
    "button",
    {
      class: "btn tiny ghost",
      testid: `rewind-wave-${wave}`,
      title: `Keep waves 0–${wave}, drop every later event, and run again from wave ${wave + 1}`,
      onclick: () => rewind(run.id, wave),
    },
    "⟲ rewind here",
  );
}

function renderBoard({ run, graph }, info) {
  const columns = [];
  // Wave 0: the director.
  const planStatus = info.plan.rejected
    ? "failed"
    : info.plan.approved
      ? "complete"
      : info.gate?.gate === "plan"
        ? "awaiting"
        : info.plan.proposed
          ? "complete"
          : run.status === "running" && info.live
            ? "running"
            : run.status === "running" || run.status === "interrupted"
              ? "interrupted"
              : "pending";
  const planLine = info.plan.rejected
    ? "Plan rejected"
    : info.plan.approved
      ? info.plan.auto
        ? "Plan approved (no approval needed)"
        : "Plan approved by you"
      : info.gate?.gate === "plan"
        ? "Plan proposed, waiting for you"
        : info.plan.proposed
          ? "Plan proposed"
          : planStatus === "running"
            ? "Thinking…"
            : "No plan yet";
  columns.push(
    waveColumn(0, "Plan", info, rewindButton(run, 0, graph, info), [
      h(
        "div",
        { class: `node s-${planStatus}`, testid: "node-card", dataset: { nodeId: "director", status: planStatus } },
        h("div", { class: "node-head" }, h("span", { class: "node-title" }, "Director")),
        h("div", { class: "node-sub" }, h("span", { class: "role" }, "planner")),
        h("div", { class: "node-text" }, planLine),
        graph
          ? h(
              "div",
              { class: "plan-outline" },
              `${graph.nodes.length} nodes in ${graph.waves} waves: `,
              Array.from({ length: graph.waves }, (_, i) => graph.nodes.filter((n) => n.wave === i + 1).length).join(" → "),
            )
          : null,
      ),
    ]),
  );
  for (let wave = 1; wave <= (graph?.waves ?? 0); wave++) {
    const nodes = graph.nodes.filter((n) => n.wave === wave);
    columns.push(
      waveColumn(
        wave,
        `Wave ${wave}`,
        info,
        rewindButton(run, wave, graph, info),
        nodes.map((n) => nodeCard(n, info.nodes.get(n.id))),
        nodes,
      ),
    );
  }
  return h(
    "section",
    { class: "board card", testid: "board" },
    h("div", { class: "section-head" }, h("h2", null, "Shape of the run"), legend()),
    h("div", { class: "waves" }, columns),
  );
}

function legend() {
  return h(
    "div",
    { class: "legend" },
    ["pending", "awaiting", "running", "complete", "interrupted", "failed"].map((s) =>
      h("span", { class: "legend-item" }, h("span", { class: `swatch s-${s}` }), s),
    ),
  );
}

function waveColumn(wave, title, info, rewind, body, nodes = null) {
  const events = info.byWave.get(wave) ?? [];
  const done = nodes ? nodes.filter((n) => info.nodes.get(n.id)?.status === "complete").length : null;
  return h(
    "div",
    { class: "wave", testid: `wave-column-${wave}`, dataset: { wave } },
    h(
      "div",
      { class: "wave-head" },
      h("span", { class: "wave-title" }, title),
      h(
        "span",
        { class: "wave-sub" },
        nodes ? `${done}/${nodes.length} done · ` : "",
        `${events.length} event${events.length === 1 ? "" : "s"}`,
      ),
    ),
    h("div", { class: "wave-body" }, body),
    rewind ? h("div", { class: "wave-foot" }, rewind) : null,
  );
}

function nodeCard(node, seen = { status: "pending", text: "", tool: null, starts: 0 }) {
  const status = seen.status;
  let text = seen.text;
  // The card shows three lines: the tail while streaming, the start when done.
  if (text.length > 150) text = status === "running" ? `…${text.slice(-110)}` : `${text.slice(0, 150)}…`;
  return h(
    "div",
    { class: `node s-${status}`, testid: "node-card", dataset: { nodeId: node.id, status }, title: seen.text || null },
    h("div", { class: "node-head" }, h("span", { class: "node-title" }, node.title)),
    h(
      "div",
      { class: "node-sub" },
      h("span", { class: "role" }, node.role),
      h("code", null, node.id),
      seen.tool ? h("span", { class: "tool" }, `${seen.tool.name}${seen.tool.hits != null ? ` · ${seen.tool.hits} hits` : "…"}`) : null,
      seen.starts > 1 ? h("span", { class: "retry" }, `run ${seen.starts}×`) : null,
    ),
    text ? h("div", { class: "node-text" }, text) : h("div", { class: "node-text muted" }, status === "awaiting" ? "Needs your approval" : node.about ?? ""),
    status === "running" ? h("div", { class: "progress" }) : null,
  );
}

const TYPE_GROUP = {
  plan_proposed: "plan",
  plan_approved: "plan",
  plan_rejected: "bad",
  awaiting_approval: "gate",
  node_approved: "gate",
  tool_approved: "gate",
  node_rejected: "bad",
  tool_rejected: "bad",
  wave_started: "wave",
  wave_complete: "wave",
  node_started: "start",
  node_text_delta: "delta",
  tool_call: "tool",
  tool_result: "tool",
  node_complete: "done",
  council_complete: "final",
  run_rewound: "meta",
  run_resumed: "meta",
};

function summarise(event) {
  switch (event.type) {
    case "plan_proposed":
      return `${event.waves} waves, ${event.nodes?.length ?? "?"} nodes`;
    case "plan_approved":
      return event.auto ? "no approval needed in this mode" : "approved by the user";
    case "awaiting_approval":
      return event.gate === "plan" ? "the plan" : event.gate === "tool" ? `${event.tool} for ${event.nodeId}` : event.nodeId;
    case "node_text_delta":
      return JSON.stringify(event.delta);
    case "tool_call":
      return `${event.tool}(${JSON.stringify(event.args?.query ?? event.args ?? "")})`;
    case "tool_result":
      return `${event.result?.hits ?? "?"} hits`;
    case "node_complete":
      return `${event.chars} chars`;
    case "wave_started":
      return (event.nodeIds ?? []).join(", ");
    case "council_complete":
      return event.answer ? `${String(event.answer).slice(0, 90)}…` : "done";
    case "run_rewound":
      return `to wave ${event.toWave}; reset ${(event.resetNodes ?? []).join(", ") || "nothing"}`;
    case "run_resumed":
      return `from wave ${event.fromWave}`;
    default:
      return "";
  }
}

function eventRow(record, event) {
  const group = TYPE_GROUP[event.type] ?? "other";
  const raw = h("pre", { class: "raw", testid: "raw-json", hidden: true });
  const toggle = h(
    "button",
    {
      class: "btn tiny ghost raw-toggle",
      testid: "raw-toggle",
      title: "Show the stored record",
      "aria-expanded": "false",
      onclick: () => {
        const open = raw.hidden;
        if (open && !raw.textContent) {
          const parsed = safeParse(record.eventJson);
          raw.textContent =
            `// seq ${record.seq} · wave ${record.waveIndex} · ${record.createdAt}\n` +
            (parsed === null ? record.eventJson : JSON.stringify(parsed, null, 2));
        }
        raw.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
        row.classList.toggle("open", open);
      },
    },
    "{ }",
  );
  const row = h(
    "li",
    {
      class: `ev g-${group}${event.type === "node_text_delta" ? " is-delta" : ""}`,
      testid: "event-row",
      dataset: { seq: record.seq, wave: record.waveIndex, type: event.type },
    },
    h(
      "div",
      { class: "ev-line" },
      h("span", { class: "ev-seq" }, `#${record.seq}`),
      h("span", { class: "ev-time" }, fmtTime(record.createdAt, true).slice(-12)),
      h("span", { class: "ev-type" }, event.type ?? "?"),
      h("span", { class: "ev-node" }, event.nodeId ?? ""),
      h("span", { class: "ev-summary" }, summarise(event)),
      toggle,
    ),
    raw,
  );
  return row;
}

function renderLog({ run, events }, info) {
  const cache = state.rowCache.rows;
  const keep = new Set();
  const waves = [...info.byWave.keys()].sort((a, b) => a - b);
  const bands = waves.map((wave) => {
    const items = info.byWave.get(wave);
    const deltas = items.filter((x) => x.event.type === "node_text_delta").length;
    const rows = items.map(({ record, event }) => {
      const key = `${record.seq}|${record.createdAt}|${record.waveIndex}`;
      keep.add(key);
      if (!cache.has(key)) cache.set(key, eventRow(record, event));
      return cache.get(key);
    });
    return h(
      "section",
      { class: "band", testid: `wave-band-${wave}`, dataset: { wave } },
      h(
        "header",
        { class: "band-head" },
        h("span", { class: "band-title" }, wave === 0 ? "Wave 0 · plan" : `Wave ${wave}`),
        h(
          "span",
          { class: "band-count" },
          `${items.length} events`,
          !state.showDeltas && deltas ? ` (${deltas} text deltas hidden)` : "",
        ),
        h(
          "span",
          { class: "ticks", "aria-hidden": "true" },
          items.map(({ event }) => h("i", { class: `g-${TYPE_GROUP[event.type] ?? "other"}` })),
        ),
      ),
      h("ol", { class: "band-rows" }, rows),
    );
  });
  for (const key of cache.keys()) if (!keep.has(key)) cache.delete(key);

  const toggle = h("input", {
    type: "checkbox",
    testid: "toggle-deltas",
    checked: state.showDeltas,
    onchange: (e) => {
      state.showDeltas = e.target.checked;
      render();
    },
  });
  return h(
    "section",
    { class: "log card", testid: "event-log" },
    h(
      "div",
      { class: "section-head" },
      h("h2", null, "Event log by wave"),
      h(
        "span",
        { class: "muted small" },
        events.length ? `${events.length} events · seq ${events[0].seq}–${events.at(-1).seq}` : "no events yet",
      ),
      h("label", { class: "check" }, toggle, " show text deltas"),
    ),
    h("div", { class: `bands${state.showDeltas ? "" : " hide-deltas"}` }, bands.length ? bands : h("p", { class: "muted" }, "No events yet.")),
  );
}

// ------------------------------------------------------------------- boot

function wireForm() {
  const form = $("new-run");
  const goal = $("goal");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = goal.value.trim();
    if (!text) return;
    if (!state.store) {
      reportError(new Error("the store is not open"), "starting a run");
      return;
    }
    startRun(text, $("hitl").value).then((ok) => ok && goal.value.trim() === text && (goal.value = ""));
  });
  goal.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  $("status-filter").addEventListener("change", (e) => {
    state.filter = e.target.value;
    refresh();
  });
  addEventListener("hashchange", () => {
    const id = runIdFromHash();
    if (id !== state.selectedId) {
      state.selectedId = id;
      refresh();
    }
  });
}

function runIdFromHash() {
  const m = /^#run=(.+)$/.exec(location.hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

async function boot() {
  const app = document.querySelector("[data-testid=app]");
  wireForm();
  renderTopMeta();
  let CouncilStore;
  try {
    const mod = await import("/pkg/web/council_idb.js");
    await mod.default();
    CouncilStore = mod.CouncilStore;
  } catch (err) {
    reportError(err, "loading /pkg/web/council_idb.js (run `make pkg`)");
    replaceChildren($("run-view"), h("div", { class: "empty big" }, h("h2", null, "council-idb did not load"), h("p", null, "Build the package with make pkg, then reload.")));
    app.dataset.ready = "error";
    return;
  }
  try {
    state.store = await CouncilStore.open(DB_NAME);
  } catch (err) {
    reportError(err, `opening IndexedDB database ${JSON.stringify(DB_NAME)}`);
    app.dataset.ready = "error";
    return;
  }
  window.councilStore = state.store;
  window.councilDemo = {
    store: state.store,
    dbName: DB_NAME,
    speed: SPEED,
    refresh,
    /** Resolves once no run is executing in this tab and the view is fresh. */
    idle: () =>
      state.active.size || refreshing || refreshTimer
        ? new Promise((resolve) => idleWaiters.push(resolve))
        : Promise.resolve(),
    activeRuns: () => [...state.active.keys()],
    errors: () => state.errors.map((e) => ({ ...e })),
  };
  try {
    const n = await state.store.markInterruptedRuns();
    if (n) {
      state.notice = `${n} run${n === 1 ? " was" : "s were"} still running when the page last closed; ${n === 1 ? "it is" : "they are"} now marked interrupted.`;
    }
  } catch (err) {
    reportError(err, "marking interrupted runs");
  }
  state.selectedId = runIdFromHash();
  await refresh();
  if (!state.selectedId && state.runs.length) await select(state.runs[0].id);
  app.dataset.ready = "true";
}

boot();
