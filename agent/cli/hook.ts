// vml-agent hook pre|post: what the package managers' hooks call around a transaction (scripts/hooks).
import { InvalidArgumentError, type Command } from "commander";
import { commit, commitDescribed } from "../core/snapshot.js";
import { summarize } from "../model/summary.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";

export function register(program: Command, io: Io): void {
  program
    .command("hook")
    .description("snapshot before (pre) and after (post) a package transaction; called by the dnf, yum and apt hooks")
    .argument("<when>", "pre or post", (v: string) => {
      if (v !== "pre" && v !== "post") throw new InvalidArgumentError("pre or post");
      return v;
    })
    .addHelpText("after", EXIT_HELP)
    .action(async (when: "pre" | "post", _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const r =
        when === "pre"
          ? await commit(ctx, { message: "before a package transaction", trigger: "package", keepEnv: true })
          : await commitDescribed(ctx, "package", (c) => summarize("package transaction", c));
      if (g.json) return printJson(io, { id: r.id, unchanged: r.unchanged });
      io.out(r.unchanged ? `Nothing changed since snapshot ${r.id.slice(0, 12)}.\n` : `Snapshot ${r.id}\n`);
    });
}
