// The agent's configuration: ROOT/etc/vml/agent.yaml on top of the shipped rule sets. Defaults are
// filled in here and nowhere else; every key left out of the file takes its default. Bad input is
// reported with its file, line and column.
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node } from "yaml";
import { VmlError } from "./errors.js";
import { compileGlobs, parseSize, type GlobTable, type RuleSource } from "../model/rules.js";
import { validate as validateCron } from "node-cron";
import type { System } from "../platform/system.js";
import { defaultConfigFile } from "./config-cache.js";

export interface Config {
  configFile: string;
  configFound: boolean;
  ruleSets: string[];
  rules: RuleSource[];
  sizeLimit: number;
  envDrop: string[];
  base: string;
  mountsTable: string;
  packages: "auto" | "rpm" | "dpkg" | "none";
  /** Seconds a writer waits for another one holding the logbook before giving up. */
  lockWait: number;
  /** The daemon's timing, in seconds: quiet before a snapshot, latest delay, least interval. */
  watch: { settle: number; maxDelay: number; minInterval: number };
  /** The daemon's cron schedules ("" for none): a periodic snapshot, a full rescan, a prune run. */
  schedule: { snapshot: string; rescan: string; prune: string };
  /** The group whose members may use the daemon's socket (mode 0660); root only when it does not exist. */
  socketGroup: string;
  /** The retention the scheduled prune applies. */
  pruneKeep: { last?: number; hourly?: number; daily?: number; weekly?: number; monthly?: number };
  /** Package manager commands for restore; "{root}" stands for ROOT, package names are appended. */
  packageCommands: Record<"rpm" | "dpkg", { install: string[]; remove: string[] }>;
  /** `rules` and `envDrop` compiled as they were read (kept in the configuration's cache). */
  globs?: GlobTable;
}

const DEFAULTS: Omit<Config, "configFile" | "configFound" | "rules" | "envDrop"> = {
  ruleSets: ["default", "cernvm"],
  sizeLimit: 64 * 1024 * 1024,
  base: "base",
  mountsTable: "/proc/mounts",
  packages: "auto",
  lockWait: 30,
  watch: { settle: 30, maxDelay: 600, minInterval: 60 },
  schedule: { snapshot: "", rescan: "*/30 * * * *", prune: "" },
  pruneKeep: {},
  socketGroup: "vml",
  packageCommands: {
    rpm: { install: ["dnf", "-y", "--installroot", "{root}", "install"], remove: ["dnf", "-y", "--installroot", "{root}", "remove"] },
    // apt's own files and dpkg's database and files under ROOT (both "/" on the guest itself).
    dpkg: {
      install: ["apt-get", "-y", "-o", "Dir={root}", "-o", "DPkg::Options::=--root={root}", "install"],
      remove: ["apt-get", "-y", "-o", "Dir={root}", "-o", "DPkg::Options::=--root={root}", "remove"],
    },
  },
};

/** Always last and not overridable: the logbook never records itself. */
const BUILT_IN: RuleSource[] = [
  { action: "exclude", pattern: "/var/lib/vml/", origin: "built-in (the logbook itself)" },
  { action: "exclude", pattern: "/.vml", origin: "built-in (reserved for snapshot metadata)" },
  { action: "exclude", pattern: ".git/", origin: "built-in (git cannot store nested .git folders)" },
  { action: "exclude", pattern: "/etc/profile.d/vml-env.sh", origin: "built-in (written by restore from the recorded environment)" },
  { action: "exclude", pattern: ".vml-restore.*", origin: "built-in (what an interrupted restore leaves behind)" },
];

interface Doc {
  file: string;
  /** How rules from this file name their origin: shipped sets by their place in the package. */
  label: string;
  lines: LineCounter;
}

function where(doc: Doc, node: Node | null | undefined): string {
  const off = node?.range?.[0];
  if (off === undefined) return doc.file;
  const p = doc.lines.linePos(off);
  return `${doc.file}:${p.line}:${p.col}`;
}

function bad(code: "BAD_CONFIG" | "BAD_RULES", doc: Doc, node: Node | null | undefined, msg: string): VmlError {
  return new VmlError(code, `${where(doc, node)}: ${msg}`);
}

function parseYaml(sys: System, file: string, code: "BAD_CONFIG" | "BAD_RULES", label = file) {
  let text: string;
  try {
    text = sys.readFile(file).toString("utf8");
  } catch (e) {
    throw new VmlError(code, `${file}: cannot read: ${(e as Error).message}`);
  }
  const lines = new LineCounter();
  const yd = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const doc: Doc = { file, label, lines };
  const err = yd.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const at = pos ? `${file}:${pos.line}:${pos.col}` : file;
    const what = err.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new VmlError(code, `${at}: malformed YAML: ${what}`);
  }
  const root = yd.contents;
  if (root !== null && !isMap(root)) throw bad(code, doc, root, "expected a mapping of keys");
  return { doc, root };
}

