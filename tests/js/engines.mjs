// The browser engines the JS tests run in, behind one small page API, so that
// each test file has one source and the engine is a parameter:
//
//   const browser = await launchBrowser("webkit");   // { engine, version, newPage(), close() }
//   const page = await browser.newPage();            // a new tab (window) of the same profile
//   await page.goto(url);
//   await page.waitForFunction(() => window.ready === true);
//   const out = await page.evaluate(async (arg) => ..., arg);   // fn is sent as fn.toString()
//   page.onPageError((message) => ...);              // uncaught errors, unhandled rejections
//
// plus reload(), close(), flushPageErrors() and, for the demo's end-to-end
// test, click/fill/selectOption/check/waitForSelector/textContent/
// getAttribute/count/screenshot on CSS selectors. Chromium pages also have
// cdp(), a DevTools protocol session on the page (`await (await page.cdp())
// .send("Storage.overrideQuotaForOrigin", ...)`); the others have none.
//
// - chromium: Playwright (playwright-core) on /usr/bin/chromium. Kept for
//   what WebDriver does not give: a persistent context on a profile directory
//   we create and delete (IndexedDB on disk, as users have it), page errors
//   reported by the browser itself (also those thrown before any script of
//   ours could listen), and Playwright's waiting for elements to be
//   actionable.
// - firefox: Firefox ESR, headless, through geckodriver (fresh on-disk
//   profile per session).
// - webkit: WebKitGTK's MiniBrowser through WebKitWebDriver, on a private
//   Xvfb display. Its automation session keeps website data in memory only
//   (MiniBrowser --automation is ephemeral): it lasts for the session, across
//   reloads and windows, not beyond.
//
// Over WebDriver, one session is one browser and a page is one of its
// windows. The current window is session state, so every command goes
// through one queue that switches to the page's window first. evaluate()
// starts the function in the page (execute/sync returns at once) and polls
// for its result, so that evaluations in several pages run at the same time.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { removeOnExit, startSession } from "./webdriver.mjs";

export const ALL_ENGINES = ["chromium", "firefox", "webkit"];

/** The engines to test in: $ENGINES ("webkit", "chromium firefox", ...), else all three. */
export const ENGINES = (() => {
  const list = (process.env.ENGINES ?? "").split(/[\s,]+/).filter(Boolean);
  for (const engine of list) {
    if (!ALL_ENGINES.includes(engine)) throw new Error(`unknown engine ${engine} in $ENGINES (${ALL_ENGINES.join(", ")})`);
  }
  return list.length ? list : ALL_ENGINES;
})();

export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** The page-error recorder of the fixture page, injected into other pages. */
export const pageErrorRecorder = readFileSync(new URL("./fixtures/page-errors.js", import.meta.url), "utf8");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Launches `engine` on a fresh profile. `viewport` ({width, height}) sizes
 * every page; `firefoxPrefs` ({name: value}) are set in Firefox's profile
 * (ignored by the other engines). `close()` ends the browser and removes
 * what it left on disk.
 */
export async function launchBrowser(engine = "chromium", { viewport, firefoxPrefs } = {}) {
  if (engine === "chromium") return launchChromium(viewport);
  if (engine === "firefox" || engine === "webkit") return launchWebDriver(engine, viewport, { firefoxPrefs });
  throw new Error(`unknown engine ${engine}`);
}

// ------------------------------------------------------------ Chromium ----

async function launchChromium(viewport) {
  const profile = mkdtempSync(join(tmpdir(), "council-idb-profile-"));
  const removeProfile = removeOnExit(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: chromiumArgs,
    viewport,
  });
  // The context opens with a blank page; it stays as it is, as the WebDriver
  // engines keep their first window.
  const blank = context.pages()[0] ?? (await context.newPage());
  const cdp = await context.newCDPSession(blank);
  const { product } = await cdp.send("Browser.getVersion"); // "HeadlessChrome/156.0.8078.108"
  await cdp.detach();
  const version = product.replace(/^.*\//, "");
  return {
    engine: "chromium",
    version,
    // Playwright reports page errors itself; pages need no recorder.
    nativePageErrors: true,
    context,
    newPage: async () => playwrightPage(await context.newPage()),
    close: async () => {
      await context.close();
      removeProfile();
    },
  };
}

