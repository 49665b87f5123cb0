// Chromium and Firefox on a profile directory the caller keeps across
// launches, with the one thing the crash test needs besides navigation: a
// kill that gives the browser no chance to write anything more.
//
//   const browser = await launchOnProfile("firefox", profileDir);
//   await browser.goto(url);
//   const killed = await browser.kill();   // SIGSTOP, then SIGKILL, every process
//   const again = await launchOnProfile("firefox", profileDir);
//   ...
//   await again.close();                   // a clean shutdown
//
// The processes of an instance: those that name the profile on their
// command line, those started with the instance's tag in their environment
// (COUNCIL_IDB_CRASH_INSTANCE, set for the browser or its driver, inherited
// also by helpers that detach themselves, such as Chromium's crashpad
// handlers and Firefox's crashhelper), and every descendant of those.
//
// - chromium: Playwright's launchPersistentContext on /usr/bin/chromium. The
//   browser and the processes its zygotes fork (GPU, network and storage
//   services, renderers) carry --user-data-dir=<profile>.
// - firefox: Firefox ESR through geckodriver, `-profile <dir>` in
//   moz:firefoxOptions.args, so that geckodriver starts Firefox on our
//   directory instead of a fresh copy. Firefox and its content processes
//   descend from the geckodriver we start.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chromiumArgs } from "../js/engines.mjs";
import { FIREFOX, findGeckodriver, freePort, webdriver } from "../js/webdriver.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --------------------------------------------------------- processes ----

const TAG = "COUNCIL_IDB_CRASH_INSTANCE";

/** Was process `pid` started with `TAG=tag` in its environment? */
function tagged(pid, tag) {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`${TAG}=${tag}`);
  } catch {
    return false;
  }
}

/** Every process: pid, parent, state letter, start time (clock ticks), arguments. */
export function processes() {
  const out = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // "pid (comm) state ppid ..." where comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const args = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").filter(Boolean);
      out.push({ pid: Number(name), ppid: Number(fields[1]), state: fields[0], start: fields[19], args });
    } catch {
      // gone while we looked
    }
  }
  return out;
}

/**
 * The processes for which `matches(process)` holds, and all their
 * descendants, and the descendants of the processes `roots` names.
 */
function processTree(matches, roots = []) {
  const all = processes();
  const chosen = new Map();
  for (const p of all) if (roots.includes(p.pid) || matches(p)) chosen.set(p.pid, p);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!chosen.has(p.pid) && chosen.has(p.ppid)) {
        chosen.set(p.pid, p);
        grew = true;
      }
    }
  }
  return [...chosen.values()];
}

/** The process `p` (same pid, same start time) still runs: neither gone nor a zombie. */
export function stillRunning(p) {
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] === p.start && fields[0] !== "Z" && fields[0] !== "X";
  } catch {
    return false;
  }
}

/** Is `p` a zombie (dead, not yet reaped by its parent)? */
export function isZombie(p) {
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] === p.start && fields[0] === "Z";
  } catch {
    return false;
  }
}

/**
 * Stops every process of `list` with SIGSTOP first, so that none sees
 * another die and reacts (a browser that notices its storage process gone
 * could write or clean up), then SIGKILLs them all, and waits until none
 * runs. Resolves to what it did.
 */
async function killProcesses(list, what) {
  for (const signal of ["SIGSTOP", "SIGKILL"]) {
    for (const p of list) {
      try {
        process.kill(p.pid, signal);
      } catch {
        // already gone
      }
    }
  }
  const deadline = Date.now() + 5_000;
  while (list.some(stillRunning)) {
    if (Date.now() > deadline) {
      const alive = list.filter(stillRunning).map((p) => `${p.pid} ${p.args.slice(0, 2).join(" ")}`);
      throw new Error(`${what}: still running 5 s after SIGKILL: ${alive.join("; ")}`);
    }
    await sleep(10);
  }
  return { killed: list };
}

// ---------------------------------------------------------- Chromium ----

async function launchChromium(profile) {
  const tag = randomUUID();
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: chromiumArgs,
    env: { ...process.env, [TAG]: tag },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const flag = `--user-data-dir=${profile}`;
  const instance = () => processTree((p) => p.args.includes(flag) || tagged(p.pid, tag));
  return {
    engine: "chromium",
    processes: instance,
    goto: async (url) => void (await page.goto(url)),
    async kill() {
      const list = instance();
      if (!list.length) throw new Error(`no Chromium process with ${flag}`);
      const out = await killProcesses(list, "Chromium");
      // Playwright notices the browser's end by itself; this only waits
      // for it to let go of its pipes.
      await Promise.race([context.close().catch(() => {}), sleep(5_000)]);
      return out;
    },
    close: () => context.close(),
  };
}

