// glue.js's councilStoreError, the error every rejection carries, on the
// table of messages that `dom_name_reads_the_shared_table` (tests/native.rs)
// runs through RepositoryError::dom_name: JavaScript finds the same
// DOMException name as Rust, and the browser's text after it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./support.mjs";

const { councilStoreError } = await import(join(repoRoot, "src/glue.js"));
const table = JSON.parse(readFileSync(join(repoRoot, "tests/fixtures/dom-names.json"), "utf8"));

test("a Storage error names its DOMException as RepositoryError::dom_name does", () => {
  assert.ok(table.length > 5);
  for (const { message, domName, detail } of table) {
    const error = councilStoreError(message, "Storage");
    assert.ok(error instanceof Error, message);
    assert.deepEqual([error.name, error.kind, error.message], ["CouncilStoreError", "Storage", message]);
    assert.equal(error.domName, domName ?? undefined, message);
    if (domName === null) {
      assert.equal(error.cause, undefined, message);
    } else {
      assert.ok(error.cause instanceof DOMException, message);
      assert.deepEqual([error.cause.name, error.cause.message], [domName, detail], message);
    }
  }
});

test("other kinds carry no domName, whatever their message", () => {
  for (const { message } of table) {
    for (const kind of ["NotFound", "AlreadyExists", "Serialization", "Constraint", "Conflict"]) {
      const error = councilStoreError(message, kind);
      assert.deepEqual([error.kind, error.domName, error.cause], [kind, undefined, undefined], message);
    }
  }
});
