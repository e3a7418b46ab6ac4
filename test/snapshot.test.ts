// init, commit, status, log, show, diff on temporary guest roots, with real git, as a user runs them.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { agent, cleanup, git, makeGuest, writeFixture } from "./helpers/guest.js";

test("init takes the base snapshot in a 0700 logbook configured for durability", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const r = agent(root, ["--json", "init", "--base", "cernvm-5.1"]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.json();
  assert.match(String(out.id), /^[0-9a-f]{40}$/);
  const gitDir = `${root}/var/lib/vml/logbook`;
  assert.equal(fs.statSync(gitDir).mode & 0o777, 0o700);
  assert.equal(git(root, ["config", "core.fsync"]).toString().trim(), "reference,index");
  const files = git(root, ["ls-tree", "-r", "--name-only", "HEAD"]).toString().split("\n");
  assert.ok(files.includes("etc/hosts"));
  assert.ok(files.includes("home/alice/work/ana.C"));
  assert.ok(!files.includes("etc/mtab"), "volatile /etc/mtab is excluded");
  assert.ok(!files.some((f) => f.includes(".cache")), "caches are excluded");
  assert.ok(!files.some((f) => f.startsWith("var/")), "the logbook never records itself");
  assert.equal(git(root, ["rev-parse", "refs/vml/base"]).toString().trim(), out.id);
  assert.match(git(root, ["log", "-1", "--format=%B"]).toString(), /Vml-Base: cernvm-5.1/);
  // init twice is refused, and the logbook is untouched
  const again = agent(root, ["init"]);
  assert.equal(again.code, 2);
  assert.equal(git(root, ["rev-parse", "HEAD"]).toString().trim(), out.id);
});

test("commit records changes; a commit with nothing changed makes no snapshot and says so", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const base = agent(root, ["--json", "init"]).json().id as string;
  const same = agent(root, ["--json", "commit", "-m", "nothing"]);
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual({ id: same.json().id, unchanged: same.json().unchanged }, { id: base, unchanged: true });
  assert.match(agent(root, ["commit", "-m", "nothing"]).stdout, /Nothing changed/);

  writeFixture(root, { "home/alice/work/ana.C": { content: "void ana() { return; }\n", uid: 1000, gid: 1000, mtime: 1_700_000_100 } });
  writeFixture(root, { "home/alice/work/new.py": "print(1)\n" });
  fs.rmSync(`${root}/etc/hosts`);
  fs.chmodSync(`${root}/etc/passwd`, 0o600);
  const st = agent(root, ["--json", "status"]);
  assert.equal(st.code, 0, st.stderr);
  const s = st.json();
  assert.deepEqual(s.added, ["/home/alice/work/new.py"]);
  assert.deepEqual(s.modified, ["/home/alice/work/ana.C"]);
  assert.deepEqual(s.deleted, ["/etc/hosts"]);
  assert.ok((s.metadata as string[]).includes("/etc/passwd"));
  const passwd = (s.files as { path: string; flags: string }[]).find((f) => f.path === "/etc/passwd");
  assert.equal(passwd?.flags, ".p...");

  const c = agent(root, ["--json", "commit", "-m", "first analysis\n\nwith a second paragraph"]);
  assert.equal(c.code, 0, c.stderr);
  const id = c.json().id as string;
  assert.notEqual(id, base);
  assert.equal(c.json().unchanged, false);
  assert.equal(git(root, ["rev-parse", "HEAD~1"]).toString().trim(), base);
  assert.deepEqual(agent(root, ["--json", "status"]).json().added, []);

  const log = agent(root, ["--json", "log"]).json().snapshots as { id: string; message: string; trigger: string }[];
  assert.deepEqual(log.map((x) => x.id), [id, base]);
  assert.equal(log[0].message, "first analysis\n\nwith a second paragraph");
  assert.equal(log[0].trigger, "manual");
  assert.equal(log[1].trigger, "base");

  const show = agent(root, ["show", id.slice(0, 8)]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /first analysis/);
  assert.match(show.stdout, /-\.\.\.\. {2}\/etc\/hosts/);
  assert.match(show.stdout, /\.p\.\.\. {2}\/etc\/passwd {2}\(mode 0644 → 0600\)/);

  const d = agent(root, ["--json", "diff", "base", "@"]).json();
  assert.deepEqual(d.added, ["/home/alice/work/new.py"]);
  const limited = agent(root, ["--json", "diff", "base", "@", "--", "/etc"]).json();
  assert.deepEqual(limited.added, []);
  assert.deepEqual(limited.deleted, ["/etc/hosts"]);
  const patch = agent(root, ["diff", "-p", "@~1", "@", "--", "/home/alice/work/ana.C"]);
  assert.match(patch.stdout, /^-void ana\(\) \{\}$/m);
  assert.match(patch.stdout, /^\+void ana\(\) \{ return; \}$/m);
});

