// Shared by the JS tests: a static server over the repository, and the
// browsers (engines.mjs: Chromium, Firefox and WebKit behind one page API, on
// on-disk profiles where the engine allows it; IndexedDB in a default
// Playwright context lives in memory, which is not what users get).
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

export { ENGINES, chromiumArgs, launchBrowser } from "./engines.mjs";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".css": "text/css",
};

/**
 * Serves `root` on 127.0.0.1 at a free port. `handle(req, res)`, when given,
 * sees every request first and answers those it resolves `true` for.
 */
export async function serveDirectory(root = repoRoot, { handle } = {}) {
  const server = createServer(async (req, res) => {
    if (handle && (await handle(req, res))) return;
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = normalize(join(root, path));
    if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!(await stat(file)).isFile()) throw new Error("not a file");
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    // A browser may hold a connection open without a request on it (a
    // preconnect), which server.close() alone would wait out for minutes.
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
