// The package's TypeScript declarations: exact types, checked by compiling a
// usage file, and no `any` anywhere on the public surface.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./support.mjs";

test("a typed usage file compiles with tsc --noEmit", () => {
  const tsc = join(repoRoot, "node_modules/.bin/tsc");
  try {
    execFileSync(tsc, ["--noEmit", "-p", join(repoRoot, "tests/js/types/tsconfig.json")], { encoding: "utf8" });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

for (const file of ["pkg/council_idb.d.ts", "pkg/web/council_idb.d.ts"]) {
  test(`${file} has no any on CouncilStore and its records`, () => {
    const dts = readFileSync(join(repoRoot, file), "utf8");
    const start = dts.indexOf("export type CouncilRunStatus");
    const end = dts.indexOf("export type InitInput"); // the web build's loader types follow
    const surface = dts.slice(start, end === -1 ? undefined : end);
    assert.ok(surface.includes("export class CouncilStore"), "CouncilStore is declared");
    const offending = surface.split("\n").filter((line) => /\bany\b/.test(line) && !line.trim().startsWith("*"));
    assert.deepEqual(offending, []);
  });
}
