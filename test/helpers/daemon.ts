// A `vml-agent daemon` run on a temporary guest root, its events (JSON lines on stdout) collected.
import * as fs from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { AGENT } from "./guest.js";
import { waitFor } from "./wait.js";

export interface Running {
  child: ChildProcess;
  events: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * `stderrFile`: its log goes there instead of to a pipe, for a caller that blocks (spawnSync) while
 * the daemon works: a full pipe would stop the daemon in the middle of a write.
 */
export function startDaemon(root: string, env: Record<string, string> = {}, stderrFile?: string): Running {
  const stderr = stderrFile === undefined ? "pipe" : fs.openSync(stderrFile, "w");
  const child = spawn(process.execPath, [AGENT, "--root", root, "daemon"], { env: { PATH: process.env.PATH, HOME: "/root", ...env }, stdio: ["ignore", "pipe", stderr] });
  if (typeof stderr === "number") fs.closeSync(stderr);
  const events: Record<string, unknown>[] = [];
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => {
    out += d;
    const lines = out.split("\n");
    out = lines.pop()!;
    for (const l of lines) events.push(JSON.parse(l));
  });
  child.stderr?.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, events, stderr: () => (stderrFile === undefined ? err : fs.readFileSync(stderrFile, "utf8")), exited };
}

/** Resolves once the daemon watches (its start-up check done). */
export async function untilWatching(d: Running): Promise<void> {
  await waitFor(() => d.events.some((e) => e.event === "watching"), 30_000, "the daemon to watch");
}

export async function stopDaemon(d: Running): Promise<void> {
  d.child.kill("SIGKILL");
  await d.exited;
}
