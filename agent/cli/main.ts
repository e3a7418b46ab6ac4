#!/usr/bin/env node
// vml-agent's entry point: a terminal's command line, run here, or handed to the daemon's socket when
// one listens (ordinary users snapshot through it; commits from everyone are serialised there).
import { NodeSystem } from "../platform/system.js";
import { runCli } from "./program.js";
import { forwardToDaemon } from "./forward.js";

async function main(argv: string[]): Promise<number> {
  const sys = new NodeSystem();
  const forwarded = await forwardToDaemon(sys, argv, (t) => process.stdout.write(t), (t) => process.stderr.write(t));
  if (forwarded !== undefined) return forwarded;
  return runCli(argv, {
    sys,
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    stderrIsTTY: Boolean(process.stderr.isTTY),
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
