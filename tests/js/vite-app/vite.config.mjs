import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const pkg = (path) => fileURLToPath(new URL(`../../../pkg/${path}`, import.meta.url));

// `council-idb/web` resolves to the freshly built pkg/ as its package.json
// `exports` map it for an installed copy.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  logLevel: "warn",
  resolve: { alias: [{ find: /^council-idb\/web$/, replacement: pkg("web/council_idb.js") }] },
  build: { target: "es2022", emptyOutDir: true },
});
