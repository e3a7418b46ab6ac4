// The watch on the included trees and the package database. Its events are hints, never truth: the
// snapshot that follows checks the tree itself, so a dropped event costs time, not a change.
import { watch, type FSWatcher } from "chokidar";
import type { RuleSet } from "../model/rules.js";
import { RPM_DBPATH } from "../capture/packages.js";

export const PACKAGE_DBS = [RPM_DBPATH, "/var/lib/dpkg"];

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
  /** How many inotify watches the watch holds: chokidar watches every folder and every file. */
  watches(): number;
  close(): Promise<void>;
}

export function watchTree(root: string, rules: RuleSet, exists: (p: string) => boolean, onHint: (rel: string) => void, onError: (e: unknown) => void): Watch {
  const prefix = root === "/" ? "" : root;
  const rel = (p: string) => p.slice(prefix.length + 1);
  const isPackageDb = (r: string) => PACKAGE_DBS.some((d) => r === d.slice(1) || r.startsWith(d.slice(1) + "/"));
  const targets = [...watchRoots(rules), ...PACKAGE_DBS].map((p) => `${prefix}${p}`).filter(exists);
  const watcher: FSWatcher = watch(targets, {
    ignoreInitial: true,
    followSymlinks: false,
    persistent: true,
    // Excluded trees are not watched at all; a folder stays in when a later rule includes below it.
    ignored: (p, stats) => {
      if (p.length <= prefix.length) return false;
      const r = rel(p);
      if (isPackageDb(r)) return false;
      const isDir = stats ? stats.isDirectory() : false;
      const d = rules.explain(r, isDir);
      if (d.included) return false;
      return !(isDir && rules.mayIncludeBelow(r, d.index));
    },
  });
  watcher.on("all", (_event, p) => onHint(rel(p)));
  watcher.on("error", onError);
  const ready = new Promise<void>((r) => watcher.once("ready", () => r()));
  const watches = () => {
    const w = watcher.getWatched();
    return Object.keys(w).length + Object.values(w).reduce((n, names) => n + names.length, 0);
  };
  return { ready, watches, close: () => watcher.close() };
}