// ----------------------------------------------------------- Firefox ----

async function launchFirefox(profile) {
  const geckodriver = findGeckodriver();
  if (!geckodriver) throw new Error("geckodriver not found (scripts/setup.sh installs it)");
  if (!existsSync(FIREFOX)) throw new Error(`no Firefox at ${FIREFOX} (set $FIREFOX)`);
  const port = await freePort();
  // A Marionette port of our choosing: a killed Firefox leaves its
  // MarionetteActivePort file behind, which geckodriver would otherwise
  // read and try first.
  const marionettePort = await freePort();
  const tag = randomUUID();
  const driver = spawn(geckodriver, ["--port", String(port), "--marionette-port", String(marionettePort)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, [TAG]: tag },
  });
  let log = "";
  const keep = (d) => void (log = (log + d).slice(-20_000));
  driver.stdout.on("data", keep);
  driver.stderr.on("data", keep);
  const exited = new Promise((resolve) => driver.once("exit", resolve));
  const base = `http://127.0.0.1:${port}`;
  const killDriver = async () => {
    try {
      process.kill(driver.pid, "SIGKILL");
    } catch {}
    await exited;
  };
  try {
    for (let i = 0; ; i++) {
      try {
        await webdriver(base, "GET", "/status");
        break;
      } catch {
        if (driver.exitCode !== null || i > 200) throw new Error(`geckodriver did not start: ${log}`);
        await sleep(50);
      }
    }
    const created = await webdriver(base, "POST", "/session", {
      capabilities: {
        alwaysMatch: {
          browserName: "firefox",
          "moz:firefoxOptions": { binary: FIREFOX, args: ["-headless", "-profile", profile] },
        },
      },
    });
    const session = `${base}/session/${created.sessionId}`;
    const instance = () => processTree((p) => p.args.includes(profile) || tagged(p.pid, tag), [driver.pid]);
    return {
      engine: "firefox",
      processes: instance,
      goto: async (url) => void (await webdriver(session, "POST", "/url", { url })),
      async kill() {
        const list = instance();
        if (!list.some((p) => p.args.includes(profile))) throw new Error(`no Firefox process on ${profile}`);
        const out = await killProcesses(list, "Firefox");
        await exited; // geckodriver is ours: reaped by Node
        return out;
      },
      async close() {
        await webdriver(session, "DELETE", "");
        driver.kill();
        await exited;
      },
    };
  } catch (e) {
    await killDriver();
    throw e;
  }
}

// ---------------------------------------------------- on the way out ----

// Browsers launched here and profile directories made here: killed and
// removed when Node exits, also when interrupted, so that no browser
// outlives the test and no profile stays behind.
const live = new Set();
const profiles = new Set();
let hooked = false;
function cleanUpOnExit() {
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const browser of live) {
      for (const p of browser.processes()) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {}
      }
    }
    for (const dir of profiles) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => process.exit(128 + os.constants.signals[signal]));
  }
}

/** A new empty profile directory; `remove()` deletes it (it goes on exit anyway). */
export function newProfile(engine) {
  cleanUpOnExit();
  const dir = mkdtempSync(join(tmpdir(), `council-idb-crash-${engine}-`));
  profiles.add(dir);
  return {
    dir,
    remove() {
      rmSync(dir, { recursive: true, force: true });
      profiles.delete(dir);
    },
  };
}

/** Launches `engine` ("chromium" or "firefox") headless on the profile directory `profile`. */
export async function launchOnProfile(engine, profile) {
  cleanUpOnExit();
  let browser;
  if (engine === "chromium") browser = await launchChromium(profile);
  else if (engine === "firefox") browser = await launchFirefox(profile);
  else throw new Error(`the crash test drives chromium and firefox, not ${engine}`);
  live.add(browser);
  return {
    ...browser,
    async kill() {
      const out = await browser.kill();
      live.delete(browser);
      return out;
    },
    async close() {
      await browser.close();
      live.delete(browser);
    },
  };
}

const LOCK_FILES = ["SingletonLock", "SingletonSocket", "SingletonCookie", "lock", ".parentlock"];

/** The lock files a browser keeps in its profile (Chromium's, Firefox's) that are there now. */
export function profileLocks(profile) {
  const names = readdirSync(profile);
  return LOCK_FILES.filter((name) => names.includes(name));
}
