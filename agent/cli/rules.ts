// vml-agent rules check PATH: which rule includes or excludes PATH, and where that rule was written.
import type { Command } from "commander";
import { EXIT_HELP, globals, guestRelative, openContext, printJson, type Io } from "./io.js";

export function register(program: Command, io: Io): void {
  const rules = program.command("rules").description("inspect the include/exclude rules");
  rules
    .command("check")
    .description("explain whether PATH is recorded, and which rule decides")
    .argument("<path...>", "paths as on the guest, e.g. /home/alice/.cache/x")
    .addHelpText("after", EXIT_HELP)
    .action(async (paths: string[], _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const results = paths.map((p) => {
        const rel = guestRelative(p);
        const st = ctx.sys.lstat(`${ctx.root === "/" ? "" : ctx.root}/${rel}`);
        const d = ctx.rules.explain(rel, st?.kind === "dir");
        const tooBig = d.included && st?.kind === "file" && st.size > ctx.config.sizeLimit;
        return {
          path: "/" + rel,
          included: d.included,
          stored: d.included && !tooBig && st?.kind !== "fifo" && st?.kind !== "socket" && st?.kind !== "char" && st?.kind !== "block",
          rule: d.rule ? { action: d.rule.action, pattern: d.rule.pattern, origin: d.rule.origin, matched: d.matched } : null,
          note: tooBig ? `larger than size_limit (${ctx.config.sizeLimit} bytes): listed, content not stored` : st ? undefined : "does not exist now",
        };
      });
      if (g.json) return printJson(io, { results });
      for (const r of results) {
        const why = r.rule
          ? `by \`${r.rule.action}: ${r.rule.pattern}\` (${r.rule.origin})${r.rule.matched !== r.path ? `, which matches ${r.rule.matched}` : ""}`
          : "no rule includes it";
        io.out(`${r.path}: ${r.included ? "included" : "excluded"} ${why}${r.note ? `; ${r.note}` : ""}\n`);
      }
    });
}
