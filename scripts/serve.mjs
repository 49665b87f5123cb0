#!/usr/bin/env node
// The demo's static file server: www/ at /, pkg/ at /pkg/, on 127.0.0.1.
// No dependencies. `make demo` runs it; tests import startServer() and listen
// on port 0.
//
//   node scripts/serve.mjs [--port N]      (or PORT=N; default 8080)

import fs from "node:fs";
import fsp from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";

const MIME_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
};

/** The MIME type served for a file name. */
export function mimeType(fileName) {
  return MIME_TYPES[path.extname(fileName).toLowerCase()] ?? "application/octet-stream";
}

/** Parses `--port N`, `--port=N`, else env PORT, else 8080. Throws on junk. */
export function parsePort(argv = process.argv.slice(2), env = process.env) {
  let text;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--port" || arg === "-p") {
      text = argv[++i];
      if (text === undefined) throw new Error(`${arg} needs a value`);
    } else if (arg.startsWith("--port=")) {
      text = arg.slice("--port=".length);
    } else if (arg === "--help" || arg === "-h") {
      return null;
    } else {
      throw new Error(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (text === undefined) text = env.PORT || "8080";
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new Error(`port must be an integer in 0..65535, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function isInside(base, target) {
  return target === base || target.startsWith(base + path.sep);
}

/**
 * Maps a URL path to a file under one of the mounts, or null when the path
 * is malformed or would leave its mount (`..`, encoded slashes, NUL, or a
 * symlink pointing outside).
 */
async function resolveFile(mounts, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0") || decoded.includes("\\") || decoded.includes("//")) return null;
  // Encoded slashes would let "%2e%2e%2f" sneak past the segment check below.
  if (/%2f|%5c/i.test(urlPath)) return null;
  const segments = decoded.split("/");
  if (segments.some((s) => s === ".." || s === ".")) return null;

  for (const { prefix, dir } of mounts) {
    if (!(decoded === prefix.slice(0, -1) || decoded.startsWith(prefix))) continue;
    const rest = decoded === prefix.slice(0, -1) ? "" : decoded.slice(prefix.length);
    let file = path.resolve(dir, "." + path.posix.sep + rest);
    if (!isInside(dir, file)) return null;
    let stat;
    try {
      stat = await fsp.stat(file);
      if (stat.isDirectory()) {
        // "/docs" -> "/docs/", so the page's relative URLs resolve.
        if (!decoded.endsWith("/")) return { redirect: true };
        file = path.join(file, "index.html");
        stat = await fsp.stat(file);
      }
      if (!stat.isFile()) return null;
      // Follow symlinks and check again that the real file is in the mount.
      const [realDir, realFile] = await Promise.all([fsp.realpath(dir), fsp.realpath(file)]);
      if (!isInside(realDir, realFile)) return null;
    } catch {
      return null;
    }
    return { file, size: stat.size };
  }
  return null;
}

function sendText(res, status, text, extra = {}) {
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "X-Content-Type-Options": "nosniff",
    ...extra,
  });
  res.end(text);
}

/**
 * Starts the server. Resolves to `{ url, port, close() }` once listening.
 *
 * @param {object} [options]
 * @param {number} [options.port=8080] 0 picks a free port.
 * @param {string} [options.root] the repository root holding www/ and pkg/.
 * @param {boolean} [options.log=false] log one line per request.
 */
export async function startServer({ port = 8080, root = REPO_ROOT, log = false } = {}) {
  const mounts = [
    { prefix: "/pkg/", dir: path.resolve(root, "pkg") },
    { prefix: "/", dir: path.resolve(root, "www") },
  ];

  const server = http.createServer(async (req, res) => {
    const done = (status) => log && console.log(`${status} ${req.method} ${req.url}`);
    try {
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendText(res, 405, "method not allowed\n", { Allow: "GET, HEAD" });
        return done(405);
      }
      const urlPath = (req.url ?? "/").split(/[?#]/, 1)[0];
      if (!urlPath.startsWith("/")) {
        sendText(res, 400, "bad request\n");
        return done(400);
      }
      const found = await resolveFile(mounts, urlPath);
      if (!found) {
        sendText(res, 404, `not found: ${urlPath}\n`);
        return done(404);
      }
      if (found.redirect) {
        res.writeHead(301, { Location: urlPath + "/" });
        res.end();
        return done(301);
      }
      res.writeHead(200, {
        "Content-Type": mimeType(found.file),
        "Content-Length": found.size,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
      });
      if (req.method === "HEAD") {
        res.end();
        return done(200);
      }
      const stream = fs.createReadStream(found.file);
      stream.on("error", () => res.destroy());
      stream.pipe(res);
      done(200);
    } catch (err) {
      if (!res.headersSent) sendText(res, 500, "internal error\n");
      else res.destroy();
      console.error(err);
    }
  });

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  return {
    url: `http://${HOST}:${actualPort}/`,
    port: actualPort,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

async function main() {
  let port;
  try {
    port = parsePort();
  } catch (err) {
    console.error(`serve: ${err.message}\nusage: node scripts/serve.mjs [--port N]`);
    process.exit(2);
  }
  if (port === null) {
    console.log("usage: node scripts/serve.mjs [--port N]   (or PORT=N; default 8080)");
    return;
  }
  if (!fs.existsSync(path.join(REPO_ROOT, "pkg", "web", "council_idb.js"))) {
    console.warn("serve: pkg/web/council_idb.js is missing; run `make pkg` first (the page will say so too).");
  }
  let handle;
  try {
    handle = await startServer({ port, log: process.env.SERVE_LOG === "1" });
  } catch (err) {
    if (err.code === "EADDRINUSE") {
      console.error(`serve: port ${port} is in use; try \`make demo PORT=8081\``);
    } else {
      console.error(`serve: ${err.message}`);
    }
    process.exit(1);
  }
  console.log(`council-idb demo: ${handle.url}`);
  console.log("(serving www/ and pkg/; Ctrl-C to stop)");
  const stop = () => handle.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

const invokedDirectly =
  process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) await main();
