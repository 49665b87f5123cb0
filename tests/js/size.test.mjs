// What a page downloads for the package's web build, gzipped (-9): the wasm,
// the glue and the JS snippet. A size is deterministic, so unlike a time it
// can fail a test. The budget is a ratchet at today's size plus a little:
// the package may not grow past it unnoticed. The goal (issue 12, "lean
// core") is 45 KB; lower this budget as the package shrinks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { repoRoot } from "./support.mjs";

const BUDGET_KIB = 75;

const web = join(repoRoot, "pkg", "web");

function files(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

test(`the web build is at most ${BUDGET_KIB} KiB gzipped (wasm + glue + snippets)`, () => {
  const parts = [join(web, "council_idb_bg.wasm"), join(web, "council_idb.js"), ...files(join(web, "snippets"))];
  const sizes = parts.map((path) => ({ path: path.slice(web.length + 1), gzip: gzipSync(readFileSync(path), { level: 9 }).length }));
  const total = sizes.reduce((sum, part) => sum + part.gzip, 0);
  const shown = sizes.map((p) => `${p.path} ${(p.gzip / 1024).toFixed(1)} KiB`).join(", ");
  assert.ok(sizes.length === 3, `one wasm, one glue, one snippet: ${shown}`);
  assert.ok(total <= BUDGET_KIB * 1024, `${(total / 1024).toFixed(1)} KiB > ${BUDGET_KIB} KiB: ${shown}`);
});
