// Restoring what is not files: the package set (with the guest's package manager), the environment
// (a login-shell script), and the CernVM-FS repositories (configuration checked, mounts probed).
import type { Context } from "./context.js";
import type { Logbook } from "./logbook.js";
import { CVMFS_FILE, ENV_FILE, PACKAGES_FILE } from "./snapshot.js";
import { capturePackages } from "../capture/packages.js";
import { captureCvmfs } from "../capture/cvmfs.js";
import { packageKey, parsePackages } from "../model/packages.js";
import { parseEnv } from "../model/env.js";
import { configuredRepos, parseCvmfs, type Repo } from "../model/cvmfs.js";

/** The script a login shell sources; owned by the agent, rewritten by every restore. */
export const ENV_SCRIPT = "/etc/profile.d/vml-env.sh";
/** Who the shell is, not what it was set up with: never written for every user of the machine. */
const IDENTITY = new Set(["HOME", "USER", "LOGNAME", "SHELL", "HOSTNAME", "UID", "EUID", "PPID", "SUDO_USER", "SUDO_UID", "SUDO_GID", "SUDO_COMMAND"]);

/** What a snapshot recorded besides files (absent in a snapshot that did not record it). */
export interface Records {
  packages?: string;
  env?: string;
  cvmfs?: string;
}

/** The three records of a snapshot, read together (one git process). */
export async function readRecords(lb: Logbook, tree: string): Promise<Records> {
  const [packages, env, cvmfs] = await lb.readBlobs([PACKAGES_FILE, ENV_FILE, CVMFS_FILE].map((f) => `${tree}:${f}`));
  return { packages: packages?.toString(), env: env?.toString(), cvmfs: cvmfs?.toString() };
}

export interface PackagePlan {
  format?: "rpm" | "dpkg";
  install: string[];
  extra: string[];
}

export async function planPackages(ctx: Context, text: string | undefined): Promise<PackagePlan> {
  if (!text) return { install: [], extra: [] };
  const want = parsePackages(text);
  const have = (await capturePackages(ctx.sys, ctx.root, want.format)) ?? { format: want.format, lines: [] };
  const present = new Set(have.lines);
  const wanted = new Set(want.lines);
  const wantedNames = new Set(want.lines.map((l) => packageKey(want.format, l).key));
  return {
    format: want.format,
    // Missing, or present in another version: the package manager is asked for the recorded one.
    install: want.lines.filter((l) => !present.has(l)),
    extra: have.lines.filter((l) => !wanted.has(l) && !wantedNames.has(packageKey(want.format, l).key)),
  };
}

/** How the package manager names one recorded package when asked to install it. */
export function installSpec(format: "rpm" | "dpkg", line: string): string {
  if (format === "dpkg") {
    const [nameArch, version] = line.split("\t");
    return `${nameArch}=${version}`;
  }
  const colon = line.indexOf(":");
  const epoch = line.slice(0, colon);
  const nvra = line.slice(colon + 1);
  if (epoch === "0") return nvra;
  const { key } = packageKey("rpm", line);
  const name = key.slice(0, key.lastIndexOf("."));
  return `${name}-${epoch}:${nvra.slice(name.length + 1)}`;
}

export interface PackageResult {
  installed: string[];
  failed: string[];
  removed: string[];
  extra: string[];
  output?: string;
}

function command(template: string[], root: string): string[] {
  return template.map((a) => a.replaceAll("{root}", root));
}

export async function applyPackages(ctx: Context, plan: PackagePlan, removeExtra: boolean): Promise<PackageResult> {
  const res: PackageResult = { installed: [], failed: [], removed: [], extra: removeExtra ? [] : plan.extra };
  if (!plan.format) return res;
  const cmds = ctx.config.packageCommands[plan.format];
  const run = async (template: string[], lines: string[]): Promise<boolean> => {
    if (!lines.length) return true;
    const [cmd, ...args] = command(template, ctx.root);
    try {
      const r = await ctx.sys.exec(cmd, [...args, ...lines.map((l) => installSpec(plan.format!, l))], { env: { ...ctx.sys.env(), LC_ALL: "C" } });
      res.output = (res.output ?? "") + r.stdout.toString() + r.stderr;
      ctx.log.debug({ cmd, packages: lines.length, code: r.code }, "package manager");
      return r.code === 0;
    } catch (e) {
      res.output = (res.output ?? "") + `${cmd}: ${(e as Error).message}\n`;
      return false;
    }
  };
  const format = plan.format;
  const present = async () => new Set(((await capturePackages(ctx.sys, ctx.root, format)) ?? { lines: [] }).lines);
  // One transaction for all; when the package manager refuses it (one package it cannot find fails
  // them all), each package is asked for alone, so everything that can be installed is.
  if (!(await run(cmds.install, plan.install)) && plan.install.length > 1) {
    const have = await present();
    for (const l of plan.install) if (!have.has(l)) await run(cmds.install, [l]);
  }
  if (removeExtra) await run(cmds.remove, plan.extra);
  const now = await present();
  for (const l of plan.install) (now.has(l) ? res.installed : res.failed).push(l);
  if (removeExtra) for (const l of plan.extra) (now.has(l) ? res.extra : res.removed).push(l);
  return res;
}

