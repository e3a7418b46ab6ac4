// Human and JSON renderings of changes and snapshots. Paths are shown with the manifest's escaping,
// so no byte of a file name can reach the terminal as a control character.
import type { Changes, FileChange } from "../core/diff.js";
import type { SnapshotInfo } from "../core/history.js";
import { escapeBytes, escapeText } from "../model/escape.js";

export function showPath(p: Buffer): string {
  return "/" + escapeBytes(p);
}

function category(f: FileChange): "added" | "deleted" | "modified" | "metadata" {
  if (f.flags[0] === "+") return "added";
  if (f.flags[0] === "-") return "deleted";
  if (f.flags[0] === "c" || f.flags[0] === "t") return "modified";
  return "metadata";
}

function detail(f: FileChange): string {
  const a = f.old;
  const b = f.new;
  if (!a || !b) return "";
  const parts: string[] = [];
  if (a.mode !== b.mode) parts.push(`mode ${a.mode.toString(8).padStart(4, "0")} → ${b.mode.toString(8).padStart(4, "0")}`);
  const who = (id: number, name: string) => (name ? `${name}(${id})` : String(id));
  if (f.flags[2] === "u") parts.push(`owner ${who(a.uid, a.user)} → ${who(b.uid, b.user)}`);
  if (f.flags[3] === "g") parts.push(`group ${who(a.gid, a.group)} → ${who(b.gid, b.group)}`);
  if (a.type === "l" && b.type === "l" && f.flags[0] === "c") parts.push(`→ ${escapeBytes(b.link!)}`);
  if (b.type === "h" && f.flags[0] === "t") parts.push(`hard link of ${showPath(b.link!)}`);
  else if (a.type === "h" && b.type === "f") parts.push("no longer a hard link");
  return parts.length ? `  (${parts.join(", ")})` : "";
}

export function changesJson(c: Changes): Record<string, unknown> {
  const files = c.files.map((f) => ({ path: showPath(f.path), flags: f.flags, change: category(f), type: (f.new ?? f.old)!.type }));
  const pick = (k: string) => files.filter((f) => f.change === k).map((f) => f.path);
  return {
    added: pick("added"),
    modified: pick("modified"),
    deleted: pick("deleted"),
    metadata: pick("metadata"),
    files,
    packages: c.packages,
    env: c.env,
    cvmfs: c.cvmfs,
  };
}

export function renderChanges(c: Changes): string {
  const lines: string[] = [];
  // A directory whose only change is its time follows from the files added or removed in it.
  const shown = c.files.filter((f) => !(f.flags === "....m" && f.new?.type === "d"));
  const files = shown.length || !c.files.length ? shown : c.files;
  if (files.length) {
    lines.push(`Files (${files.length}):`);
    for (const f of files) lines.push(`  ${f.flags}  ${showPath(f.path)}${f.new?.type === "d" || (!f.new && f.old?.type === "d") ? "/" : ""}${detail(f)}`);
  }
  const p = c.packages;
  if (p.added.length + p.removed.length + p.changed.length) {
    lines.push(`Packages (${p.added.length} added, ${p.removed.length} removed, ${p.changed.length} changed):`);
    for (const x of p.added) lines.push(`  + ${x}`);
    for (const x of p.removed) lines.push(`  - ${x}`);
    for (const x of p.changed) lines.push(`  ~ ${x.name} ${x.from} → ${x.to}`);
  }
  const e = c.env;
  if (e.set.length + e.changed.length + e.unset.length) {
    lines.push("Environment:");
    for (const x of e.set) lines.push(`  + ${x.name}=${escapeText(x.value)}`);
    for (const x of e.changed) lines.push(`  ~ ${x.name}=${escapeText(x.to)}  (was ${escapeText(x.from)})`);
    for (const x of e.unset) lines.push(`  - ${x}`);
  }
  const v = c.cvmfs;
  if (v.added.length + v.removed.length + v.changed.length) {
    lines.push("CernVM-FS repositories:");
    for (const x of v.added) lines.push(`  + ${x}`);
    for (const x of v.removed) lines.push(`  - ${x}`);
    for (const x of v.changed) lines.push(`  ~ ${x.name}: ${x.from} → ${x.to}`);
  }
  return lines.length ? lines.join("\n") + "\n" : "No changes.\n";
}

export function snapshotJson(s: SnapshotInfo): Record<string, unknown> {
  return { id: s.id, parent: s.parent ?? null, time: s.time, author: s.author, message: s.message, ...s.meta };
}

export function renderSnapshotHeader(s: SnapshotInfo): string {
  const m = s.meta;
  return [
    `snapshot ${s.id}`,
    `Date:    ${s.time}`,
    `Trigger: ${m.trigger ?? "?"}${m.host ? `  Host: ${m.host}` : ""}${m.base ? `  Base: ${m.base}` : ""}`,
    `By:      ${s.author}${m.agent ? ` (${m.agent})` : ""}`,
    "",
    ...s.message.split("\n").map((l) => `    ${l}`),
    "",
  ].join("\n");
}