test("diff with one REF compares it with the live state", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  writeFixture(root, { "opt/tool/bin/run": { content: "#!/bin/sh\n", mode: 0o755 } });
  const d = agent(root, ["--json", "diff", "base"]).json();
  assert.deepEqual(d.added, ["/opt", "/opt/tool", "/opt/tool/bin", "/opt/tool/bin/run"]);
  assert.equal(d.to, "live");
});

test("environment, packages (dpkg) and CernVM-FS repositories are recorded and diffed", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  writeFixture(root, {
    "etc/vml/agent.yaml": `mounts_table: ${root}/mounts\n`,
    "etc/cvmfs/default.local": "CVMFS_REPOSITORIES=atlas.cern.ch,sft.cern.ch\nCVMFS_HTTP_PROXY=DIRECT\n",
    mounts: "cvmfs2 /cvmfs/sft.cern.ch fuse ro,nosuid,nodev 0 0\n",
  });
  assert.equal(agent(root, ["init"], { ROOTSYS: "/opt/root", PWD: "/somewhere", SHLVL: "3" }).code, 0);
  const env = git(root, ["show", "HEAD:.vml/env"]).toString();
  assert.match(env, /^ROOTSYS=\/opt\/root$/m);
  assert.doesNotMatch(env, /^PWD=|^SHLVL=/m);
  const cvmfs = git(root, ["show", "HEAD:.vml/cvmfs"]).toString();
  assert.match(cvmfs, /^atlas\.cern\.ch\tconfigured\t-$/m);
  assert.match(cvmfs, /^sft\.cern\.ch\tconfigured\tmounted/m);
  assert.match(git(root, ["show", "HEAD:.vml/packages"]).toString(), /^bash:amd64\t5\.2-1$/m);

  fs.appendFileSync(`${root}/var/lib/dpkg/status`, "Package: root-system\nStatus: install ok installed\nArchitecture: amd64\nVersion: 6.30.02-1\n\n");
  fs.writeFileSync(`${root}/etc/cvmfs/default.local`, "CVMFS_REPOSITORIES=sft.cern.ch,cms.cern.ch\n");
  const s = agent(root, ["--json", "status"], { ROOTSYS: "/opt/root-6.30", NEWVAR: "x" }).json();
  assert.deepEqual(s.packages, { added: ["root-system:amd64 6.30.02-1"], removed: [], changed: [] });
  assert.deepEqual(s.env, { set: [{ name: "NEWVAR", value: "x" }], changed: [{ name: "ROOTSYS", from: "/opt/root", to: "/opt/root-6.30" }], unset: [] });
  const cv = s.cvmfs as { added: string[]; removed: string[] };
  assert.deepEqual(cv.added, ["cms.cern.ch"]);
  assert.deepEqual(cv.removed, ["atlas.cern.ch"]);
  const human = agent(root, ["status"], { ROOTSYS: "/opt/root-6.30", NEWVAR: "x" }).stdout;
  assert.match(human, /Packages \(1 added, 0 removed, 0 changed\):\n {2}\+ root-system:amd64 6\.30\.02-1/);
  assert.match(human, /~ ROOTSYS=\/opt\/root-6\.30 {2}\(was \/opt\/root\)/);
});

test("a one-line edit in a large work area writes small objects", (t) => {
  const fixture: Record<string, string> = { "etc/hosts": "x\n" };
  for (let d = 0; d < 50; d++) for (let f = 0; f < 100; f++) fixture[`home/alice/work/d${d}/f${f}.txt`] = `line ${d} ${f}\n`.repeat(20);
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  const a = agent(root, ["--json", "init"]).json().id as string;
  fs.appendFileSync(`${root}/home/alice/work/d7/f7.txt`, "one more line\n");
  const b = agent(root, ["--json", "commit", "-m", "one line"]).json().id as string;
  const objects = git(root, ["rev-list", "--objects", `${a}..${b}`]).toString().trim().split("\n").map((l) => l.split(" ")[0]);
  const disk = git(root, ["cat-file", "--batch-check=%(objectsize:disk)"], objects.join("\n") + "\n")
    .toString()
    .trim()
    .split("\n")
    .reduce((n, x) => n + Number(x), 0);
  assert.ok(disk < 64 * 1024, `one-line change added ${disk} bytes`);
  assert.ok(objects.length < 20, `one-line change wrote ${objects.length} objects`);
});

