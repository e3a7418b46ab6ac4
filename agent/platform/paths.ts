// Where the installed package keeps its shipped files (rule sets, package.json). Found by walking up
// from this module, which sits at a different depth in the bundle than in the compiled tree.
import { fileURLToPath } from "node:url";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";

function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(`${dir}/package.json`) || !existsSync(`${dir}/rules`)) {
    const up = dirname(dir);
    if (up === dir) throw new Error("vml-agent: cannot find the package's rules/ next to its package.json");
    dir = up;
  }
  return dir;
}

export const PACKAGE_DIR = packageDir();
export const SHIPPED_RULES_DIR = `${PACKAGE_DIR}/rules`;
export const AGENT_VERSION: string = JSON.parse(readFileSync(`${PACKAGE_DIR}/package.json`, "utf8")).version;
/**
 * This build of the agent: the version, and when this module was written (every build writes it).
 * A cache made by another build is not trusted, even of the same version.
 */
export const BUILD: string = `${AGENT_VERSION} ${statSync(fileURLToPath(import.meta.url)).mtimeMs}`;
/** The module that takes one of the daemon's snapshots in a process of its own (see the bundle). */
export const SNAPSHOT_PROCESS = `${PACKAGE_DIR}/dist/vml-snapshot.mjs`;
