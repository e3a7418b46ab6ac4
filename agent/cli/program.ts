// The command-line program: the registry of commands, run against an Io. Each command lives in its own
// file; errors become exit codes here. main.ts runs it for a terminal, the daemon for its socket.
import { Command, CommanderError } from "commander";
import { VmlError, exitCodeOf, EXIT } from "../core/errors.js";
import { AGENT_VERSION } from "../platform/paths.js";
import { EXIT_HELP, type Io } from "./io.js";
import * as init from "./init.js";
import * as commit from "./commit.js";
import * as status from "./status.js";
import * as log from "./log.js";
import * as show from "./show.js";
import * as diff from "./diff.js";
import * as rules from "./rules.js";
import * as restore from "./restore.js";
import * as branch from "./branch.js";
import * as tag from "./tag.js";
import * as verify from "./verify.js";
import * as del from "./delete.js";
import * as prune from "./prune.js";
import * as exchange from "./exchange.js";
import * as daemon from "./daemon.js";
import * as hook from "./hook.js";

const COMMANDS = [init, commit, status, log, show, diff, restore, branch, tag, del, prune, verify, exchange, daemon, hook, rules];

export async function runCli(argv: string[], base: Omit<Io, "paths" | "exitCode">): Promise<number> {
  const dash = argv.indexOf("--");
  const io: Io = { ...base, paths: dash >= 0 ? argv.slice(dash + 1) : [] };
  const program = new Command("vml-agent")
    .description("Virtual Machine Logbook: file-level snapshots of this machine's work environment")
    .version(AGENT_VERSION)
    .option("--root <dir>", "the guest's filesystem root", "/")
    .option("--config <file>", "configuration file (default ROOT/etc/vml/agent.yaml)")
    .option("--json", "print one JSON object")
    .option("-v, --verbose", "log what is done (VML_LOG_LEVEL sets the level too)")
    .addHelpText("after", EXIT_HELP)
    .showHelpAfterError(false)
    .configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(t) });
  for (const c of COMMANDS) c.register(program, io);
  const quiet = (c: Command) => {
    c.exitOverride().showSuggestionAfterError(false).configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(t) });
    c.commands.forEach(quiet);
  };
  quiet(program);
  const json = argv.includes("--json");
  try {
    await program.parseAsync(dash >= 0 ? argv.slice(0, dash) : argv, { from: "user" });
    return io.exitCode ?? EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its one line (or the help, or the version).
      return e.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    const code = exitCodeOf(e);
    if (e instanceof VmlError) {
      if (json) io.out(JSON.stringify({ error: e.toJSON() }) + "\n");
      io.err(`vml-agent: ${e.message}\n`);
    } else {
      // Not a user error: this is a bug or the machine failing; keep the detail for the report.
      io.err(`vml-agent: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    }
    return code;
  }
}

