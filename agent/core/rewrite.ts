// Removing snapshots from history. Every snapshot is a whole state, so a removed one's changes live
// on in the next; the snapshots after it are re-made on the new parent (new ids), and their old ids
// keep resolving through a map kept in the logbook. Content only the removed ones held is purged.
import type { Context } from "./context.js";
import { VmlError } from "./errors.js";
import { BASE_REF, LINE_PREFIX, type Logbook } from "./logbook.js";
import type { Ident } from "../model/git-object.js";

const RENAMED = "vml-renamed";

export interface Removal {
  removed: string[];
  /** Old id → new id of every snapshot re-made on a new parent. */
  renamed: Map<string, string>;
  tagsRemoved: string[];
  linesRemoved: string[];
}

interface CommitData {
  id: string;
  parent?: string;
  tree: string;
  author: Ident;
  committer: Ident;
  message: string;
}

async function lineCommits(lb: Logbook, ref: string): Promise<CommitData[]> {
  const out = await lb.git(["log", "--reverse", "-z", "--format=%H%x1f%P%x1f%T%x1f%an%x1f%ae%x1f%ad%x1f%cn%x1f%ce%x1f%cd%x1f%B", "--date=raw", ref]);
  return out
    .toString()
    .split("\0")
    .filter((r) => r.trim() !== "")
    .map((r) => {
      const [id, parents, tree, an, ae, ad, cn, ce, cd, ...msg] = r.split("\x1f");
      return { id, parent: parents.split(" ")[0] || undefined, tree, author: { name: an, email: ae, date: ad }, committer: { name: cn, email: ce, date: cd }, message: msg.join("\x1f") };
    });
}

async function refsPointing(lb: Logbook, prefix: string): Promise<Map<string, string>> {
  const out = (await lb.gitText(["for-each-ref", "--format=%(refname) %(objectname)", prefix])).split("\n").filter(Boolean);
  return new Map(out.map((l) => l.split(" ") as [string, string]));
}

/** Rewrites every line without the snapshots in `drop`, removing whole lines in `dropLines`. */
export async function removeSnapshots(ctx: Context, drop: Set<string>, dropLines: string[] = []): Promise<Removal> {
  const lb = ctx.logbook;
  const base = await lb.revParse(BASE_REF);
  if (base && drop.has(base)) throw new VmlError("USAGE", "the base snapshot cannot be deleted: every line starts from it");
  const current = await lb.currentLine();
  if (dropLines.includes(current)) throw new VmlError("USAGE", `line "${current}" is in use; switch to another line first`);
  const result: Removal = { removed: [], renamed: new Map(), tagsRemoved: [], linesRemoved: [] };
  const newId = new Map<string, string | null>();
  const lines = await refsPointing(lb, LINE_PREFIX);
  for (const [ref, tip] of lines) {
    if (dropLines.includes(ref.slice(LINE_PREFIX.length))) {
      await lb.git(["update-ref", "-d", ref, tip]);
      result.linesRemoved.push(ref.slice(LINE_PREFIX.length));
      continue;
    }
    let parent: string | undefined;
    for (const c of await lineCommits(lb, ref)) {
      if (drop.has(c.id)) {
        newId.set(c.id, null);
        continue;
      }
      let id = newId.get(c.id) ?? undefined;
      if (id === undefined) {
        if (c.parent === parent) id = c.id;
        else {
          // Flushed one by one: the refs move before the purge's gc flushes the rest.
          id = lb.writeCommit({ tree: c.tree, parents: parent ? [parent] : [], author: c.author, committer: c.committer, message: c.message }, true);
          result.renamed.set(c.id, id);
        }
        newId.set(c.id, id);
      }
      parent = id;
    }
    if (parent && parent !== tip) await lb.moveRef(ref, parent, tip, "vml delete");
  }
  for (const [ref, id] of await refsPointing(lb, "refs/tags/")) {
    const to = newId.get(id);
    if (to === null || (to === undefined && !(await reachable(lb, id)))) {
      await lb.git(["update-ref", "-d", ref, id]);
      result.tagsRemoved.push(ref.slice("refs/tags/".length));
    } else if (to && to !== id) await lb.git(["update-ref", ref, to, id]);
  }
  result.removed = [...newId].filter(([, v]) => v === null).map(([k]) => k);
  recordRenames(ctx, result);
  await purge(ctx);
  return result;
}

async function reachable(lb: Logbook, id: string): Promise<boolean> {
  const out = await lb.gitText(["branch", "--contains", id, "--format=%(refname)"]);
  return out !== "";
}

function recordRenames(ctx: Context, r: Removal): void {
  const lb = ctx.logbook;
  const file = `${lb.gitDir}/${RENAMED}`;
  const old = ctx.sys.exists(file) ? ctx.sys.readFile(file).toString() : "#vml-renamed 1\n";
  const lines = [...[...r.renamed].map(([a, b]) => `${a} ${b}`), ...r.removed.map((a) => `${a} -`)];
  if (lines.length) ctx.sys.writeFileAtomic(file, old + lines.join("\n") + "\n", 0o600);
}

/** What an old id became: a new id, null when it was deleted, undefined when never renamed. */
export function renamedTo(lb: Logbook, id: string): string | null | undefined {
  const file = `${lb.gitDir}/${RENAMED}`;
  if (!lb.sys.exists(file)) return undefined;
  const map = new Map<string, string>();
  for (const l of lb.sys.readFile(file).toString().split("\n").slice(1)) {
    const [a, b] = l.split(" ");
    if (a && b) map.set(a, b);
  }
  let cur: string | undefined = id;
  let seen = 0;
  let result: string | null | undefined;
  while (cur && map.has(cur) && seen++ < 10_000) {
    const next: string = map.get(cur)!;
    if (next === "-") return null;
    result = cur = next;
  }
  return result;
}

/** Old ids that start with `prefix` and were renamed (for REF prefixes). */
export function renamedPrefix(lb: Logbook, prefix: string): string[] {
  const file = `${lb.gitDir}/${RENAMED}`;
  if (!lb.sys.exists(file)) return [];
  return lb.sys
    .readFile(file)
    .toString()
    .split("\n")
    .slice(1)
    .map((l) => l.split(" ")[0])
    .filter((a) => a && a.startsWith(prefix));
}

/** Forgets unreachable objects for good: reflogs expired, the index rebuilt from HEAD, objects pruned. */
async function purge(ctx: Context): Promise<void> {
  const lb = ctx.logbook;
  await lb.git(["reflog", "expire", "--expire=now", "--expire-unreachable=now", "--all"]);
  // The index may still hold content of a removed latest snapshot; it is rebuilt from what is left.
  await lb.resetIndex();
  await lb.gc("prune-now");
}