type Handlers = Record<string, (node: Node) => void>;

function eachKey(code: "BAD_CONFIG" | "BAD_RULES", doc: Doc, root: Node | null, handlers: Handlers): void {
  if (!root || !isMap(root)) return;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const h = handlers[key];
    if (!h) throw bad(code, doc, pair.key as Node, `unknown key "${key}" (known: ${Object.keys(handlers).join(", ")})`);
    h(pair.value as Node);
  }
}

function stringList(code: "BAD_CONFIG" | "BAD_RULES", doc: Doc, node: Node, what: string): string[] {
  if (!isSeq(node)) throw bad(code, doc, node, `${what} must be a list`);
  return node.items.map((it) => {
    if (!isScalar(it) || typeof it.value !== "string") throw bad(code, doc, it as Node, `${what} entries must be strings`);
    return it.value;
  });
}

function ruleList(code: "BAD_CONFIG" | "BAD_RULES", doc: Doc, node: Node): RuleSource[] {
  if (!isSeq(node)) throw bad(code, doc, node, "rules must be a list of `- include: PATTERN` or `- exclude: PATTERN`");
  return node.items.map((it) => {
    const item = it as Node;
    if (!isMap(item) || item.items.length !== 1) throw bad(code, doc, item, "each rule is one `include: PATTERN` or `exclude: PATTERN`");
    const pair = item.items[0];
    const action = isScalar(pair.key) ? String(pair.key.value) : "";
    if (action !== "include" && action !== "exclude") throw bad(code, doc, pair.key as Node, `a rule is include or exclude, not "${action}"`);
    const v = pair.value;
    if (!isScalar(v) || typeof v.value !== "string" || v.value.trim() === "") throw bad(code, doc, (v ?? item) as Node, "a rule's pattern must be a non-empty string");
    const pos = doc.lines.linePos(item.range?.[0] ?? 0);
    return { action, pattern: v.value, origin: `${doc.label}:${pos.line}` };
  });
}

function sizeOf(code: "BAD_CONFIG" | "BAD_RULES", doc: Doc, node: Node): number {
  const size = parseSize(isScalar(node) ? node.value : undefined);
  if (size === undefined) throw bad(code, doc, node, "size_limit must be a size such as 64MiB or 1G");
  return size;
}

function seconds(doc: Doc, node: Node, what: string): number {
  if (!isScalar(node) || typeof node.value !== "number" || !(node.value >= 0)) throw bad("BAD_CONFIG", doc, node, `${what} is a number of seconds`);
  return node.value;
}

function scalarString(doc: Doc, node: Node, what: string): string {
  if (!isScalar(node) || typeof node.value !== "string" || node.value === "") throw bad("BAD_CONFIG", doc, node, `${what} must be a string`);
  return node.value;
}

export interface ShippedRuleSet {
  name: string;
  rules: RuleSource[];
  sizeLimit?: number;
  envDrop: string[];
}

export function loadRuleSet(sys: System, dir: string, name: string): ShippedRuleSet {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new VmlError("BAD_CONFIG", `rule set "${name}": not a rule set name`);
  const file = `${dir}/${name}.yaml`;
  if (!sys.exists(file)) throw new VmlError("BAD_CONFIG", `rule set "${name}" does not exist (looked for ${file})`);
  const { doc, root } = parseYaml(sys, file, "BAD_RULES", `rules/${name}.yaml`);
  const out: ShippedRuleSet = { name, rules: [], envDrop: [] };
  eachKey("BAD_RULES", doc, root, {
    version: (n) => {
      if (!isScalar(n) || n.value !== 1) throw bad("BAD_RULES", doc, n, "only rule set version 1 is known");
    },
    description: () => undefined,
    size_limit: (n) => (out.sizeLimit = sizeOf("BAD_RULES", doc, n)),
    rules: (n) => (out.rules = ruleList("BAD_RULES", doc, n)),
    env_drop: (n) => (out.envDrop = stringList("BAD_RULES", doc, n, "env_drop")),
  });
  return out;
}

