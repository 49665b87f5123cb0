// What the crash test writes, as functions of where it goes: the writing page
// and the Node checker both import this module, so an event read back after
// the crash is compared with the one text it can have been written with.
// Everything here is a pure function of its arguments.

/** The id of run number `run` (0-based) of a database. */
export const runId = (run) => `crash-run-${run}`;

/** The goal run `run` is created with. */
export const goal = (run) => `Crash run ${run}: résumé du plan, 計画, ✓`;

/** The wave an event of seq `seq` is written in: ten events a wave. */
export const waveOf = (seq) => Math.floor(seq / 10);

// A small integer hash (FNV-1a over the two numbers' decimal digits), so that
// payload lengths vary without a random source.
function hash(a, b) {
  let h = 0x811c9dc5;
  for (const ch of `${a}:${b}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

// Text of 1 to 4 UTF-8 bytes a character, surrogate pairs included.
const ALPHABET = ["a", "b", "z", " ", "é", "ß", "€", "記", "録", "😀", "🦀", "\"", "\\", "\n"];

/** `length` characters of the alphabet, starting at an offset of `seed`. */
function text(seed, length) {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[(seed + i * 7) % ALPHABET.length];
  return out;
}

/**
 * The event JSON of (`run`, `seq`): it names both and carries a payload of
 * 0 to 119 characters, one event in twenty-five 500 to 1,999.
 */
export function eventJson(run, seq) {
  const h = hash(run, seq);
  const length = h % 25 === 0 ? 500 + (h % 1500) : h % 120;
  return JSON.stringify({ run, seq, type: "node_text_delta", payload: text(h, length) });
}

/** The graph JSON of update number `call` of run `run`. */
export function graphJson(run, call) {
  return JSON.stringify({ run, call, nodes: [`plan ${call}`, `wave ${call} ✓`] });
}

/** How many runs the writer keeps: runs 0 to 3 stay open, 4 and 5 end. */
export const RUNS = 6;

/**
 * The statuses run `run` is set to, in this order, one call each; the
 * writer writes nothing more to a run it has set to a final status. An
 * acknowledged last call pins the stored status down.
 */
export function statusPlan(run) {
  return run < 4 ? ["awaiting_approval", "running"] : ["awaiting_approval", "running", run % 2 ? "failed" : "completed"];
}

/** Is `status` one after which a run takes no more writes? */
export const isFinal = (status) => status === "completed" || status === "failed";
