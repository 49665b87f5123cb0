// A minimal W3C WebDriver client over fetch, and the two drivers the JS tests
// use with it: geckodriver for Firefox ESR (headless) and WebKitGTK's
// WebKitWebDriver for its MiniBrowser, on a private Xvfb display.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os, { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export const FIREFOX = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
export const MINIBROWSER = process.env.MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const WEBKITWEBDRIVER = process.env.WEBKITWEBDRIVER ?? "/usr/bin/WebKitWebDriver";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One WebDriver command; resolves to the response's `value`. */
export async function webdriver(base, method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok || json.value?.error) {
    const error = new Error(`WebDriver ${method} ${route}: ${json.value?.error} ${json.value?.message ?? ""}`.trim());
    error.code = json.value?.error;
    throw error;
  }
  return json.value;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function findGeckodriver() {
  return [process.env.GECKODRIVER, join(homedir(), ".cargo/bin/geckodriver"), "/usr/bin/geckodriver", "/usr/local/bin/geckodriver"]
    .find((path) => path && existsSync(path));
}

// Pids of the drivers, displays and browsers started here, and profile
// directories: killed and removed on the way out, also when the tests are
// interrupted (Ctrl-C, `timeout`), so that no browser outlives them.
const live = new Set();
const dirs = new Set();
let hooked = false;
function killLiveOnExit() {
  if (hooked) return;
  hooked = true;
  const killLive = () => {
    for (const pid of live) {
      try {
        process.kill(pid);
      } catch {}
    }
    // Firefox writes to its profile while it shuts down: give the processes
    // (not yet reaped ones excepted) a moment to go before removing it.
    const alive = (pid) => {
      try {
        return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (const deadline = Date.now() + 3_000; dirs.size && [...live].some(alive) && Date.now() < deadline; ) Atomics.wait(nap, 0, 0, 50);
    live.clear();
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
      } catch (e) {
        console.error(`could not remove ${dir}: ${e.message}`);
      }
    }
    dirs.clear();
  };
  process.once("exit", killLive);
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      killLive();
      process.exit(128 + os.constants.signals[signal]);
    });
  }
}

/**
 * Removes `dir` when the process ends, also when interrupted; the returned
 * function removes it now (and forgets it).
 */
export function removeOnExit(dir) {
  dirs.add(dir);
  killLiveOnExit();
  return () => {
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  };
}

/** Starts a child process; `stop()` kills it (by its pid) and waits for it. */
function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  if (child.pid) live.add(child.pid);
  killLiveOnExit();
  let log = "";
  child.stdout?.on("data", (d) => { log = (log + d).slice(-20_000); });
  child.stderr?.on("data", (d) => { log = (log + d).slice(-20_000); });
  const exited = new Promise((resolve) => {
    child.once("exit", resolve);
    child.once("error", (e) => { // e.g. not installed
      log += `${command}: ${e.message}`;
      resolve();
    });
  }).then(() => live.delete(child.pid));
  return {
    child,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}

/** An Xvfb server on a display number it picks itself (-displayfd). */
async function startXvfb() {
  const xvfb = start("Xvfb", ["-displayfd", "3", "-screen", "0", "1920x1200x24", "-nolisten", "tcp"], {
    stdio: ["ignore", "ignore", "pipe", "pipe"],
  });
  const display = await new Promise((resolve, reject) => {
    let out = "";
    xvfb.child.stdio[3].on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(`:${out.trim()}`);
    });
    xvfb.child.once("error", reject);
    xvfb.child.once("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${xvfb.log()}`)));
  });
  return { ...xvfb, display };
}

/**
 * Starts the driver of `engine` ("firefox" or "webkit") and one session in
 * it; `firefoxPrefs` ({name: value}) go into Firefox's profile. Resolves to
 * `{ version, command(method, route, body), quit() }`, where `command` runs
 * a command of the session (`route` relative to it, e.g. "/url") and
 * `quit()` ends the session and stops every process started.
 */
export async function startSession(engine, { firefoxPrefs } = {}) {
  const cleanups = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
  };
  try {
    const port = await freePort();
    let driver;
    let capabilities;
    if (engine === "firefox") {
      const geckodriver = findGeckodriver();
      if (!geckodriver) throw new Error("geckodriver not found (scripts/setup.sh installs it)");
      if (!existsSync(FIREFOX)) throw new Error(`no Firefox at ${FIREFOX} (set $FIREFOX)`);
      // geckodriver makes a fresh on-disk profile in here for the session.
      const profileRoot = mkdtempSync(join(tmpdir(), "council-idb-firefox-"));
      const remove = removeOnExit(profileRoot);
      cleanups.push(async () => remove());
      driver = start(geckodriver, ["--port", String(port), "--profile-root", profileRoot]);
      capabilities = { browserName: "firefox", "moz:firefoxOptions": { binary: FIREFOX, args: ["-headless"], prefs: firefoxPrefs ?? {} } };
    } else if (engine === "webkit") {
      if (!existsSync(MINIBROWSER)) throw new Error(`no MiniBrowser at ${MINIBROWSER} (set $MINIBROWSER)`);
      const xvfb = await startXvfb();
      cleanups.push(xvfb.stop);
      driver = start(WEBKITWEBDRIVER, [`--port=${port}`], { env: { ...process.env, DISPLAY: xvfb.display } });
      capabilities = { "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] } };
    } else {
      throw new Error(`no WebDriver engine ${engine}`);
    }
    cleanups.push(driver.stop);
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        await webdriver(base, "GET", "/status");
        break;
      } catch (e) {
        if (driver.child.exitCode !== null || !driver.child.pid || i > 200) throw new Error(`${engine} driver did not start: ${driver.log()}`);
        await sleep(50);
      }
    }
    // The first MiniBrowser start on a fresh machine can take 20 s and more;
    // fetch itself has no timeout.
    const created = await webdriver(base, "POST", "/session", { capabilities: { alwaysMatch: capabilities } });
    const session = `${base}/session/${created.sessionId}`;
    // Firefox names its process; MiniBrowser goes with its display.
    const browserPid = created.capabilities?.["moz:processID"];
    if (browserPid) live.add(browserPid);
    cleanups.push(async () => {
      await webdriver(session, "DELETE", "");
      live.delete(browserPid);
    });
    return {
      version: created.capabilities?.browserVersion ?? "",
      command: (method, route, body) => webdriver(session, method, route, body),
      quit: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
