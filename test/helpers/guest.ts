// Guest roots declared as data, built in temporary folders, and the agent run on them as a user would.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const AGENT = path.join(REPO, "dist/vml-agent.mjs");

export interface FileSpec {
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
}
export type Spec = string | FileSpec | { symlink: string } | { dir: true; mode?: number } | { fifo: true };
export type Fixture = Record<string, Spec>;

const FIXED_TIME = 1_700_000_000;

/** Writes a fixture under root; keys are guest paths (Buffer-safe via latin1 escapes in tests). */
export function writeFixture(root: string, fixture: Fixture): void {
  for (const [rel, spec] of Object.entries(fixture)) {
    const p = Buffer.concat([Buffer.from(root + "/"), Buffer.from(rel.replace(/^\//, ""), "latin1")]);
    fs.mkdirSync(p.subarray(0, p.lastIndexOf("/")), { recursive: true });
    if (typeof spec === "string" || !("symlink" in spec || "dir" in spec || "fifo" in spec)) {
      const s: FileSpec = typeof spec === "string" ? { content: spec } : (spec as FileSpec);
      fs.rmSync(p, { force: true });
      fs.writeFileSync(p, s.content ?? "");
      // Owner first: a chown clears setuid and setgid.
      if (s.uid !== undefined) fs.chownSync(p, s.uid, s.gid ?? s.uid);
      fs.chmodSync(p, s.mode ?? 0o644);
      fs.utimesSync(p, s.mtime ?? FIXED_TIME, s.mtime ?? FIXED_TIME);
    } else if ("symlink" in spec) {
      fs.symlinkSync(spec.symlink, p);
    } else if ("dir" in spec) {
      fs.mkdirSync(p, { recursive: true });
      fs.chmodSync(p, spec.mode ?? 0o755);
    } else if ("fifo" in spec) {
      execFileSync("mkfifo", [p.toString("latin1")]);
    }
  }
}

export const BASE_FIXTURE: Fixture = {
  "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
  "etc/group": "root:x:0:\nalice:x:1000:\n",
  "etc/hosts": "127.0.0.1 localhost\n",
  "etc/mtab": "volatile\n",
  "etc/vml/agent.yaml": "mounts_table: /nonexistent/mounts\n",
  "home/alice/work/ana.C": { content: "void ana() {}\n", uid: 1000, gid: 1000 },
  "home/alice/.cache/pip/x": "cache\n",
  "var/lib/dpkg/status": "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2-1\n\n",
};

export function tempDir(prefix = "vml-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function makeGuest(fixture: Fixture = BASE_FIXTURE): string {
  const root = tempDir();
  writeFixture(root, fixture);
  return root;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: () => Record<string, unknown>;
}

/** Runs vml-agent as a user would; VML_* and a clean, fixed environment make runs repeatable. */
export function agent(root: string, args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [AGENT, "--root", root, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", USER: "alice", ...env },
    encoding: "utf8",
  });
  return {
    code: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    json: () => JSON.parse(r.stdout),
  };
}

export function git(root: string, args: string[], input?: string): Buffer {
  return execFileSync("git", args, { input, env: { ...process.env, GIT_DIR: `${root}/var/lib/vml/logbook`, GIT_WORK_TREE: root } });
}

export function cleanup(root: string): void {
  fs.rmSync(root, { recursive: true, force: true });
}
