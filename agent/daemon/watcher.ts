// The watch on the included trees and the package database. Its events are hints, never truth: the
// snapshot that follows checks the tree itself, so a dropped event costs time, not a change.
import { watch, type FSWatcher } from "chokidar";
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

export interface Watch {
  /** Settles when the initial crawl is done: from then on, every change gives a hint. */
  ready: Promise<void>;
  /** How many inotify watches the watch holds: one per folder. */
  watches(): number;
  close(): Promise<void>;
}

/**
 * Watches folders only, one inotify watch each: a folder's watch already reports every change to
 * the names in it (content, metadata, creation, removal), and a watch per file would cost memory
 * and watches by the hundred thousand. chokidar crawls, follows new and removed folders and reports
 * errors; the per-name changes come from its raw events, filtered by the rules.
 */
export function watchTree(root: string, rules: RuleSet, exists: (p: string) => boolean, onHint: (rel: string) => void, onError: (e: unknown) => void): Watch {
  const prefix = root === "/" ? "" : root;
  const rel = (p: string) => p.slice(prefix.length + 1);
  const wanted = (r: string, isDir: boolean) => {
    if (isPackageDb(r)) return true;
    const d = rules.explain(r, isDir);
    return d.included || (isDir && rules.mayIncludeBelow(r, d.index));
  };
  const targets = [...watchRoots(rules), ...PACKAGE_DBS].map((p) => `${prefix}${p}`).filter(exists);
  const watcher: FSWatcher = watch(targets, {
    ignoreInitial: true,
    followSymlinks: false,
    persistent: true,
    // Excluded trees are not watched at all; a folder stays in when a later rule includes below it.
    // Anything but a folder is left to its folder's watch.
    ignored: (p, stats) => {
      if (p.length <= prefix.length) return false;
      if (stats && !stats.isDirectory()) return true;
      return !wanted(rel(p), true);
    },
  });
  // A hint names a path that may have changed; a wrong guess costs a look, never a change.
  watcher.on("raw", (_event, name, details) => {
    const dir = (details as { watchedPath?: string } | undefined)?.watchedPath;
    if (!dir || dir.length <= prefix.length) return;
    const r = name ? `${rel(dir)}/${name}` : rel(dir);
    if (wanted(r, false) || wanted(r, true)) onHint(r);
  });
  watcher.on("addDir", (p) => p.length > prefix.length && onHint(rel(p)));
  watcher.on("unlinkDir", (p) => p.length > prefix.length && onHint(rel(p)));
  watcher.on("error", onError);
  const ready = new Promise<void>((r) => watcher.once("ready", () => r()));
  return { ready, watches: () => Object.keys(watcher.getWatched()).length, close: () => watcher.close() };
}
