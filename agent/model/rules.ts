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
  test: (s: string) => boolean;
}

const GLOB = { dot: true } as const;

export function compileRules(sources: RuleSource[]): Rule[] {
  return sources.map((src, index) => {
    let p = src.pattern.trim();
    const dirOnly = p.endsWith("/") && p.length > 1;
    if (dirOnly) p = p.slice(0, -1);
    // As in gitignore, a slash at the start or in the middle anchors the pattern at the root;
    // otherwise it matches a name at any depth.
    const anchored = p.includes("/");
    if (p.startsWith("/")) p = p.slice(1);
    const segments = anchored ? (p === "" ? [] : p.split("/")) : [];
    const test = p === "" ? () => true : picomatch(p, GLOB);
    return { ...src, index, anchored, dirOnly, segments, test };
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

export class RuleSet {
  readonly rules: Rule[];
  constructor(sources: RuleSource[]) {
    this.rules = compileRules(sources);
  }

  /** Decision for `rel` (no leading slash) given the deciding index inherited from its parent. */
  decideChild(rel: string, name: string, isDir: boolean, parentIndex: number): number {
    for (let i = this.rules.length - 1; i > parentIndex; i--) {
      const r = this.rules[i];
      if (r.dirOnly && !isDir) continue;
      if (r.test(r.anchored ? rel : name)) return i;
    }
    return parentIndex;
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
      if (segmentsMayExtend(r.segments, dir)) return true;
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

function segmentsMayExtend(pattern: string[], dir: string[]): boolean {
  for (let k = 0; k < pattern.length; k++) {
    if (pattern[k] === "**") return true;
    if (k >= dir.length) return true;
    if (!picomatch.isMatch(dir[k], pattern[k], GLOB)) return false;
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

export function globMatcher(patterns: string[]): (s: string) => boolean {
  return patterns.length ? picomatch(patterns, GLOB) : () => false;
}
