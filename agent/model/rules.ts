// Include/exclude rules: ordered gitignore-like globs. A path is included when the last rule that
// matches the path itself or one of its ancestors is an include; no match means excluded. Pure: the
// walker carries the index of the deciding rule down the tree, so each entry tests only later rules.
import picomatch from "picomatch";

export type Action = "include" | "exclude";

export interface RuleSource {
  action: Action;
  pattern: string;
  /** Where the rule was written: "rules/default.yaml:12" or "built-in". */
  origin: string;
}

export interface Rule extends RuleSource {
  index: number;
  anchored: boolean;
  dirOnly: boolean;
  /** Anchored pattern split at "/", for deciding whether a rule can match below a directory. */
  segments: string[];
  /** Each segment compiled once: a walk asks them for every folder. */
  segmentRes: RegExp[];
  re: RegExp;
}

const GLOB = { dot: true } as const;

/**
 * Globs compiled when the configuration was parsed: each pattern's regular expression source. A
 * command whose configuration came from its cache (config-cache.ts) compiles none itself, which
 * was a tenth of a short command's time.
 */
export type GlobTable = Record<string, string>;

function globRe(pattern: string, table?: GlobTable): RegExp {
  const source = table?.[pattern];
  return source === undefined ? picomatch.makeRe(pattern, GLOB) : new RegExp(source);
}

/** A rule's pattern taken apart: what it matches, whether only folders, whether anchored at the root. */
function shapeOf(pattern: string): { p: string; dirOnly: boolean; anchored: boolean; segments: string[] } {
  let p = pattern.trim();
  const dirOnly = p.endsWith("/") && p.length > 1;
  if (dirOnly) p = p.slice(0, -1);
  // As in gitignore, a slash at the start or in the middle anchors the pattern at the root;
  // otherwise it matches a name at any depth.
  const anchored = p.includes("/");
  if (p.startsWith("/")) p = p.slice(1);
  return { p, dirOnly, anchored, segments: anchored ? (p === "" ? [] : p.split("/")) : [] };
}

/** Every glob the rules and the environment filter use, compiled. */
export function compileGlobs(rules: RuleSource[], envDrop: string[]): GlobTable {
  const table: GlobTable = {};
  const add = (pattern: string) => {
    const re = picomatch.makeRe(pattern, GLOB);
    if (re.flags === "") table[pattern] = re.source;
  };
  for (const r of rules) {
    const { p, segments } = shapeOf(r.pattern);
    if (p !== "") add(p);
    segments.forEach(add);
  }
  envDrop.forEach(add);
  return table;
}

export function compileRules(sources: RuleSource[], globs?: GlobTable): Rule[] {
  return sources.map((src, index) => {
    const { p, dirOnly, anchored, segments } = shapeOf(src.pattern);
    const re = p === "" ? /^/ : globRe(p, globs);
    const segmentRes = segments.map((seg) => globRe(seg, globs));
    return { ...src, index, anchored, dirOnly, segments, segmentRes, re };
  });
}

export interface Decision {
  included: boolean;
  /** Index of the deciding rule, -1 when none matched. */
  index: number;
  rule?: Rule;
  /** The path (itself or an ancestor) the deciding rule matched. */
  matched?: string;
}

/** Decides the entries of one directory: only the rules that can match there are ever tested. */
export type ChildDecider = (rel: string, name: string, isDir: boolean) => number;

export class RuleSet {
  readonly rules: Rule[];
  private readonly combined = new Map<string, RegExp>();

  constructor(sources: RuleSource[], globs?: GlobTable) {
    this.rules = compileRules(sources, globs);
  }

  /**
   * The decider for children of directory `dirRel`, whose own decision is `parentIndex`. Anchored
   * rules that cannot reach this depth below this directory are dropped once per directory, and one
   * combined expression rejects the common case (no later rule matches) in a single test per entry.
   */
  childDecider(dirRel: string, parentIndex: number): ChildDecider {
    const dir = dirRel === "" ? [] : dirRel.split("/");
    const cands = this.rules.filter((r) => r.index > parentIndex && (!r.anchored || segmentsMayMatchChild(r, dir)));
    if (!cands.length) return () => parentIndex;
    const byName = cands.filter((r) => !r.anchored);
    const byPath = cands.filter((r) => r.anchored);
    const anyName = this.combine(byName);
    const anyPath = this.combine(byPath);
    return (rel, name, isDir) => {
      if (!anyName.test(name) && !anyPath.test(rel)) return parentIndex;
      for (let i = cands.length - 1; i >= 0; i--) {
        const r = cands[i];
        if (r.dirOnly && !isDir) continue;
        if (r.re.test(r.anchored ? rel : name)) return r.index;
      }
      return parentIndex;
    };
  }

  private combine(rules: Rule[]): RegExp {
    const key = rules.map((r) => r.index).join(",");
    let re = this.combined.get(key);
    if (!re) {
      re = rules.length ? new RegExp(rules.map((r) => `(?:${r.re.source})`).join("|")) : /(?!)/;
      this.combined.set(key, re);
    }
    return re;
  }

  /** Decision for `rel` (no leading slash) given the deciding index inherited from its parent. */
  decideChild(rel: string, name: string, isDir: boolean, parentIndex: number): number {
    const slash = rel.lastIndexOf("/");
    return this.childDecider(slash < 0 ? "" : rel.slice(0, slash), parentIndex)(rel, name, isDir);
  }

  isIncluded(index: number): boolean {
    return index >= 0 && this.rules[index].action === "include";
  }

  /** Whether some include after `index` could match a path strictly below directory `rel`. */
  mayIncludeBelow(rel: string, index: number): boolean {
    const dir = rel === "" ? [] : rel.split("/");
    for (let i = index + 1; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (r.action !== "include") continue;
      if (!r.anchored) return true;
      if (segmentsMayExtend(r, dir)) return true;
    }
    return false;
  }

  /** Full explanation for one path, walking from the root as the scanner does. */
  explain(rel: string, isDir: boolean): Decision {
    const parts = rel === "" ? [] : rel.split("/");
    let index = -1;
    let matched: string | undefined;
    for (let k = 1; k <= parts.length; k++) {
      const sub = parts.slice(0, k).join("/");
      const next = this.decideChild(sub, parts[k - 1], k < parts.length || isDir, index);
      if (next !== index) matched = "/" + sub;
      index = next;
    }
    return { included: this.isIncluded(index), index, rule: this.rules[index], matched };
  }
}

/** Whether an anchored pattern can match an entry directly inside directory `dir`. */
function segmentsMayMatchChild(r: Rule, dir: string[]): boolean {
  if (r.segments.includes("**")) return segmentsMayExtend(r, dir);
  if (r.segments.length !== dir.length + 1) return false;
  return dir.every((seg, k) => r.segmentRes[k].test(seg));
}

function segmentsMayExtend(r: Rule, dir: string[]): boolean {
  for (let k = 0; k < r.segments.length; k++) {
    if (r.segments[k] === "**") return true;
    if (k >= dir.length) return true;
    if (!r.segmentRes[k].test(dir[k])) return false;
  }
  return false;
}

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** "64MiB", "100M", "1G", 4096 → bytes; undefined when unreadable. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return Math.floor(v);
  if (typeof v !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(v);
  if (!m) return undefined;
  return Math.floor(parseFloat(m[1]) * UNITS[m[2].toUpperCase()]);
}

/** Whether a name matches any of `patterns`. */
export function globMatcher(patterns: string[], globs?: GlobTable): (s: string) => boolean {
  const res = patterns.map((p) => globRe(p, globs));
  return (s) => res.some((re) => re.test(s));
}
