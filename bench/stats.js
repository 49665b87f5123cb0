// The statistics of the benchmark, shared by the page (harness.js, for its log
// lines), report.mjs and compare.mjs. Samples are per-trial figures; a trial
// an implementation did not finish is null and is left out.

/** The finite numbers of `samples`, sorted. */
export function sortedFinite(samples) {
  return samples.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
}

/**
 * The q-quantile of sorted values, by linear interpolation between the order
 * statistics (the default of R and numpy): q = 0.5 is the median, 0.25 and
 * 0.75 the quartiles.
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n, k) {
  let term = 0.5 ** n; // P(X = 0)
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/**
 * A distribution-free confidence interval of the median: the k-th smallest
 * and the k-th largest of n sorted values, with the largest k whose coverage
 * 1 − 2·P(Binomial(n, ½) ≤ k − 1) is at least `level`. Below six values no k
 * reaches 95%; the interval is then the minimum and the maximum and
 * `coverage` says how little that is (93.75% for 5, 75% for 3, 0 for 1).
 */
export function medianInterval(sorted, level = 0.95) {
  const n = sorted.length;
  if (n === 0) return null;
  let k = 1;
  while (k + 1 <= (n + 1) / 2 && 1 - 2 * binomialHalfCdf(n, k) >= level) k++;
  return { lo: sorted[k - 1], hi: sorted[n - k], coverage: 1 - 2 * binomialHalfCdf(n, k - 1), k };
}

/** n, median, quartiles, min, max and the median's interval of per-trial figures. */
export function summary(samples) {
  const s = sortedFinite(samples);
  if (s.length === 0) return null;
  return {
    n: s.length,
    median: quantile(s, 0.5),
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
    min: s[0],
    max: s[s.length - 1],
    ci: medianInterval(s),
  };
}

/**
 * Per-trial ratios a[t] ÷ b[t] of two parts timed in the same trials (same
 * index = same trial); trials where either has no figure (or a ≤ 0 or b < 0)
 * are left out.
 */
export function pairedRatios(a, b) {
  const out = [];
  const n = Math.min(a?.length ?? 0, b?.length ?? 0);
  for (let t = 0; t < n; t++) {
    const x = a[t];
    const y = b[t];
    // A latency below zero (two tabs' clocks a little apart) has no ratio.
    if (Number.isFinite(x) && Number.isFinite(y) && x >= 0 && y > 0) out.push(x / y);
  }
  return out;
}