function shellQuote(v: string): string {
  return `'${v.replaceAll("'", `'\\''`)}'`;
}

export interface EnvResult {
  script: string;
  variables: string[];
}

export function envScript(text: string | undefined, refId: string): { text: string; variables: string[] } | undefined {
  if (!text) return undefined;
  const env = parseEnv(text);
  const names = Object.keys(env).filter((n) => !IDENTITY.has(n));
  const lines = [
    `# Written by vml-agent restore: the environment recorded in snapshot ${refId}.`,
    "# Rewritten by the next restore; edit your own shell start-up files instead.",
    ...names.map((n) => `export ${n}=${shellQuote(env[n])}`),
  ];
  return { text: lines.join("\n") + "\n", variables: names };
}

/**
 * Makes sure a folder of the root (relative, "a/b") is a real folder all the way, creating what is
 * missing: a symlink on the way could lead a write outside the root.
 */
function realFolder(ctx: Context, rel: string): void {
  let at = ctx.root === "/" ? "" : ctx.root;
  for (const name of rel.split("/")) {
    at += `/${name}`;
    const st = ctx.sys.lstat(at);
    if (!st) ctx.sys.mkdirOne(at, 0o755);
    else if (st.kind !== "dir") throw new Error(`${at.slice(ctx.root === "/" ? 0 : ctx.root.length)} is a ${st.kind}, not a folder: nothing is written through it`);
  }
}

export function writeEnvScript(ctx: Context, text: string): void {
  realFolder(ctx, "etc/profile.d");
  // Not flushed on its own: the restore flushes the whole file system before it reports.
  ctx.sys.writeFileAtomic(`${ctx.root === "/" ? "" : ctx.root}${ENV_SCRIPT}`, text, 0o644, false);
}

export interface CvmfsReport {
  missingConfig: string[];
  notMounted: string[];
  moved: { name: string; recorded: string; now?: string; pin: string }[];
}

/** Compares the recorded repositories with this machine's, after the files (and so the configuration) are back. */
export async function checkCvmfs(ctx: Context, text: string | undefined): Promise<CvmfsReport> {
  const out: CvmfsReport = { missingConfig: [], notMounted: [], moved: [] };
  if (!text) return out;
  const want = parseCvmfs(text);
  const now = new Map((await captureCvmfs(ctx.sys, ctx.root, ctx.config.mountsTable)).map((r) => [r.name, r]));
  for (const w of want) {
    const n: Repo | undefined = now.get(w.name);
    if (w.configured && !n?.configured) out.missingConfig.push(w.name);
    if (w.mounted && !n?.mounted) out.notMounted.push(w.name);
    if (w.mounted && n?.mounted && w.revision && n.revision !== w.revision) {
      out.moved.push({
        name: w.name,
        recorded: w.revision,
        now: n.revision,
        pin: w.rootHash ? `CVMFS_ROOT_HASH=${w.rootHash} in /etc/cvmfs/config.d/${w.name}.local` : `CVMFS_REPOSITORY_TAG=<tag of revision ${w.revision}> in /etc/cvmfs/config.d/${w.name}.local`,
      });
    }
  }
  return out;
}

/** Adds recorded repositories the restored configuration lacks (the last assignment wins). */
export function addCvmfsRepos(ctx: Context, names: string[]): void {
  realFolder(ctx, "etc/cvmfs");
  const file = `${ctx.root === "/" ? "" : ctx.root}/etc/cvmfs/default.local`;
  const text = ctx.sys.exists(file) ? ctx.sys.readFile(file).toString() : "";
  const repos = [...new Set([...configuredRepos(text), ...names])];
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  ctx.sys.writeFileAtomic(file, `${text}${sep}# added by vml-agent restore\nCVMFS_REPOSITORIES=${repos.join(",")}\n`, 0o644);
}
