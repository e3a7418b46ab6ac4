// Lines of work (branches), tags, and moving between lines.
import type { Context } from "./context.js";
import { VmlError } from "./errors.js";
import { LINE_PREFIX, ZERO_ID, type Logbook } from "./logbook.js";
import { restore, type RestoreReport } from "./restore.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const RESERVED = new Set(["base", "HEAD", "FETCH_HEAD", "ORIG_HEAD"]);

export function checkName(kind: "line" | "tag", name: string): void {
  if (!NAME.test(name) || name.endsWith(".lock") || name.includes("..") || RESERVED.has(name) || /^[0-9a-f]{4,40}$/.test(name)) {
    throw new VmlError("USAGE", `"${name}" is not a usable ${kind} name (letters, digits, . _ -; not base, not hex like an id)`);
  }
}

export interface LineInfo {
  name: string;
  id: string;
  current: boolean;
}

export async function listLines(lb: Logbook): Promise<LineInfo[]> {
  lb.requireExists();
  const current = await lb.currentLine();
  const out = (await lb.gitText(["for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", LINE_PREFIX])).split("\n").filter(Boolean);
  return out.map((l) => {
    const [name, id] = l.split(" ");
    return { name, id, current: name === current };
  });
}

export async function createLine(lb: Logbook, name: string, at: string): Promise<void> {
  checkName("line", name);
  if (await lb.revParse(`${LINE_PREFIX}${name}`)) throw new VmlError("USAGE", `a line named "${name}" exists already`);
  // The zero id as old value: created only if it does not exist, atomically.
  await lb.moveRef(`${LINE_PREFIX}${name}`, at, ZERO_ID, "vml branch");
}

export async function switchLine(ctx: Context, name: string): Promise<RestoreReport> {
  const lb = ctx.logbook;
  lb.requireExists();
  const target = await lb.revParse(`${LINE_PREFIX}${name}^{commit}`);
  if (!target) throw new VmlError("UNKNOWN_REF", `no line named "${name}" (create it with \`vml-agent branch ${name}\`)`);
  if ((await lb.currentLine()) === name) throw new VmlError("USAGE", `already on line "${name}"`);
  // restore records the present on the current line first, then brings back the other line's latest.
  const report = await restore(ctx, { id: target, name, dryRun: false, paths: [], removePackages: false });
  await lb.git(["symbolic-ref", "-m", `vml switch to ${name}`, "HEAD", `${LINE_PREFIX}${name}`]);
  return report;
}

export async function listTags(lb: Logbook): Promise<{ name: string; id: string }[]> {
  lb.requireExists();
  const out = (await lb.gitText(["for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/tags/"])).split("\n").filter(Boolean);
  return out.map((l) => {
    const [name, id] = l.split(" ");
    return { name, id };
  });
}

/** Fails early when NAME cannot become a new tag: before a commit that would then be tagged. */
export async function checkTagFree(lb: Logbook, name: string): Promise<void> {
  checkName("tag", name);
  if (await lb.revParse(`refs/tags/${name}`)) throw new VmlError("USAGE", `a tag named "${name}" exists already`);
}

export async function tagSnapshot(lb: Logbook, id: string, name: string): Promise<void> {
  await checkTagFree(lb, name);
  await lb.moveRef(`refs/tags/${name}`, id, ZERO_ID, "vml tag");
}
