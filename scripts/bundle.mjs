#!/usr/bin/env node
// Bundles the command-line entry points: a cold start then reads a few modules instead of hundreds,
// which is most of a short command's time. What only some commands need (the whole command set, when
// the daemon runs the command) is split into chunks loaded on demand. pino stays outside (loaded only
// when logging).
import { rmSync } from "node:fs";
import { build } from "esbuild";

// Chunk names carry a content hash: the ones of an earlier build would pile up.
rmSync("dist/chunks", { recursive: true, force: true });
const banner = "import { createRequire as __vmlRequire } from 'node:module'; const require = __vmlRequire(import.meta.url);";
await build({
  entryPoints: { "vml-agent": "agent/cli/main.ts", "vml-bridge": "host-bridge/main.ts", "vml-snapshot": "agent/daemon/snapshot-process.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["pino"],
  banner: { js: banner },
  logLevel: "warning",
});
