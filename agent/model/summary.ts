// The message of an automatic snapshot: what triggered it and what changed, in one line.
import type { Changes } from "../core/diff.js";
import { escapeBytes } from "./escape.js";

/** "1 file", "3 files": a number with its noun. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function commonFolder(paths: Buffer[]): string {
  if (!paths.length) return "/";
  let parts = paths[0].toString("latin1").split("/").slice(0, -1);
  for (const p of paths.slice(1)) {
    const q = p.toString("latin1").split("/").slice(0, -1);
    let k = 0;
    while (k < parts.length && k < q.length && parts[k] === q[k]) k++;
    parts = parts.slice(0, k);
  }
  return "/" + escapeBytes(Buffer.from(parts.join("/"), "latin1"));
}

export function summarize(prefix: string, c: Changes): string {
  const files = c.files.filter((f) => !(f.flags === "....m" && (f.new ?? f.old)?.type === "d"));
  const parts: string[] = [];
  if (files.length) parts.push(`${counted(files.length, "file")} in ${commonFolder(files.map((f) => f.path))}`);
  const p = c.packages;
  const count = (n: number, what: string) => (n ? [`${counted(n, "package")} ${what}`] : []);
  parts.push(...count(p.added.length, "added"), ...count(p.removed.length, "removed"), ...count(p.changed.length, "upgraded"));
  const e = c.env.set.length + c.env.changed.length + c.env.unset.length;
  if (e) parts.push(counted(e, "environment variable"));
  const v = c.cvmfs.added.length + c.cvmfs.removed.length + c.cvmfs.changed.length;
  if (v) parts.push(counted(v, "CernVM-FS repository", "CernVM-FS repositories"));
  return `${prefix}: ${parts.join(", ") || "metadata only"}`;
}
