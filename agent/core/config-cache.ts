// The configuration as the last command that parsed it left it (docs/FORMAT.md, "Configuration",
// its cache): a command whose configuration and rule sets have not changed since reads one small JSON
// file instead of parsing YAML, and never loads the parser at all. A cache, never the truth: any
// doubt means the files are parsed again, and a configuration with an error is never cached.
import type { Config } from "./config.js";
import { LOGBOOK_PATH } from "./logbook.js";
import type { System } from "../platform/system.js";

const CACHE_NAME = "vml-config-cache";
const VERSION = 1;
/** A file changed this recently may change again within its timestamps' granularity. */
const RACY_MS = 2000;

interface Source {
  file: string;
  /** size.mtime.ctime.inode (ns), or "absent". */
  stamp: string;
}

interface CacheFile {
  version: number;
  /** What the cache was made for: the agent's build, the configuration file asked for, the rule sets' folder. */
  key: string;
  sources: Source[];
  config: Config;
}

/** A source's identity and when it last changed; undefined when it cannot vouch for its content (a symlink, whose target may change unseen). */
function sourceOf(sys: System, file: string): (Source & { changedNs: bigint }) | undefined {
  const st = sys.lstat(file);
  if (!st) return { file, stamp: "absent", changedNs: 0n };
  return st.kind === "file" ? { file, stamp: `${st.size}.${st.mtimeNs}.${st.ctimeNs}.${st.ino}`, changedNs: st.ctimeNs } : undefined;
}

export function defaultConfigFile(root: string): string {
  return `${root === "/" ? "" : root}/etc/vml/agent.yaml`;
}

/**
 * The configuration for ROOT: ROOT/etc/vml/agent.yaml (or `configFile`) over the rule sets in
 * `rulesDir`, from the cache in the logbook while none of those files changed and the cache was
 * made by this `build` of the agent (another may read or default the configuration differently).
 */
export async function readConfig(sys: System, root: string, rulesDir: string, build: string, configFile?: string): Promise<Config> {
  const cacheFile = `${root === "/" ? "" : root}${LOGBOOK_PATH}/${CACHE_NAME}`;
  const key = JSON.stringify([build, configFile ?? defaultConfigFile(root), rulesDir]);
  const cached = readCache(sys, cacheFile, key);
  if (cached) return cached;
  const { loadConfig } = await import("./config.js");
  const config = loadConfig(sys, root, rulesDir, configFile);
  const racyAfter = BigInt(sys.now().getTime() - RACY_MS) * 1_000_000n;
  const sources = [config.configFile, ...config.ruleSets.map((n) => `${rulesDir}/${n}.yaml`)].map((f) => sourceOf(sys, f));
  if (sources.some((s) => !s || s.changedNs >= racyAfter)) return config;
  const body: CacheFile = { version: VERSION, key, sources: sources.map((s) => ({ file: s!.file, stamp: s!.stamp })), config };
  try {
    sys.writeFile(`${cacheFile}.tmp-${sys.pid()}`, JSON.stringify(body), 0o600);
    sys.rename(`${cacheFile}.tmp-${sys.pid()}`, cacheFile);
  } catch {
    // No logbook yet, or not ours to write (a user without the daemon): parsed again next time.
  }
  return config;
}

function readCache(sys: System, cacheFile: string, key: string): Config | undefined {
  let body: CacheFile;
  try {
    body = JSON.parse(sys.readFile(cacheFile).toString()) as CacheFile;
  } catch {
    return undefined;
  }
  if (body?.version !== VERSION || body.key !== key || !Array.isArray(body.sources)) return undefined;
  return body.sources.every((s) => sourceOf(sys, s.file)?.stamp === s.stamp) ? body.config : undefined;
}