function playwrightPage(page) {
  return {
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    waitForFunction: async (fn, arg, { timeout = 30_000 } = {}) => void (await page.waitForFunction(fn, arg, { timeout })),
    onPageError: (callback) => page.on("pageerror", (e) => callback(String(e))),
    flushPageErrors: async () => {},
    close: () => page.close(),
    click: (selector) => page.click(selector),
    fill: (selector, text) => page.fill(selector, text),
    selectOption: async (selector, value) => void (await page.selectOption(selector, value)),
    check: (selector) => page.check(selector),
    waitForSelector: async (selector, { timeout = 30_000 } = {}) => void (await page.waitForSelector(selector, { timeout })),
    textContent: (selector) => page.textContent(selector),
    getAttribute: (selector, name) => page.getAttribute(selector, name),
    count: (selector) => page.locator(selector).count(),
    screenshot: (options) => page.screenshot(options),
    cdp: () => page.context().newCDPSession(page),
  };
}

// ----------------------------------------------------------- WebDriver ----

// Values cross between Node and the page as JSON text of this encoding, which
// keeps what JSON loses and Playwright keeps (undefined, NaN, ±Infinity, -0,
// bigint, Date, Error). Both functions also run in the page, as source text:
// they use nothing outside themselves.
function toWire(value, seen = new Set()) {
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return { $t: "u" };
  if (typeof value === "number") {
    if (Object.is(value, -0)) return { $t: "n", v: "-0" };
    return Number.isFinite(value) ? value : { $t: "n", v: String(value) };
  }
  if (typeof value === "bigint") return { $t: "b", v: String(value) };
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) throw new TypeError("cannot pass a cyclic value");
  seen.add(value);
  try {
    if (value instanceof Date) return { $t: "d", v: value.getTime() };
    if (value instanceof Error) return { $t: "e", name: value.name, message: value.message, stack: value.stack };
    if (Array.isArray(value)) return value.map((item) => toWire(item, seen));
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = toWire(item, seen);
    return "$t" in out ? { $t: "o", v: out } : out;
  } finally {
    seen.delete(value);
  }
}

function fromWire(wire) {
  if (Array.isArray(wire)) return wire.map(fromWire);
  if (wire === null || typeof wire !== "object") return wire;
  switch (wire.$t) {
    case "u": return undefined;
    case "n": return Number(wire.v);
    case "b": return BigInt(wire.v);
    case "d": return new Date(wire.v);
    case "e": return Object.assign(new Error(wire.message), { name: wire.name, stack: wire.stack });
    case "o": wire = wire.v; break;
  }
  const out = {};
  for (const [key, item] of Object.entries(wire)) out[key] = fromWire(item);
  return out;
}

// Starts `source` (a function's text) on `arg` in a task of its own and keeps
// its outcome in window.__wdEvals[id] for POLL to pick up.
const START = `
  const [id, source, argJson] = arguments;
  const toWire = ${toWire};
  const fromWire = ${fromWire};
  const evals = (window.__wdEvals ??= {});
  evals[id] = null;
  setTimeout(async () => {
    let outcome;
    try {
      const fn = new Function("return (" + source + ")")();
      outcome = { value: JSON.stringify(toWire(await fn(fromWire(JSON.parse(argJson))))) };
    } catch (e) {
      outcome = { error: e instanceof Error ? e.name + ": " + e.message : String(e), stack: e?.stack };
    }
    if (id in evals) evals[id] = outcome;
  });
  return true;`;

