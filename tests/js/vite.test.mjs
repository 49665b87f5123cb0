// Bundler smoke test: a minimal Vite 7 app importing council-idb builds, and
// the bundle runs in Chromium against real IndexedDB.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "vite";
import { launchBrowser, repoRoot, serveDirectory } from "./support.mjs";

const outDir = mkdtempSync(join(tmpdir(), "council-idb-vite-"));
let browser;

before(async () => {
  await build({ configFile: join(repoRoot, "tests/js/vite-app/vite.config.mjs"), build: { outDir } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  rmSync(outDir, { recursive: true, force: true });
});

test("the Vite build emits the wasm as an asset and runs", async () => {
  const assets = readdirSync(join(outDir, "assets"));
  assert.ok(assets.some((f) => f.endsWith(".wasm")), `no .wasm among ${assets}`);
  const server = await serveDirectory(outDir);
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => window.result !== undefined);
    const result = await page.evaluate(() => window.result);
    assert.deepEqual(result, { ok: true, goal: "bundled", events: 1 });
  } finally {
    await server.close();
  }
});
