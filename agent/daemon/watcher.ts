// The watch on the included trees and the package database. Its events are hints, never truth: the
// snapshot that follows checks the tree itself, so a dropped event costs time, not a change.
import { watchFolders, type FolderWatch } from "../platform/folder-watch.js";
import type { RuleSet } from "../model/rules.js";
import { RPM_DBPATH } from "../capture/packages.js";

export const PACKAGE_DBS = [RPM_DBPATH, "/var/lib/dpkg"];

/** Whether a path (relative to the root) is in a package database. */
export function isPackageDb(rel: string): boolean {
  return PACKAGE_DBS.some((d) => rel === d.slice(1) || rel.startsWith(d.slice(1) + "/"));
}

/** The folders to watch: each anchored include's literal beginning, and the package databases. */
export function watchRoots(rules: RuleSet): string[] {
  const roots = new Set<string>();
  for (const r of rules.rules) {
    if (r.action !== "include") continue;
    if (!r.anchored) return ["/"];
    const literal: string[] = [];
    for (const seg of r.segments) {
      if (/[*?[\]{}!]/.test(seg)) break;
      literal.push(seg);
    }
    roots.add("/" + literal.join("/"));
  }
  return [...roots].filter((p) => ![...roots].some((q) => q !== p && (q === "/" || p.startsWith(q + "/"))));
}

/**
 * Watches folders only, one inotify watch each: a folder's watch already reports every change to the
 * names in it (content, metadata, creation, removal), and a watch per file would cost memory and
 * watches by the hundred thousand. Excluded trees are not watched at all; a folder stays in when a
 * later rule includes below it. Each event is one hint, filtered by the rules.
 */
export function watchTree(root: string, rules: RuleSet, exists: (p: string) => boolean, onHint: (rel: string) => void, onError: (e: unknown) => void): FolderWatch {
  const prefix = root === "/" ? "" : root;
  const rel = (p: string) => p.slice(prefix.length + 1);
  const wanted = (r: string, isDir: boolean) => {
    if (isPackageDb(r)) return true;
    const d = rules.explain(r, isDir);
    return d.included || (isDir && rules.mayIncludeBelow(r, d.index));
  };
  const targets = [...watchRoots(rules), ...PACKAGE_DBS].map((p) => (p === "/" ? prefix || "/" : `${prefix}${p}`)).filter(exists);
  // A hint names a path that may have changed; a wrong guess costs a look, never a change.
  const onEvent = (dir: string, _event: string, name: string | null) => {
    const dirRel = rel(dir);
    const r = name ? (dirRel ? `${dirRel}/${name}` : name) : dirRel;
    if (r && (wanted(r, false) || wanted(r, true))) onHint(r);
  };
  return watchFolders(targets, (abs) => wanted(rel(abs), true), onEvent, onError);
}
