// vml-agent daemon: watch and snapshot until stopped. SIGTERM/SIGINT: finish, then exit 0; SIGHUP:
// reload the configuration and rules (a broken one is reported and the previous one kept).
import type { Command } from "commander";
import { CallerSystem } from "../platform/system.js";
import { serve, type Message } from "../platform/socket.js";
import { parseIdFile } from "../capture/owners.js";
import { EXIT_HELP, globals, openContext, type Io } from "./io.js";
import { FORWARDED, SOCKET } from "./forward.js";
import { memoryUse, releaseMemory } from "../platform/memory.js";
import { runCli } from "./program.js";

/**
 * How long the daemon waits after its last request before giving back what it used: a full
 * collection takes 60-100 ms here, and one that lands in the middle of the next command slows it by
 * as much (commits a script ran one after another took 0.63 s each collecting after every request,
 * 0.51-0.55 s collecting once they stopped). A few seconds covers the gaps of a script or a user
 * typing one command after another.
 */
const COLLECT_AFTER_MS = 5000;

/** A user's command line, bound to the daemon's own root and configuration whatever it asked for. */
function boundArgv(argv: string[], root: string, config?: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--root" || a === "--config") i++;
    else if (!a.startsWith("--root=") && !a.startsWith("--config=")) out.push(a);
  }
  return ["--root", root, ...(config ? ["--config", config] : []), ...out];
}

export function register(program: Command, io: Io): void {
  program
    .command("daemon")
    .description("watch the recorded trees and the package database, and take a snapshot when changes settle")
    .addHelpText("after", `\nTiming (seconds) comes from the configuration: watch_settle, watch_max_delay, watch_min_interval;
cron schedules from schedule_snapshot, schedule_rescan (default every 30 minutes), schedule_prune
with prune_keep_last/hourly/daily/weekly/monthly.\n${EXIT_HELP}`)
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      ctx.logbook.requireExists();
      // The watcher and the schedules are loaded only here: every other command starts without them.
      // The configuration parser is loaded now too: an update of the installed files while the daemon
      // runs must not leave it unable to read a configuration that changed.
      const [{ Daemon }] = await Promise.all([import("../daemon/daemon.js"), import("../core/config.js")]);
      const line = (o: Record<string, unknown>) => io.out(JSON.stringify({ time: ctx.sys.now().toISOString(), ...o }) + "\n");
      const daemon = new Daemon(ctx, {
        snapshot: (id, message, ms) => line({ event: "snapshot", id, message, ms }),
        error: (message) => io.err(`vml-agent daemon: ${message}\n`),
        note: (message) => line({ event: "note", message }),
      }, Boolean(g.verbose));
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      const disposers = [
        ctx.sys.onSignal("SIGTERM", () => stop()),
        ctx.sys.onSignal("SIGINT", () => stop()),
        ctx.sys.onSignal("SIGHUP", () => {
          openContext(io, g).then(
            (next) => {
              void daemon.reload(next);
              line({ event: "reloaded" });
            },
            (e: unknown) => io.err(`vml-agent daemon: configuration not reloaded, the previous one stays: ${(e as Error).message}\n`),
          );
        }),
      ];
      await daemon.start();
      const groups = `${ctx.root === "/" ? "" : ctx.root}/etc/group`;
      const gid = ctx.sys.exists(groups) ? [...parseIdFile(ctx.sys.readFile(groups).toString())].find(([, n]) => n === ctx.config.socketGroup)?.[0] : undefined;
      let collect: ReturnType<typeof setTimeout> | undefined;
      const server = await serve(`${ctx.root === "/" ? "" : ctx.root}${SOCKET}`, gid, async (req: Message, reply) => {
        const argv = Array.isArray(req.argv) ? req.argv.filter((a): a is string => typeof a === "string") : [];
        const env = req.env && typeof req.env === "object" ? (req.env as Record<string, string>) : {};
        const cmd = argv.find((a, i) => !a.startsWith("-") && argv[i - 1] !== "--root" && argv[i - 1] !== "--config");
        if (!cmd || !FORWARDED.has(cmd)) {
          reply({ err: `vml-agent daemon: only ${[...FORWARDED].join(", ")} run through the daemon\n` });
          return reply({ exit: 2 });
        }
        ctx.log.debug({ command: cmd }, "request");
        let code: number;
        try {
          code = await runCli(boundArgv(argv, ctx.root, g.config), { sys: new CallerSystem(env), out: (t) => reply(typeof t === "string" ? { out: t } : { bytes: t.toString("base64") }), err: (t) => reply({ err: t }), stderrIsTTY: false, daemon });
        } catch (e) {
          // Never a silent hang-up: the caller gets one line and the daemon goes on.
          reply({ err: `vml-agent daemon: ${(e as Error).message}\n` });
          code = 1;
        }
        line({ event: "request", command: cmd, user: env.USER ?? null, exit: code });
        reply({ exit: code });
        // Collected once requests stop, when the command's frames are gone (they still hold its
        // data): a user's large commit does not stay resident.
        clearTimeout(collect);
        collect = setTimeout(releaseMemory, COLLECT_AFTER_MS);
      });
      line({ event: "watching", root: ctx.root, watches: daemon.watches(), socket: gid === undefined ? "root only" : ctx.config.socketGroup, memory: memoryUse() });
      await stopped;
      clearTimeout(collect);
      await server.close();
      await daemon.close();
      for (const d of disposers) d();
      line({ event: "stopped" });
    });
}
