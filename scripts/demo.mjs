#!/usr/bin/env node
// npm run demo: builds a CernVM-like guest root in a temporary folder and runs the agent on it as a
// physicist would: init, work, status, commit, log, diff, show. Nothing outside that folder is touched.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const agentBin = path.join(repo, "dist/vml-agent.mjs");
if (!fs.existsSync(agentBin)) {
  console.error("demo: the agent is not built; run `npm install` (or `npm run build`) first");
  process.exit(1);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "vml-demo-guest-"));
const put = (rel, content, mode = 0o644) => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode);
};

// A CernVM-like /etc
put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice Physicist:/home/alice:/bin/bash\n");
put("etc/group", "root:x:0:\nalice:x:1000:\n");
put("etc/shadow", "root:!:19000::::::\nalice:$6$demo$hash:19000::::::\n", 0o000);
put("etc/hostname", "cernvm-demo\n");
put("etc/hosts", "127.0.0.1 localhost\n");
put("etc/profile.d/lang.sh", "export LANG=en_US.UTF-8\n");
put("etc/mtab", "rootfs / rootfs rw 0 0\n");
put("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
put("etc/cernvm/site.conf", "CERNVM_ORGANISATION=ATLAS\n");
put("etc/cvmfs/default.local", "CVMFS_REPOSITORIES=atlas.cern.ch,sft.cern.ch\nCVMFS_HTTP_PROXY=DIRECT\n");
put("etc/vml/agent.yaml", [
  "# The demo's configuration: the shipped rule sets plus one rule of the user's.",
  `mounts_table: ${root}/proc-mounts`,
  "rules:",
  "  - exclude: /home/*/work/*/build/",
  "",
].join("\n"));
put("proc-mounts", "cvmfs2 /cvmfs/sft.cern.ch fuse ro,nosuid,nodev,relatime 0 0\n");
// A package database (dpkg's status file, read with the real dpkg-query)
const pkg = (name, version) => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n\n`;
put("var/lib/dpkg/status", pkg("bash", "5.2.15-2") + pkg("gcc", "4:12.2.0-3") + pkg("python3", "3.11.2-1"));

// Alice's work area
put("home/alice/.bashrc", "source /cvmfs/sft.cern.ch/lcg/views/LCG_104/x86_64-el9-gcc13-opt/setup.sh\n");
put("home/alice/.cache/pip/wheel.bin", "cache that is never recorded\n");
put("home/alice/work/zmumu/CMakeLists.txt", "cmake_minimum_required(VERSION 3.20)\nproject(zmumu)\n");
put("home/alice/work/zmumu/ana.C", "void ana() {\n  // select Z -> mu mu\n  double mass_window = 10.0;\n}\n");
put("home/alice/work/zmumu/run.sh", "#!/bin/sh\nroot -l -b -q ana.C\n", 0o755);
put("home/alice/work/zmumu/build/ana.o", "object code\n");
put("home/alice/work/zmumu/notes with spaces.txt", "first look at 2024 data\n");
for (let i = 0; i < 200; i++) put(`home/alice/work/zmumu/config/cut${String(i).padStart(3, "0")}.yaml`, `cut: ${i}\n`);
for (const p of ["home/alice", "home/alice/work", "home/alice/work/zmumu"]) fs.chownSync(path.join(root, p), 1000, 1000);

// A shell of Alice's: a few variables, not this machine's whole environment.
const env = { PATH: process.env.PATH, HOME: "/home/alice", USER: "alice", LANG: "C.UTF-8", ROOTSYS: "/cvmfs/sft.cern.ch/lcg/releases/ROOT/6.30.02", ATLAS_LOCAL_ROOT_BASE: "/cvmfs/atlas.cern.ch/repo/ATLASLocalRootBase" };
const run = (title, args, extraEnv = {}) => {
  console.log(`\n$ vml-agent --root ${root} ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  if (title) console.log(`# ${title}`);
  const r = spawnSync(process.execPath, [agentBin, "--root", root, ...args], { env: { ...env, ...extraEnv }, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`demo: vml-agent ${args[0]} exited ${r.status}`);
    process.exit(1);
  }
};

run("create the logbook and take the base snapshot of this machine", ["init", "--base", "cernvm-demo-5.1"]);
run("why is the pip cache not recorded?", ["rules", "check", "/home/alice/.cache/pip/wheel.bin", "/home/alice/work/zmumu/build/ana.o", "/etc/hosts"]);

// A day of work
put("home/alice/work/zmumu/ana.C", "void ana() {\n  // select Z -> mu mu\n  double mass_window = 15.0;\n  bool use_isolation = true;\n}\n");
put("home/alice/work/zmumu/fit.py", "import ROOT\nprint('fitting')\n");
fs.chmodSync(path.join(root, "home/alice/work/zmumu/notes with spaces.txt"), 0o600);
fs.rmSync(path.join(root, "home/alice/work/zmumu/config/cut007.yaml"));
fs.appendFileSync(path.join(root, "var/lib/dpkg/status"), pkg("root-system", "6.30.02-1"));
fs.writeFileSync(path.join(root, "etc/cvmfs/default.local"), "CVMFS_REPOSITORIES=atlas.cern.ch,sft.cern.ch,cms.cern.ch\n");
const workEnv = { ROOTSYS: "/cvmfs/sft.cern.ch/lcg/releases/ROOT/6.32.00", ANALYSIS_TAG: "v2" };

run("what changed since the base snapshot, not yet recorded", ["status"], workEnv);
run("record it", ["commit", "-m", "wider mass window, isolation on\n\nAfter talking to the conveners."], workEnv);
run("nothing changed: no new snapshot", ["commit", "-m", "again"], workEnv);
run("history", ["log"], workEnv);
run("what the last snapshot changed, with the text of the changes", ["diff", "-p", "@~1", "@", "--", "/home/alice/work/zmumu/ana.C"], workEnv);
run("one snapshot in full", ["show", "@"], workEnv);
run("what going back to the base would do (nothing is changed)", ["restore", "--dry-run", "base"], workEnv);
run("a state small enough to mail, for a fresh CernVM of the same version", ["export", "@", "-o", path.join(root, "tmp-state.vml")], workEnv);
run("the logbook checks out", ["verify"], workEnv);

console.log(`
The demo guest is at ${root}
Its logbook is ${root}/var/lib/vml/logbook, an ordinary git repository:
  git --git-dir=${root}/var/lib/vml/logbook log --stat
Remove it with: rm -rf ${root}`);
