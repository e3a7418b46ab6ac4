// Which snapshots a retention policy keeps, and why (restic's `forget` rules). Pure.

export interface Policy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  tags?: string[];
}

export interface Candidate {
  id: string;
  time: Date;
  tags: string[];
  /** Kept whatever the policy says (the base, the latest of a line), with the reason. */
  always?: string;
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

const BUCKETS: [keyof Policy, string, (d: Date) => string][] = [
  ["hourly", "hourly", (d) => d.toISOString().slice(0, 13)],
  ["daily", "daily", (d) => d.toISOString().slice(0, 10)],
  ["weekly", "weekly", isoWeek],
  ["monthly", "monthly", (d) => d.toISOString().slice(0, 7)],
];

/** Reasons each snapshot is kept; a snapshot absent from the result goes. Times are UTC. */
export function retain(snapshots: Candidate[], p: Policy): Map<string, string[]> {
  const newest = [...snapshots].sort((a, b) => b.time.getTime() - a.time.getTime());
  const keep = new Map<string, string[]>();
  const add = (id: string, why: string) => keep.set(id, [...(keep.get(id) ?? []), why]);
  newest.forEach((s, i) => {
    if (s.always) add(s.id, s.always);
    if (p.last !== undefined && i < p.last) add(s.id, `last ${i + 1}/${p.last}`);
    for (const t of s.tags) if (p.tags?.includes(t)) add(s.id, `tag ${t}`);
  });
  for (const [key, name, bucketOf] of BUCKETS) {
    const limit = p[key] as number | undefined;
    if (limit === undefined) continue;
    const seen = new Set<string>();
    for (const s of newest) {
      const b = bucketOf(s.time);
      if (seen.has(b) || seen.size >= limit) continue;
      seen.add(b);
      add(s.id, `${name} ${b}`);
    }
  }
  return keep;
}
