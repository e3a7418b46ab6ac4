#!/usr/bin/env node
// vml-agent's entry point: a terminal's command line, run here, or handed to the daemon's socket when
// one listens (ordinary users snapshot through it; commits from everyone are serialised there).
import { forwardToDaemon } from "./forward.js";
import { processEnv } from "../platform/process-env.js";

async function main(argv: string[]): Promise<number> {
  const forwarded = await forwardToDaemon(processEnv(), argv, (t) => process.stdout.write(t), (t) => process.stderr.write(t));
  if (forwarded !== undefined) return forwarded;
  // Loaded only when the command runs here: a command the daemon runs starts in a fraction of the time.
  const [{ runCli }, { NodeSystem }] = await Promise.all([import("./program.js"), import("../platform/system.js")]);
  return runCli(argv, {
    sys: new NodeSystem(),
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    stderrIsTTY: Boolean(process.stderr.isTTY),
  });
}

// A reader that went away (`vml-agent log | head`) ends the output, not with a stack trace: the
// command's work is done or harmless to stop, and git's own writes are not on this stream.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
