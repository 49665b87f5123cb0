// Export and import streams of `CouncilStore`: the NDJSON bytes out, and the
// lines in. The lines are written and read by Rust (src/transfer.rs); this
// module only moves bytes and splits lines, so a file of any size passes
// through a line at a time.

/** The longest line import reads, in UTF-16 code units (an event of the
 * largest size allowed, escaped, fits with room to spare). */
const MAX_LINE = 128 * 1024 * 1024;

function storeError(kind, message) {
  const error = new Error(message);
  error.name = "CouncilStoreError";
  error.kind = kind;
  return error;
}

/** A `ReadableStream` of UTF-8 bytes; `next()` resolves to the next chunk,
 * or `undefined` at the end. */
export function exportStream(next) {
  return new ReadableStream(
    {
      async pull(controller) {
        const chunk = await next();
        if (chunk === undefined) controller.close();
        else controller.enqueue(chunk);
      },
    },
    { highWaterMark: 1 },
  );
}

/** The chunks of `input`: a string, a Blob, bytes, or a ReadableStream of
 * bytes or strings. */
async function* chunks(input) {
  if (typeof input === "string") {
    yield input;
    return;
  }
  let stream;
  if (typeof Blob === "function" && input instanceof Blob) stream = input.stream();
  else if (typeof ReadableStream === "function" && input instanceof ReadableStream) stream = input;
  else if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    stream = new Blob([input]).stream();
  } else {
    throw storeError(
      "Constraint",
      `importRuns takes a string, a Blob, bytes or a ReadableStream, got ${input === null ? "null" : typeof input}`,
    );
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const decode = (bytes, options) => {
    try {
      return decoder.decode(bytes, options);
    } catch {
      throw storeError("Serialization", "importRuns: the input is not valid UTF-8");
    }
  };
  let reader;
  try {
    reader = stream.getReader();
  } catch {
    throw storeError("Constraint", "importRuns: the stream is locked (already being read)");
  }
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (typeof value === "string") yield value;
      else if (value instanceof Uint8Array) yield decode(value, { stream: true });
      else throw storeError("Constraint", "importRuns: the stream gave a chunk that is neither bytes nor a string");
    }
    yield decode();
  } finally {
    reader.releaseLock();
  }
}

/** The lines of `input`, without their `\n`; a last line without one too. */
async function* lines(input) {
  let parts = [];
  let pending = 0;
  let count = 0;
  for await (const chunk of chunks(input)) {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf("\n", start);
      if (end < 0) break;
      parts.push(chunk.slice(start, end));
      yield parts.join("");
      count += 1;
      parts = [];
      pending = 0;
      start = end + 1;
    }
    if (start < chunk.length) {
      parts.push(chunk.slice(start));
      pending += chunk.length - start;
      if (pending > MAX_LINE) {
        throw storeError("Serialization", `line ${count + 1}: longer than ${MAX_LINE} characters`);
      }
    }
  }
  if (pending > 0) yield parts.join("");
}

/** Feeds the lines of `input` to `importer` (see src/js/transfer.rs): each
 * line in turn, waiting while it writes; on any failure it undoes what it
 * can of the run it was importing and the failure is thrown. */
export async function importLines(input, importer) {
  let number = 0;
  try {
    for await (const line of lines(input)) {
      number += 1;
      const writing = importer.line(line, number);
      if (writing !== undefined) await writing;
    }
    return await importer.finish(number);
  } catch (error) {
    await importer.abandon().catch(() => {});
    throw error;
  }
}