test("a snapshot of more files than one pack takes (the base, a job's output) holds every one of them, each content once, packed", (t) => {
  // Over 10,000 files besides the 1,000 just written that the agent hashes itself: the content
  // goes into several packs; two files share each content.
  const fixture: Record<string, string> = { "etc/hosts": "x\n" };
  for (let d = 0; d < 112; d++) for (let f = 0; f < 100; f++) fixture[`home/alice/work/d${d}/f${f}.txt`] = `content ${(d * 100 + f) >> 1}\n`;
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  const init = agent(root, ["--json", "init"]);
  assert.equal(init.code, 0, init.stderr);
  const listed = git(root, ["ls-tree", "-r", "HEAD", "home/alice/work/"]).toString().trim().split("\n");
  assert.equal(listed.length, 11200);
  assert.equal(new Set(listed.map((l) => l.split(/\s/)[2])).size, 5600);
  const packs = fs.readdirSync(`${root}/var/lib/vml/logbook/objects/pack`).filter((n) => n.endsWith(".pack"));
  assert.ok(packs.length > 1, `${packs.length} pack(s)`);
  // With two cores, one of the packs was written through an index of its own: gone now.
  assert.deepEqual(fs.readdirSync(`${root}/var/lib/vml/logbook`).filter((n) => n.startsWith("vml-pack-index")), []);
  const counts = git(root, ["count-objects", "-v"]).toString();
  const stored = Number(/^count: (\d+)$/m.exec(counts)?.[1]) + Number(/^in-pack: (\d+)$/m.exec(counts)?.[1]);
  // Each object once: as many stored as the snapshot reaches.
  const reached = git(root, ["rev-list", "--objects", "--all"]).toString().trim().split("\n").length;
  assert.equal(stored, reached);
  assert.equal(agent(root, ["--json", "commit", "-m", "nothing changed"]).json().unchanged, true);

  // As many new files in one commit (a job's output): packed too, so no garbage collection is due.
  for (let d = 0; d < 112; d++) {
    fs.mkdirSync(`${root}/home/alice/output/o${d}`, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(`${root}/home/alice/output/o${d}/h${f}.root`, `histogram ${d} ${f}\n`);
  }
  const loose = () => Number(/^count: (\d+)$/m.exec(git(root, ["count-objects", "-v"]).toString())?.[1]);
  const looseBefore = loose();
  const c = agent(root, ["commit", "-m", "a job's output"]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(git(root, ["ls-tree", "-r", "--name-only", "HEAD", "home/alice/output/"]).toString().trim().split("\n").length, 11200);
  // Loose: only what the agent hashed itself (files written within the last two seconds, up to
  // 1,000), the folders' trees and records; not the other 10,000 files' content.
  assert.ok(loose() - looseBefore < 2000, `${loose() - looseBefore} new loose objects`);
  // So the commit found no collection due (it would have packed the refs too).
  assert.ok(!fs.existsSync(`${root}/var/lib/vml/logbook/packed-refs`), "git gc ran after the commit");

  // As many files whose content the logbook has (their times changed, as a restore, a moved tree or
  // a `chown -R` changes them): git finds each content, no pack is written.
  const packsNow = () => fs.readdirSync(`${root}/var/lib/vml/logbook/objects/pack`).filter((n) => n.endsWith(".pack")).length;
  const packsBefore = packsNow();
  for (let d = 0; d < 112; d++) for (let f = 0; f < 100; f++) fs.utimesSync(`${root}/home/alice/output/o${d}/h${f}.root`, 1e9, 1e9 + d * 100 + f);
  // git's bulk check-in would compress each file before finding its content there (and write no
  // pack either): the agent's debug log says which way it went.
  const head = git(root, ["rev-parse", "HEAD"]).toString();
  const touched = agent(root, ["commit", "-m", "times changed"], { VML_LOG_LEVEL: "debug" });
  assert.equal(touched.code, 0, touched.stderr);
  assert.notEqual(git(root, ["rev-parse", "HEAD"]).toString(), head);
  const indexing = touched.stderr.split("\n").filter((l) => l.includes('"msg":"indexing"')).map((l) => JSON.parse(l));
  assert.equal(indexing.length, 1);
  assert.ok(indexing[0].paths > 10000, `${indexing[0].paths} paths`);
  assert.equal(indexing[0].packed, false);
  assert.equal(packsNow(), packsBefore);
  assert.equal(agent(root, ["verify"]).code, 0);
});

test("commit --keep-env keeps the recorded environment (a scheduled run has no user shell)", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"], { ROOTSYS: "/opt/root" });
  writeFixture(root, { "etc/hosts": "changed\n" });
  const c = agent(root, ["--json", "commit", "--keep-env", "-m", "scheduled"], {});
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(c.json().env, { set: [], changed: [], unset: [] });
  assert.match(git(root, ["show", "HEAD:.vml/env"]).toString(), /^ROOTSYS=\/opt\/root$/m);
  const plain = agent(root, ["--json", "status"], {}).json();
  assert.deepEqual(plain.env, { set: [], changed: [], unset: ["ROOTSYS"] });
});

test("a look (status, diff, restore --dry-run) shows the caller's environment without handing it to the next snapshot that keeps the recorded one", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"], { ROOTSYS: "/opt/root" });
  const looker = { ROOTSYS: "/opt/other", LOOKER: "yes" };
  const expected = { set: [{ name: "LOOKER", value: "yes" }], changed: [{ name: "ROOTSYS", from: "/opt/root", to: "/opt/other" }], unset: [] };
  assert.deepEqual(agent(root, ["--json", "status"], looker).json().env, expected);
  assert.deepEqual(agent(root, ["--json", "diff"], looker).json().env, expected);
  assert.equal(agent(root, ["restore", "--dry-run", "@"], looker).code, 0);
  writeFixture(root, { "etc/hosts": "changed\n" });
  const c = agent(root, ["--json", "commit", "--keep-env", "-m", "scheduled"], {});
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(c.json().env, { set: [], changed: [], unset: [] });
  const recorded = git(root, ["show", "HEAD:.vml/env"]).toString();
  assert.match(recorded, /^ROOTSYS=\/opt\/root$/m);
  assert.doesNotMatch(recorded, /LOOKER/);
});