// The outcome of evaluation `id`: null while it runs, {lost: true} when the
// page it ran in is gone (navigated or reloaded).
const POLL = `
  const evals = window.__wdEvals;
  if (!evals || !(arguments[0] in evals)) return { lost: true };
  const outcome = evals[arguments[0]];
  if (outcome) delete evals[arguments[0]];
  return outcome;`;

// Is there an element for the selector (a visible one, when asked)?
const PRESENT = `
  const [selector, visible] = arguments;
  const el = document.querySelector(selector);
  if (!el) return false;
  return !visible || (el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden");`;

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
// WebDriver errors after which a click is tried again, as Playwright waits
// for an element to be actionable.
const RETRY_CLICK = new Set(["element click intercepted", "element not interactable", "stale element reference", "no such element"]);

async function launchWebDriver(engine, viewport, options) {
  const session = await startSession(engine, options);
  const { command } = session;
  // One queue for every command: the current window is session state. The
  // first window is never used as a page and stays open, since closing the
  // last window ends the session.
  let queue = Promise.resolve();
  const home = await command("GET", "/window");
  let current = home;
  const inWindow = (handle, fn) => {
    const run = queue.then(async () => {
      if (handle !== current) {
        await command("POST", "/window", { handle });
        current = handle;
      }
      return fn();
    });
    queue = run.catch(() => {});
    return run;
  };
  let nextEval = 0;

  async function newPage() {
    const { handle } = await inWindow(home, () => command("POST", "/window/new", { type: "window" }));
    const errorCallbacks = [];
    let closed = false;
    // Runs `body` (a function body using `arguments`) in the page and
    // forwards the page errors recorded since the last command.
    const exec = async (body, args = []) => {
      if (closed) throw new Error("the page is closed");
      // window.Function: Firefox runs WebDriver scripts in a sandbox with
      // builtins of its own (its Error is not the page's, errors thrown in
      // it do not reach the page's listeners); the body runs in the page.
      const reply = await inWindow(handle, () => command("POST", "/execute/sync", {
        script: `const errors = window.__pageErrors ? window.__pageErrors.splice(0) : [];
                 return [errors, window.Function(${JSON.stringify(body)}).apply(null, arguments)];`,
        args,
      }));
      // Firefox answers null for a script its document went away under.
      if (!Array.isArray(reply)) throw new Error(`WebDriver script answered ${JSON.stringify(reply)}: did the page navigate?`);
      const [errors, value] = reply;
      for (const message of errors) for (const callback of errorCallbacks) callback(message);
      return value;
    };
    const elementCommand = (method, selector, route, body) =>
      inWindow(handle, async () => {
        const { [ELEMENT]: id } = await command("POST", "/element", { using: "css selector", value: selector });
        return command(method, `/element/${id}${route}`, body);
      });
    // A page without the recorder (not the fixture page) gets it after load.
    const afterLoad = () => exec(pageErrorRecorder);

    const page = {
      async goto(url) {
        await page.flushPageErrors();
        await inWindow(handle, () => command("POST", "/url", { url }));
        // geckodriver returns at once from a navigation to a URL with a
        // fragment (it takes it for a same-document one) even when the query
        // differs: wait for the new document's load, as for any other. The
        // fragment is left out of the comparison: pages may set their own.
        const target = new URL(url);
        target.hash = "";
        for (const deadline = Date.now() + 30_000; ;) {
          const state = await inWindow(handle, () => command("POST", "/execute/sync", {
            script: `const url = new URL(location.href); url.hash = "";
                     return [url.href, document.readyState];`,
            args: [],
          })).catch(() => null); // a script cut short by the navigation
          if (state?.[0] === target.href && state[1] === "complete") break;
          if (Date.now() > deadline) throw new Error(`goto ${url}: not loaded after 30 s (${JSON.stringify(state)})`);
          await sleep(20);
        }
        await afterLoad();
      },
      async reload() {
        await page.flushPageErrors();
        await inWindow(handle, () => command("POST", "/refresh", {}));
        await afterLoad();
      },
      async evaluate(fn, arg) {
        const id = `e${nextEval++}`;
        await exec(START, [id, fn.toString(), JSON.stringify(toWire(arg))]);
        for (let delay = 2; ; delay = Math.min(delay * 2, 40)) {
          const outcome = await exec(POLL, [id]);
          if (outcome?.lost) throw new Error("evaluate: the page navigated away before the function settled");
          if (outcome?.error !== undefined) {
            throw Object.assign(new Error(`evaluate: ${outcome.error}`), { pageStack: outcome.stack });
          }
          if (outcome) return fromWire(JSON.parse(outcome.value));
          await sleep(delay);
        }
      },
      async waitForFunction(fn, arg, { timeout = 30_000 } = {}) {
        const deadline = Date.now() + timeout;
        while (!(await page.evaluate(fn, arg))) {
          if (Date.now() > deadline) throw new Error(`waitForFunction: timed out after ${timeout} ms: ${fn}`);
          await sleep(20);
        }
      },
      onPageError: (callback) => void errorCallbacks.push(callback),
      flushPageErrors: async () => void (await exec("return null;")),
      async close() {
        if (closed) return;
        await page.flushPageErrors();
        closed = true;
        // Really closes the tab: the browser releases its locks.
        await inWindow(handle, () => command("DELETE", "/window"));
        current = null;
      },

      // For the demo's end-to-end test; each waits as Playwright does.
      async waitForSelector(selector, { timeout = 30_000, visible = true } = {}) {
        const deadline = Date.now() + timeout;
        while (!(await exec(PRESENT, [selector, visible]))) {
          if (Date.now() > deadline) throw new Error(`waitForSelector: timed out after ${timeout} ms: ${selector}`);
          await sleep(20);
        }
      },
      async click(selector, { timeout = 30_000, visible = true } = {}) {
        await page.waitForSelector(selector, { timeout, visible });
        const deadline = Date.now() + timeout;
        for (;;) {
          try {
            return void (await elementCommand("POST", selector, "/click", {}));
          } catch (e) {
            if (!RETRY_CLICK.has(e.code) || Date.now() > deadline) throw e;
            await sleep(50);
          }
        }
      },
      async fill(selector, text) {
        await page.waitForSelector(selector);
        await elementCommand("POST", selector, "/clear", {});
        await elementCommand("POST", selector, "/value", { text });
      },
      // Clicking an <option> selects it, with the input and change events
      // a user's choice fires. Options of a closed <select> have no box.
      async selectOption(selector, value) {
        await page.waitForSelector(selector);
        await page.click(`${selector} option[value=${JSON.stringify(value)}]`, { visible: false });
      },
      async check(selector) {
        await page.waitForSelector(selector);
        if (!(await exec("return document.querySelector(arguments[0]).checked;", [selector]))) await page.click(selector);
      },
      async textContent(selector) {
        await page.waitForSelector(selector, { visible: false });
        return exec("return document.querySelector(arguments[0]).textContent;", [selector]);
      },
      async getAttribute(selector, name) {
        await page.waitForSelector(selector, { visible: false });
        return exec("return document.querySelector(arguments[0]).getAttribute(arguments[1]);", [selector, name]);
      },
      count: (selector) => exec("return document.querySelectorAll(arguments[0]).length;", [selector]),
      // The viewport only: WebDriver has no full-page screenshot.
      screenshot: async () => Buffer.from(await inWindow(handle, () => command("GET", "/screenshot")), "base64"),
    };
    if (viewport) await inWindow(handle, () => command("POST", "/window/rect", viewport));
    return page;
  }

  return {
    engine,
    version: session.version,
    nativePageErrors: false,
    newPage,
    close: session.quit,
  };
}
