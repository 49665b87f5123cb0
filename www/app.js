// The demo page: a run list, a run view laid out by wave, and the controls
// that drive the simulated council in council.js. Everything it shows is
// read back from the store through the public CouncilStore API, and follows
// the store live (watchRuns, watchEvents): what this tab writes and what
// other tabs write reach the page the same way.
//
// Query parameters: ?speed=fast|normal|slow, ?delay=<ms per text delta>,
// ?db=<IndexedDB database name> (default "council-idb-demo"); #run=<id>
// opens a run ("Open in new tab" links there).

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
  // The selected run: { run, events, graph } (run null while it loads), or
  // { missing: id, deleted } when it is not (or no longer) in the store.
  view: null,
  active: new Map(), // runId -> RunSession running in this tab
  elsewhere: new Set(), // ids of the runs another live store owns (another tab)
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

// ------------------------------------------------------- following the store
//
// Nothing here polls. Two watchers feed the page:
// - watchRuns: a notice per change of any run, from this tab or another;
//   the run list, the set of runs owned elsewhere and the selected run's
//   record are re-read when a notice says they changed, at most once per
//   animation frame;
// - watchEvents on the selected run: its events as they are committed (by
//   this tab or the one executing it), rewinds and its deletion.

/** Resolves at the next animation frame (or after 100 ms in a hidden tab). */
function nextFrame() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    requestAnimationFrame(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const stale = { runs: false, elsewhere: false, run: false };
let syncing = false;
let renderQueued = false;
let renderWaiters = [];

/** Asks for a re-read of `what` ("runs", "elsewhere", "run"), coalesced per frame. */
function want(...what) {
  for (const key of what) stale[key] = true;
  if (!syncing) sync();
}

async function sync() {
  syncing = true;
  try {
    while (stale.runs || stale.elsewhere || stale.run) {
      await nextFrame();
      const todo = { ...stale };
      stale.runs = stale.elsewhere = stale.run = false;
      const store = state.store;
      const selected = state.selectedId;
      const reads = [];
      if (todo.runs) {
        const filter = state.filter;
        reads.push(store.listRuns(filter || undefined).then((runs) => {
          if (filter === state.filter) state.runs = runs;
          else stale.runs = true;
        }));
      }
      if (todo.elsewhere) reads.push(store.runsOwnedElsewhere().then((ids) => (state.elsewhere = new Set(ids))));
      if (todo.run && selected) {
        reads.push(store.getRun(selected).then((run) => {
          const view = state.view;
          if (state.selectedId !== selected || !view || view.missing) return;
          if (!run) state.view = { missing: selected, deleted: true };
          else Object.assign(view, { run, graph: parseGraph(run.graphJson) });
        }));
      }
      for (const outcome of await Promise.allSettled(reads)) {
        if (outcome.status === "rejected") reportError(outcome.reason, "reading the store");
      }
      scheduleRender();
    }
  } finally {
    syncing = false;
  }
}

/** Renders at the next frame; resolves after that render. */
function scheduleRender() {
  const done = new Promise((resolve) => renderWaiters.push(resolve));
  if (!renderQueued) {
    renderQueued = true;
    nextFrame().then(() => {
      renderQueued = false;
      const waiters = renderWaiters;
      renderWaiters = [];
      try {
        render();
      } finally {
        for (const resolve of waiters) resolve();
      }
    });
  }
  return done;
}

/** A change notice from watchRuns (any tab, any run). */
function onRunChange({ kind, runId }) {
  const keys = [];
  if (kind === "created" || kind === "status" || kind === "graph" || kind === "deleted") keys.push("runs");
  if (kind === "created" || kind === "status" || kind === "owner" || kind === "deleted") keys.push("elsewhere");
  if (runId === state.selectedId && (kind === "status" || kind === "graph" || kind === "rewound")) keys.push("run");
  if (keys.length) want(...keys);
}

let stopWatch = () => {};

/**
 * Shows run `runId` (or none) and follows its log until another is opened.
 * Resolves once the run's record has been read.
 */
function openRun(runId) {
  stopWatch();
  stopWatch = () => {};
  state.selectedId = runId;
  if (!runId) {
    state.view = null;
    scheduleRender();
    return Promise.resolve();
  }
  const view = { run: null, events: [], graph: null };
  state.view = view;
  let stopped = false;
  const stop = state.store.watchEvents(runId, { fromSeq: 0 }, (batch) => {
    if (stopped || state.view !== view) return;
    if (Array.isArray(batch)) {
      for (const event of batch) view.events.push(event);
    } else if (batch.rewound) {
      const { afterWave, nextSeq } = batch.rewound;
      view.events = view.events.filter((e) => e.waveIndex <= afterWave && e.seq < nextSeq);
    } else if (batch.deleted) {
      // The run is gone (here or in another tab); the watch has ended.
      state.view = { missing: runId, deleted: view.run !== null };
    }
    scheduleRender();
  });
  stopWatch = () => {
    stopped = true;
    stop();
  };
  want("elsewhere");
  scheduleRender();
  return state.store.getRun(runId).then(
    (run) => {
      if (state.view !== view) return;
      if (!run) state.view = { missing: runId, deleted: false };
      else Object.assign(view, { run, graph: parseGraph(run.graphJson) });
      scheduleRender();
    },
    (err) => reportError(err, "reading the run"),
  );
}

// ---------------------------------------------------------------- actions

function select(runId) {
  history.replaceState(null, "", runId ? runUrl(runId) : location.pathname + location.search);
  return openRun(runId);
}

/** The demo's URL for a run: this page's query (db, speed) and #run=<id>. */
function runUrl(runId) {
  return `${location.pathname}${location.search}#run=${encodeURIComponent(runId)}`;
}

function sessionFor(runId) {
  return new RunSession(state.store, runId, { speed: SPEED, onError: reportError });
}

const idleWaiters = [];

/** Runs `work(session)` with the run marked active in this tab. */
async function drive(session, work) {
  if (state.active.has(session.runId)) return; // a double click
  state.active.set(session.runId, session);
  scheduleRender();
  try {
    await work(session);
  } catch (err) {
    reportError(err, "running the council");
  } finally {
    state.active.delete(session.runId);
    scheduleRender();
    if (!state.active.size) for (const resolve of idleWaiters.splice(0)) resolve();
  }
}

async function startRun(goal, hitlMode) {
  let session;
  try {
    session = await RunSession.create(state.store, { goal, hitlMode }, { speed: SPEED, onError: reportError });
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

async function deleteRun(runId) {
  try {
    await state.store.deleteRun(runId);
  } catch (err) {
    reportError(err, `deleting run ${runId.slice(0, 8)}`);
    return;
  }
  // The watchers update the list (and any other tab showing the run).
  if (state.selectedId === runId) select(null);
  state.notice = `Run ${runId.slice(0, 8)} was deleted.`;
  renderBanners();
}

/**
 * For tests: resolves once no run executes in this tab and the page shows
 * what the store holds (run list, owners, the selected run and its events).
 */
async function settled() {
  for (;;) {
    if (state.active.size) {
      await new Promise((resolve) => idleWaiters.push(resolve));
      continue;
    }
    const store = state.store;
    const id = state.selectedId;
    const [runs, elsewhere, run, next] = await Promise.all([
      store.listRuns(state.filter || undefined),
      store.runsOwnedElsewhere(),
      id ? store.getRun(id) : undefined,
      id ? store.nextSeq(id).catch(() => null) : null,
    ]);
    const view = state.view;
    const same = (a, b) => a.length === b.length && a.every((x, i) => x.id === b[i].id && x.status === b[i].status && x.updatedAt === b[i].updatedAt);
    const fresh =
      !syncing &&
      !renderQueued &&
      same(runs, state.runs) &&
      elsewhere.join() === [...state.elsewhere].sort().join() &&
      (!id ||
        (run
          ? view?.run?.updatedAt === run.updatedAt && (view.events.at(-1)?.seq ?? -1) + 1 === next
          : Boolean(view?.missing)));
    if (fresh && !state.active.size) return;
    await Promise.race([scheduleRender(), new Promise((resolve) => setTimeout(resolve, 100))]);
  }
}

// -------------------------------------------------------------- analysis

/**
 * Is the run executed by another tab (or held there at a gate)? A run in a
 * final status has no owner, whatever a lock query read a moment before.
 */
function ownedElsewhere(run) {
  return (
    !state.active.has(run.id) &&
    state.elsewhere.has(run.id) &&
    (run.status === "running" || run.status === "awaiting_approval")
  );
}

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
  // Another tab executes it (or holds it at a gate): look, don't touch.
  const elsewhere = ownedElsewhere(run);
  const gate = run.status === "awaiting_approval" ? nextGate(graph, run.hitlMode) : null;
  for (const g of graph?.nodes ?? []) {
    const n = node(g.id);
    if (n.status === "running" && !live && !elsewhere) n.status = "interrupted";
    if (n.status === "pending" && g.status === "complete") n.status = "complete";
    if (gate?.nodeId === g.id && n.status === "pending") n.status = "awaiting";
  }
  return { nodes, plan, byWave, parsed, gate, live, elsewhere };
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
      const elsewhere = ownedElsewhere(run);
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
          h("span", { class: `dot s-${run.status}${live || elsewhere ? " pulse" : ""}`, "aria-hidden": "true" }),
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
              elsewhere ? h("span", { class: "elsewhere-tag", testid: "run-item-elsewhere" }, " · in another tab") : null,
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
        h("p", null, "Open a run in a new tab: that tab follows it live while this one executes it, and shows it as running in another tab."),
      ),
    );
    return;
  }
  if (view.missing) {
    replaceChildren(
      main,
      view.deleted
        ? h("div", { class: "empty big", testid: "run-deleted" }, h("h2", null, "Run deleted"), h("p", null, `Run ${view.missing} was deleted (here or in another tab).`))
        : h("div", { class: "empty big", testid: "run-missing" }, h("h2", null, "Run not found"), h("p", null, `No run with id ${view.missing} in this database.`)),
    );
    return;
  }
  if (!view.run) {
    replaceChildren(main, h("div", { class: "empty" }, "Loading the run…"));
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
  } else if (info.elsewhere) {
    actions.push(
      h(
        "span",
        { class: "live-note elsewhere", testid: "elsewhere" },
        h("span", { class: "spinner" }),
        run.status === "awaiting_approval"
          ? "Running in another tab, waiting there for approval; shown here live"
          : "Running in another tab; shown here live",
      ),
    );
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
    actions.push(h("span", { class: "gate-note" }, "Marked running, but no tab is executing it."));
  }
  const tools = [
    h(
      "a",
      {
        class: "btn tiny ghost",
        testid: "open-in-new-tab",
        href: runUrl(run.id),
        target: "_blank",
        rel: "noopener",
        title: "Open this run in another tab; it follows the run live",
      },
      "Open in new tab ↗",
    ),
    info.live || info.elsewhere
      ? null
      : h(
          "button",
          {
            class: "btn tiny ghost danger",
            testid: "delete-run",
            title: "Delete the run and all its events",
            onclick: () => deleteRun(run.id),
          },
          "Delete",
        ),
  ];
  const last = events.at(-1);
  return h(
    "section",
    { class: "run-head card" },
    h(
      "div",
      { class: "run-head-top" },
      statusBadge(run.status, "run-status"),
      h("h1", { class: "run-goal", testid: "run-goal" }, run.goal),
      h("div", { class: "run-tools" }, tools),
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
  if (info.live || info.elsewhere || !graph || !REWINDABLE.has(run.status) || wave >= graph.waves) return null;
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
          : run.status === "running" && (info.live || info.elsewhere)
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
    if (state.store) want("runs");
  });
  addEventListener("hashchange", () => {
    const id = runIdFromHash();
    if (state.store && id !== state.selectedId) openRun(id);
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
    /** Re-reads everything the page shows (the watchers do it on their own). */
    refresh: () => {
      want("runs", "elsewhere", "run");
      return settled();
    },
    /** Resolves once no run is executing in this tab and the page shows what the store holds. */
    idle: settled,
    activeRuns: () => [...state.active.keys()],
    elsewhere: () => [...state.elsewhere],
    errors: () => state.errors.map((e) => ({ ...e })),
  };
  try {
    // Runs another tab is executing are skipped: their executor is alive.
    const n = await state.store.markInterruptedRuns();
    if (n) {
      state.notice = `${n} run${n === 1 ? " was" : "s were"} still running when the page last closed; ${n === 1 ? "it is" : "they are"} now marked interrupted.`;
    }
  } catch (err) {
    reportError(err, "marking interrupted runs");
  }
  state.store.watchRuns(onRunChange);
  // A tab that goes away posts nothing: ask again when the user comes back.
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && want("elsewhere"));
  const [runs, elsewhere] = await Promise.allSettled([state.store.listRuns(), state.store.runsOwnedElsewhere()]);
  if (runs.status === "fulfilled") state.runs = runs.value;
  else reportError(runs.reason, "reading the store");
  if (elsewhere.status === "fulfilled") state.elsewhere = new Set(elsewhere.value);
  else reportError(elsewhere.reason, "reading the store");
  const wanted = runIdFromHash();
  if (wanted) await openRun(wanted);
  else if (state.runs.length) await select(state.runs[0].id);
  await scheduleRender();
  app.dataset.ready = "true";
}

boot();