test("a mounted repository's revision and root hash come from its extended attributes", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const mnt = `${root}/cvmfs/sft.cern.ch`;
  fs.mkdirSync(mnt, { recursive: true });
  execFileSync("setfattr", ["-n", "user.revision", "-v", "4711", mnt]);
  execFileSync("setfattr", ["-n", "user.root_hash", "-v", "d3adb33f", mnt]);
  writeFixture(root, {
    "etc/vml/agent.yaml": `mounts_table: ${root}/mounts\n`,
    mounts: `cvmfs2 ${mnt} fuse ro,nosuid,nodev 0 0\n`,
  });
  assert.equal(agent(root, ["init"]).code, 0);
  assert.match(git(root, ["show", "HEAD:.vml/cvmfs"]).toString(), /^sft\.cern\.ch\t-\tmounted\trevision=4711\troot_hash=d3adb33f$/m);
  execFileSync("setfattr", ["-n", "user.revision", "-v", "4712", mnt]);
  const s = agent(root, ["--json", "status"]).json();
  assert.deepEqual((s.cvmfs as { changed: unknown[] }).changed, [{ name: "sft.cern.ch", from: "mounted, revision 4711", to: "mounted, revision 4712" }]);
});

test("renaming a user in the guest's /etc/passwd shows in every file of theirs, even in folders untouched since", async (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  // Entries changed within 2 s of a scan are never trusted as unchanged (racy timestamps): let the
  // fixture age past that, so the next scan caches every folder's fingerprint.
  await new Promise((r) => setTimeout(r, 2100));
  agent(root, ["init"]);
  agent(root, ["status"]);
  const passwd = fs.readFileSync(`${root}/etc/passwd`, "utf8").replace("alice:", "alicia:");
  fs.writeFileSync(`${root}/etc/passwd`, passwd);
  const s = agent(root, ["--json", "status"]).json();
  const ana = (s.files as { path: string; flags: string }[]).find((f) => f.path === "/home/alice/work/ana.C");
  assert.equal(ana?.flags, "..u..");
});

test("without a daemon, the commit that finds loose objects too many packs them once its answer is out", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  // Contents whose objects land in objects/17, the folder git (and the agent) estimate from: one
  // more than git's threshold for 6,700 loose objects.
  const contents: string[] = [];
  for (let i = 0; contents.length < 28; i++) {
    const text = `histogram ${i}\n`;
    if (createHash("sha1").update(`blob ${text.length}\0${text}`).digest("hex").startsWith("17")) contents.push(text);
  }
  const loose17 = () => (fs.existsSync(`${root}/var/lib/vml/logbook/objects/17`) ? fs.readdirSync(`${root}/var/lib/vml/logbook/objects/17`).length : 0);
  writeFixture(root, Object.fromEntries(contents.slice(0, 20).map((c, i) => [`home/alice/work/h${i}.txt`, c])));
  assert.equal(agent(root, ["commit", "-m", "below the threshold"]).code, 0);
  assert.ok(loose17() >= 20, "left loose");
  writeFixture(root, Object.fromEntries(contents.slice(20).map((c, i) => [`home/alice/work/h${20 + i}.txt`, c])));
  const r = agent(root, ["--json", "commit", "-m", "over it"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json().unchanged, false);
  assert.equal(loose17(), 0, "packed");
  assert.match(git(root, ["count-objects", "-v"]).toString(), /^count: 0$/m);
  assert.equal(agent(root, ["verify"]).code, 0);
});
