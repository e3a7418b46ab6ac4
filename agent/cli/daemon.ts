// vml-agent daemon: watch and snapshot until stopped. SIGTERM/SIGINT: finish, then exit 0; SIGHUP:
// reload the configuration and rules (a broken one is reported and the previous one kept).
import type { Command } from "commander";
import { Daemon } from "../daemon/daemon.js";
import { EXIT_HELP, globals, openContext, type Io } from "./io.js";

export function register(program: Command, io: Io): void {
  program
    .command("daemon")
    .description("watch the recorded trees and the package database, and take a snapshot when changes settle")
    .addHelpText("after", `\nTiming (seconds) comes from the configuration: watch_settle, watch_max_delay, watch_min_interval;
cron schedules from schedule_snapshot, schedule_rescan (default every 30 minutes), schedule_prune
with prune_keep_last/hourly/daily/weekly/monthly.\n${EXIT_HELP}`)
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = openContext(io, g);
      ctx.logbook.requireExists();
      const line = (o: Record<string, unknown>) => io.out(JSON.stringify({ time: ctx.sys.now().toISOString(), ...o }) + "\n");
      const daemon = new Daemon(ctx, {
        snapshot: (id, message) => line({ event: "snapshot", id, message }),
        error: (message) => io.err(`vml-agent daemon: ${message}\n`),
        note: (message) => line({ event: "note", message }),
      });
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      const disposers = [
        ctx.sys.onSignal("SIGTERM", () => stop()),
        ctx.sys.onSignal("SIGINT", () => stop()),
        ctx.sys.onSignal("SIGHUP", () => {
          try {
            void daemon.reload(openContext(io, g));
            line({ event: "reloaded" });
          } catch (e) {
            io.err(`vml-agent daemon: configuration not reloaded, the previous one stays: ${(e as Error).message}\n`);
          }
        }),
      ];
      await daemon.start();
      line({ event: "watching", root: ctx.root, watches: daemon.watches() });
      await stopped;
      await daemon.close();
      for (const d of disposers) d();
      line({ event: "stopped" });
    });
}
