// The benchmark's statistics and trial orders (bench/stats.js, bench/harness.js,
// bench/report.mjs), on made-up samples whose answers are known. No browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { quantile, medianInterval, summary, pairedRatios } from "../../bench/stats.js";
import { permutations } from "../../bench/harness.js";
import { analyse } from "../../bench/report.mjs";

const close = (a, b) => Math.abs(a - b) < 1e-9;

test("quartiles interpolate between order statistics", () => {
  const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.ok(close(quantile(s, 0.5), 5.5));
  assert.ok(close(quantile(s, 0.25), 3.25));
  assert.ok(close(quantile(s, 0.75), 7.75));
  assert.equal(quantile([], 0.5), null);
  const st = summary([3, null, 1, 2]);
  assert.deepEqual([st.n, st.median, st.min, st.max], [3, 2, 1, 3]);
});

test("the median's interval: order statistics with binomial coverage", () => {
  const nine = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const ci9 = medianInterval(nine);
  // 2nd smallest to 2nd largest: 1 − 2·(1 + 9)/512 = 96.1%.
  assert.deepEqual([ci9.lo, ci9.hi], [2, 8]);
  assert.ok(close(ci9.coverage, 1 - 20 / 512));
  const five = medianInterval([1, 2, 3, 4, 5]);
  // Five values reach no 95% interval: min–max, 1 − 2/32.
  assert.deepEqual([five.lo, five.hi], [1, 5]);
  assert.ok(close(five.coverage, 1 - 2 / 32));
  const fifteen = medianInterval(Array.from({ length: 15 }, (_, i) => i + 1));
  assert.deepEqual([fifteen.lo, fifteen.hi], [4, 12]);
  assert.ok(fifteen.coverage >= 0.95);
});

test("per-trial ratios pair trials by index and skip unfinished ones", () => {
  assert.deepEqual(pairedRatios([2, null, 9, 4], [1, 5, 3, 0]), [2, 3]);
});

test("six consecutive trials of three parts: each first twice, each ordered pair adjacent twice", () => {
  const perms = permutations(["a", "b", "c"]);
  assert.equal(new Set(perms.map((p) => p.join(""))).size, 6);
  const firsts = {};
  const pairs = {};
  for (let i = 0; i < 6; i++) {
    const p = perms[i % perms.length];
    firsts[p[0]] = (firsts[p[0]] ?? 0) + 1;
    for (let j = 0; j + 1 < p.length; j++) pairs[p[j] + p[j + 1]] = (pairs[p[j] + p[j + 1]] ?? 0) + 1;
  }
  assert.deepEqual(Object.values(firsts), [2, 2, 2]);
  assert.equal(Object.keys(pairs).length, 6);
  assert.ok(Object.values(pairs).every((n) => n === 2), JSON.stringify(pairs));
  assert.equal(permutations(["x", "y"]).length, 2);
  assert.equal(permutations(["x"]).length, 1);
});

test("report: the ratio is the median of per-trial ratios, and the verdict follows it", () => {
  // Trials that are slow for everyone: the ratio of medians (200 / 100 = 2)
  // differs from the median of per-trial ratios (1.1).
  const run = {
    meta: { warmup: 1 },
    rows: [{
      key: "getRun", label: "getRun", trials: 5,
      impls: {
        plain: { samples: [100, 1000, 100, 1000, 10] },
        council: { samples: [110, 1100, 200, 1100, 11] },
        dexie: { samples: [120, 1300, 120, 1300, 12] },
      },
    }],
  };
  const a = analyse(run);
  const row = a.rows[0];
  assert.ok(close(row.stat.council.median, 200));
  assert.ok(close(row.ratio.council, 1.1));
  assert.ok(close(row.ratioStat.council.q3, 1.1));
  const t = Object.fromEntries(a.targets.map((x) => [x.target, x]));
  assert.equal(t["≤ 1.15× plain"].met, true);
  assert.ok(close(t["faster than Dexie"].value, 11 / 12));
  assert.equal(t["faster than Dexie"].met, true);
});

test("compare: the ratio of the two runs' ratios, row by row", async () => {
  const { compare } = await import("../../bench/compare.mjs");
  const file = (councilScale) => ({
    generated: "t", commit: "abc", browsers: {
      chromium: analyse({
        meta: { warmup: 1, pkgWasm: "w 1" },
        rows: [{
          key: "getRun", label: "getRun", trials: 3,
          impls: {
            plain: { samples: [100, 200, 300] },
            council: { samples: [110, 220, 330].map((x) => x * councilScale) },
          },
        }],
      }),
    },
  });
  const text = compare(file(1), file(1.1));
  const line = text.split("\n").find((l) => l.startsWith("| getRun"));
  assert.ok(line.includes("council ÷ plain 1.10 → 1.21 (1.10)"), line);
  assert.ok(line.endsWith("| +10% |"), line);
  assert.ok(!text.includes("Not the same commit"), text);
  // ≤ 1.15× plain: met in a (1.10×), missed in b (1.21×).
  assert.match(text, /Targets judged differently: getRun, ≤ 1.15× plain \(a: met, b: missed\)/);
});
