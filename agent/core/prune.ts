// `prune`: apply a retention policy to every line's snapshots.
import type { Context } from "./context.js";
import { VmlError } from "./errors.js";
import { BASE_REF, LINE_PREFIX } from "./logbook.js";
import { removeSnapshots, type Removal } from "./rewrite.js";
import { withLock } from "./snapshot.js";
import { retain, type Candidate, type Policy } from "../model/retention.js";

export interface PruneResult {
  keep: { id: string; time: string; reasons: string[] }[];
  remove: { id: string; time: string }[];
  removal?: Removal;
}

export async function prune(ctx: Context, policy: Policy, dryRun: boolean): Promise<PruneResult> {
  if (policy.last === undefined && policy.hourly === undefined && policy.daily === undefined && policy.weekly === undefined && policy.monthly === undefined && !policy.tags?.length) {
    throw new VmlError("USAGE", "prune needs at least one --keep-... option (it would remove every snapshot)");
  }
  const lb = ctx.logbook;
  lb.requireExists();
  return withLock(ctx, async () => {
    const base = await lb.revParse(BASE_REF);
    const tips = new Map<string, string>();
    for (const l of (await lb.gitText(["for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", LINE_PREFIX])).split("\n").filter(Boolean)) {
      const [id, name] = l.split(" ");
      tips.set(id, tips.has(id) ? `${tips.get(id)}, ${name}` : name);
    }
    const tags = new Map<string, string[]>();
    for (const l of (await lb.gitText(["for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", "refs/tags/"])).split("\n").filter(Boolean)) {
      const [id, name] = l.split(" ");
      tags.set(id, [...(tags.get(id) ?? []), name]);
    }
    const all = (await lb.gitText(["log", "--branches", "--format=%H %cI"])).split("\n").filter(Boolean);
    const candidates: Candidate[] = all.map((l) => {
      const [id, time] = l.split(" ");
      const always = id === base ? "base snapshot" : tips.has(id) ? `latest of line ${tips.get(id)}` : undefined;
      return { id, time: new Date(time), tags: tags.get(id) ?? [], always };
    });
    const kept = retain(candidates, policy);
    const result: PruneResult = {
      keep: candidates.filter((c) => kept.has(c.id)).map((c) => ({ id: c.id, time: c.time.toISOString(), reasons: kept.get(c.id)! })),
      remove: candidates.filter((c) => !kept.has(c.id)).map((c) => ({ id: c.id, time: c.time.toISOString() })),
    };
    if (!dryRun && result.remove.length) result.removal = await removeSnapshots(ctx, new Set(result.remove.map((r) => r.id)));
    return result;
  });
}
