// Completes pkg/package.json after wasm-pack: the web build as a subpath
// export, and every file the package needs.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../pkg/package.json", import.meta.url);
const pkg = JSON.parse(readFileSync(path, "utf8"));
pkg.name = "council-idb";
pkg.files = [...new Set([...(pkg.files ?? []), "snippets", "web"])];
pkg.exports = {
  ".": { types: "./council_idb.d.ts", default: "./council_idb.js" },
  "./web": { types: "./web/council_idb.d.ts", default: "./web/council_idb.js" },
  "./web/council_idb_bg.wasm": "./web/council_idb_bg.wasm",
  "./package.json": "./package.json",
};
writeFileSync(path, JSON.stringify(pkg, null, 2) + "\n");