export function loadConfig(sys: System, root: string, rulesDir: string, configFile?: string): Config {
  const file = configFile ?? defaultConfigFile(root);
  const found = sys.exists(file);
  if (configFile && !found) throw new VmlError("BAD_CONFIG", `${configFile}: no such configuration file`);
  const user: Partial<Config> & { extraDrop?: string[] } = {};
  const commands = structuredClone(DEFAULTS.packageCommands);
  const watch = { ...DEFAULTS.watch };
  const schedule = { ...DEFAULTS.schedule };
  const pruneKeep: Config["pruneKeep"] = {};
  const cronKey = (key: keyof typeof schedule, doc: Doc) => (n: Node) => {
    const v = isScalar(n) && (n.value === null || n.value === "") ? "" : scalarString(doc, n, `schedule_${key}`);
    if (v !== "" && !validateCron(v)) throw bad("BAD_CONFIG", doc, n, `schedule_${key}: "${v}" is not a cron expression (minute hour day month weekday)`);
    schedule[key] = v;
  };
  const keepKey = (key: keyof Config["pruneKeep"], doc: Doc) => (n: Node) => {
    if (!isScalar(n) || typeof n.value !== "number" || !Number.isInteger(n.value) || n.value < 0) throw bad("BAD_CONFIG", doc, n, `prune_keep_${key} is a whole number`);
    pruneKeep[key] = n.value;
  };
  const commandKey = (format: "rpm" | "dpkg", op: "install" | "remove", doc: Doc) => (n: Node) => {
    const list = stringList("BAD_CONFIG", doc, n, `${format}_${op}`);
    if (!list.length) throw bad("BAD_CONFIG", doc, n, `${format}_${op} needs a command`);
    commands[format][op] = list;
  };
  if (found) {
    const { doc, root: node } = parseYaml(sys, file, "BAD_CONFIG");
    eachKey("BAD_CONFIG", doc, node, {
      rule_sets: (n) => (user.ruleSets = stringList("BAD_CONFIG", doc, n, "rule_sets")),
      rules: (n) => (user.rules = ruleList("BAD_CONFIG", doc, n)),
      size_limit: (n) => (user.sizeLimit = sizeOf("BAD_CONFIG", doc, n)),
      env_drop: (n) => (user.extraDrop = stringList("BAD_CONFIG", doc, n, "env_drop")),
      base: (n) => (user.base = scalarString(doc, n, "base")),
      mounts_table: (n) => (user.mountsTable = scalarString(doc, n, "mounts_table")),
      rpm_install: commandKey("rpm", "install", doc),
      rpm_remove: commandKey("rpm", "remove", doc),
      dpkg_install: commandKey("dpkg", "install", doc),
      dpkg_remove: commandKey("dpkg", "remove", doc),
      watch_settle: (n) => (watch.settle = seconds(doc, n, "watch_settle")),
      watch_max_delay: (n) => (watch.maxDelay = seconds(doc, n, "watch_max_delay")),
      watch_min_interval: (n) => (watch.minInterval = seconds(doc, n, "watch_min_interval")),
      lock_wait: (n) => (user.lockWait = seconds(doc, n, "lock_wait")),
      socket_group: (n) => (user.socketGroup = scalarString(doc, n, "socket_group")),
      schedule_snapshot: cronKey("snapshot", doc),
      schedule_rescan: cronKey("rescan", doc),
      schedule_prune: cronKey("prune", doc),
      prune_keep_last: keepKey("last", doc),
      prune_keep_hourly: keepKey("hourly", doc),
      prune_keep_daily: keepKey("daily", doc),
      prune_keep_weekly: keepKey("weekly", doc),
      prune_keep_monthly: keepKey("monthly", doc),
      packages: (n) => {
        const v = scalarString(doc, n, "packages");
        if (!["auto", "rpm", "dpkg", "none"].includes(v)) throw bad("BAD_CONFIG", doc, n, "packages is auto, rpm, dpkg or none");
        user.packages = v as Config["packages"];
      },
    });
  }
  if (schedule.prune && !Object.keys(pruneKeep).length) {
    throw new VmlError("BAD_CONFIG", `${file}: schedule_prune needs at least one prune_keep_... (it would delete every snapshot)`);
  }
  const sets = (user.ruleSets ?? [...DEFAULTS.ruleSets]).map((n) => loadRuleSet(sys, rulesDir, n));
  let sizeLimit: number = DEFAULTS.sizeLimit;
  for (const s of sets) if (s.sizeLimit !== undefined) sizeLimit = s.sizeLimit;
  const rules = [...sets.flatMap((s) => s.rules), ...(user.rules ?? []), ...BUILT_IN];
  const envDrop = [...sets.flatMap((s) => s.envDrop), ...(user.extraDrop ?? [])];
  return {
    configFile: file,
    configFound: found,
    ruleSets: sets.map((s) => s.name),
    rules,
    sizeLimit: user.sizeLimit ?? sizeLimit,
    envDrop,
    globs: compileGlobs(rules, envDrop),
    base: user.base ?? DEFAULTS.base,
    mountsTable: user.mountsTable ?? DEFAULTS.mountsTable,
    packages: user.packages ?? DEFAULTS.packages,
    lockWait: user.lockWait ?? DEFAULTS.lockWait,
    socketGroup: user.socketGroup ?? DEFAULTS.socketGroup,
    packageCommands: commands,
    watch,
    schedule,
    pruneKeep,
  };
}
