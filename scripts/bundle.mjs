#!/usr/bin/env node
// Bundles each command-line entry point into one file: a cold start then reads one module instead
// of hundreds, which is most of a short command's time. pino stays outside (loaded only when logging).
import { build } from "esbuild";

const banner = "import { createRequire as __vmlRequire } from 'node:module'; const require = __vmlRequire(import.meta.url);";
for (const [entry, out] of [
  ["agent/cli/main.ts", "dist/vml-agent.mjs"],
  ["host-bridge/main.ts", "dist/vml-bridge.mjs"],
]) {
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["pino"],
    banner: { js: banner },
    logLevel: "warning",
  });
}
