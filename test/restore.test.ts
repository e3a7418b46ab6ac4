// restore: the live tree brought back to a snapshot, entry by entry, safely.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { agent, cleanup, git, makeGuest, tempDir, writeFixture, BASE_FIXTURE, type Fixture } from "./helpers/guest.js";
import { copyTree, rsyncDiff, treeDiff } from "./helpers/compare.js";
import { NodeSystem } from "../agent/platform/system.js";
import { openContext, type Io } from "../agent/cli/io.js";
import { restore } from "../agent/core/restore.js";

const W = "home/alice/work";
// Restore writes the recorded environment there: not part of any snapshot.
const SKIP = (rel: string) => rel === "/etc/profile.d/vml-env.sh";

const AWKWARD: Fixture = {
  ...BASE_FIXTURE,
  "etc/profile.d/lang.sh": "export LANG=C.UTF-8\n",
  [`${W}/with space.txt`]: "space\n",
  [`${W}/tab\there`]: "tab\n",
  [`${W}/new\nline`]: "newline\n",
  [`${W}/caf\xe9`]: "latin1 name\n",
  [`${W}/suid`]: { content: "#!/bin/sh\n", mode: 0o4755 },
  [`${W}/none`]: { content: "secret\n", mode: 0o000 },
  [`${W}/ghost`]: { content: "nobody's\n", uid: 4242, gid: 4343 },
  [`${W}/shared`]: { dir: true, mode: 0o1777 },
  [`${W}/empty`]: { dir: true, mode: 0o750 },
  [`${W}/rel`]: { symlink: "ana.C" },
  [`${W}/abs`]: { symlink: "/etc/hosts" },
  [`${W}/dangling`]: { symlink: "../nowhere" },
  [`${W}/pipe`]: { fifo: true },
  [`${W}/sub/deep/file.txt`]: { content: "deep\n", mtime: 1_600_000_000 },
  [`${W}/apollo.txt`]: "1969\n",
};

function guestWithHistory(fixture: Fixture = AWKWARD): { root: string; saved: string } {
  const root = makeGuest(fixture);
  fs.linkSync(`${root}/${W}/ana.C`, `${root}/${W}/zz-link.C`);
  // Before 1970, between two whole seconds (node's utimes takes no time before 1970).
  if (fs.existsSync(`${root}/${W}/apollo.txt`)) execFileSync("touch", ["-d", "@-14182940.25", `${root}/${W}/apollo.txt`]);
  // Nanosecond times, as real files have them.
  if (fs.existsSync(`${root}/${W}/with space.txt`)) fs.utimesSync(`${root}/${W}/with space.txt`, 1_650_000_000.5, 1_650_000_000.5);
  const r = agent(root, ["init"]);
  assert.equal(r.code, 0, r.stderr);
  const saved = tempDir("vml-saved-");
  copyTree(root, saved);
  return { root, saved };
}

function mess(root: string): void {
  fs.writeFileSync(`${root}/${W}/ana.C`, "void ana() { broken }\n");
  fs.rmSync(`${root}/${W}/with space.txt`);
  fs.chmodSync(`${root}/${W}/suid`, 0o755);
  fs.chownSync(`${root}/${W}/ghost`, 0, 0);
  fs.rmSync(`${root}/${W}/rel`);
  fs.symlinkSync("elsewhere", `${root}/${W}/rel`);
  fs.rmSync(`${root}/${W}/sub`, { recursive: true });
  fs.writeFileSync(`${root}/${W}/sub`, "a file where a folder was\n");
  fs.rmdirSync(`${root}/${W}/empty`);
  fs.rmSync(`${root}/${W}/dangling`);
  fs.mkdirSync(`${root}/${W}/dangling`);
  fs.writeFileSync(`${root}/${W}/dangling/inside`, "x\n");
  fs.writeFileSync(`${root}/${W}/added.txt`, "new\n");
  fs.writeFileSync(`${root}/etc/hosts`, "127.0.0.1 elsewhere\n");
  fs.rmSync(`${root}/${W}/pipe`);
}

test("restore brings every awkward entry back exactly, after recording the present", (t) => {
  const { root, saved } = guestWithHistory();
  t.after(() => [root, saved].forEach(cleanup));
  mess(root);
  const before = treeDiff(saved, root, ["/etc", "/home"], SKIP);
  assert.ok(before.length > 10, "the mess differs");

  const r = agent(root, ["--json", "restore", "base"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const rep = r.json();
  assert.equal(rep.complete, true);
  assert.match(String(rep.before), /^[0-9a-f]{40}$/);
  assert.deepEqual(treeDiff(saved, root, ["/etc", "/home"], SKIP), []);
  assert.equal(rsyncDiff(`${saved}/home`, `${root}/home`), "");
  assert.equal(fs.statSync(`${root}/${W}/ana.C`).ino, fs.statSync(`${root}/${W}/zz-link.C`).ino, "hard link restored as a link");

  // The present was recorded first: restoring that snapshot undoes the restore.
  const log = agent(root, ["--json", "log"]).json().snapshots as { id: string; trigger: string }[];
  assert.equal(log[0].id, rep.before);
  assert.equal(log[0].trigger, "restore");
  const undo = agent(root, ["restore", String(rep.before)]);
  assert.equal(undo.code, 0, undo.stdout + undo.stderr);
  assert.equal(fs.readFileSync(`${root}/${W}/ana.C`, "utf8"), "void ana() { broken }\n");
  assert.equal(fs.readFileSync(`${root}/${W}/sub`, "utf8"), "a file where a folder was\n");

  // And a snapshot of the restored state equals the one restored.
  assert.equal(agent(root, ["restore", "base"]).code, 0);
  const d = agent(root, ["--json", "diff", "base"]).json();
  assert.deepEqual(d.files, []);
});

test("a work area removed whole comes back exact, attribute files and awkward names included", (t) => {
  // Files that would make git rewrite content (end-of-line conversion, a filter it does not have)
  // if it applied them while restoring.
  const { root, saved } = guestWithHistory({
    ...AWKWARD,
    [`${W}/.gitattributes`]: "* text eol=crlf\n",
    [`${W}/lfs/.gitattributes`]: "*.txt filter=lfs diff=lfs merge=lfs -text\n",
    [`${W}/lfs/lines.txt`]: "one\ntwo\n",
    [`${W}/caf\xe9 folder/inside.txt`]: "below a name that is not UTF-8\n",
  });
  t.after(() => [root, saved].forEach(cleanup));
  fs.rmSync(`${root}/${W}`, { recursive: true });
  const r = agent(root, ["--json", "restore", "base"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.json().complete, true);
  assert.deepEqual(treeDiff(saved, root, ["/etc", "/home"], SKIP), []);
  assert.equal(rsyncDiff(`${saved}/home`, `${root}/home`), "");
  assert.equal(fs.statSync(`${root}/${W}/ana.C`).ino, fs.statSync(`${root}/${W}/zz-link.C`).ino, "hard link restored as a link");
  assert.deepEqual(fs.readdirSync(`${root}/home/alice`).filter((n) => n.startsWith(".vml-restore")), [], "nothing left behind");
});

test("--dry-run prints the plan and changes nothing, not even the logbook", (t) => {
  const { root, saved } = guestWithHistory();
  t.after(() => [root, saved].forEach(cleanup));
  mess(root);
  const messed = tempDir("vml-messed-");
  t.after(() => cleanup(messed));
  copyTree(root, messed);
  const head = git(root, ["rev-parse", "HEAD"]).toString();
  const r = agent(root, ["restore", "--dry-run", "base"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Plan to restore snapshot [0-9a-f]{40} \(nothing is changed\):/);
  assert.match(r.stdout, /To create \(\d+\):\n(.*\n)*? {2}\/home\/alice\/work\/with space\.txt\n/);
  assert.match(r.stdout, /To replace \(type changed\) \(2\):/);
  assert.match(r.stdout, /To remove \(\d+\):\n(.*\n)*? {2}\/home\/alice\/work\/added\.txt\n/);
  assert.deepEqual(treeDiff(messed, root, ["/etc", "/home"]), []);
  assert.equal(git(root, ["rev-parse", "HEAD"]).toString(), head);
});

test("restore of some paths touches nothing else", (t) => {
  const { root, saved } = guestWithHistory();
  t.after(() => [root, saved].forEach(cleanup));
  mess(root);
  const r = agent(root, ["--json", "restore", "base", `/${W}/sub`, `/${W}/ana.C`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(`${root}/${W}/sub/deep/file.txt`, "utf8"), "deep\n");
  assert.equal(fs.readFileSync(`${root}/${W}/ana.C`, "utf8"), "void ana() {}\n");
  assert.ok(fs.existsSync(`${root}/${W}/added.txt`), "outside the paths: kept");
  assert.equal(fs.readFileSync(`${root}/etc/hosts`, "utf8"), "127.0.0.1 elsewhere\n");
  assert.ok(!fs.existsSync(`${root}/etc/profile.d/vml-env.sh`), "no environment script for a partial restore");
});

test("a symlink where the snapshot has a folder is replaced, never followed", (t) => {
  const outside = tempDir("vml-outside-");
  const { root, saved } = guestWithHistory({ ...BASE_FIXTURE, [`${W}/data/result.txt`]: "42\n" });
  t.after(() => [root, saved, outside].forEach(cleanup));
  fs.rmSync(`${root}/${W}/data`, { recursive: true });
  fs.symlinkSync(outside, `${root}/${W}/data`);
  const r = agent(root, ["restore", "base"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(fs.readdirSync(outside), [], "nothing written through the symlink");
  assert.ok(fs.lstatSync(`${root}/${W}/data`).isDirectory());
  assert.equal(fs.readFileSync(`${root}/${W}/data/result.txt`, "utf8"), "42\n");
});

test("what cannot be restored is reported and the exit code is 3", (t) => {
  const root = makeGuest({ ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent\nsize_limit: 1KiB\n" });
  t.after(() => cleanup(root));
  fs.writeFileSync(`${root}/${W}/big.root`, Buffer.alloc(4096, 1));
  assert.equal(agent(root, ["init"]).code, 0);
  fs.writeFileSync(`${root}/${W}/big.root`, Buffer.alloc(8192, 2));
  fs.writeFileSync(`${root}/${W}/ana.C`, "changed\n");
  const r = agent(root, ["restore", "base"]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /Not restored \(1\):\n {2}\/home\/alice\/work\/big\.root: content not stored \(over the size limit when recorded, 4096 bytes\)/);
  assert.match(r.stdout, /Some of it was not restored/);
  assert.equal(fs.readFileSync(`${root}/${W}/ana.C`, "utf8"), "void ana() {}\n", "the rest was restored");
});

test("the environment is written for login shells and CernVM-FS repositories are checked", (t) => {
  const root = makeGuest({
    ...BASE_FIXTURE,
    "etc/cvmfs/default.local": "CVMFS_REPOSITORIES=sft.cern.ch\n",
  });
  t.after(() => cleanup(root));
  writeFixture(root, { "etc/vml/agent.yaml": `mounts_table: ${root}/mounts\n`, mounts: "cvmfs2 /cvmfs/sft.cern.ch fuse ro 0 0\n" });
  assert.equal(agent(root, ["init"], { ROOTSYS: "/opt/root it's", HOME: "/root" }).code, 0);
  fs.writeFileSync(`${root}/mounts`, "");
  const r = agent(root, ["--json", "restore", "base"]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const rep = r.json() as { env: { variables: string[] }; cvmfs: { notMounted: string[] } };
  assert.ok(rep.env.variables.includes("ROOTSYS"));
  assert.ok(!rep.env.variables.includes("HOME"), "who the user is is not written for everyone");
  assert.deepEqual(rep.cvmfs.notMounted, ["sft.cern.ch"]);
  const script = fs.readFileSync(`${root}/etc/profile.d/vml-env.sh`, "utf8");
  assert.match(script, /^export ROOTSYS='\/opt\/root it'\\''s'$/m);
  const shell = execSh(`. '${root}/etc/profile.d/vml-env.sh' && printf %s "$ROOTSYS"`);
  assert.equal(shell, "/opt/root it's");
});

function execSh(cmd: string): string {
  return execFileSync("sh", ["-c", cmd]).toString();
}

test("after a whole restore of a large area the next snapshot is exact", (t) => {
  // The folder the environment script goes to exists: the restore adds nothing of its own.
  const fixture: Fixture = { ...BASE_FIXTURE, "etc/profile.d/lang.sh": "export LANG=C.UTF-8\n" };
  for (let i = 0; i < 1200; i++) fixture[`${W}/run${Math.floor(i / 100)}/out${i}.txt`] = `result ${i}\n`;
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  fs.rmSync(`${root}/${W}`, { recursive: true });
  fs.writeFileSync(`${root}/etc/hosts`, "127.0.0.1 changed\n");
  const r = agent(root, ["restore", "base"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  fs.appendFileSync(`${root}/${W}/run3/out345.txt`, "edited after the restore\n");
  const c = agent(root, ["--json", "commit", "-m", "after"]).json() as { id: string };
  const shown = git(root, ["show", "--stat", "--format=", c.id]).toString();
  assert.match(shown, /run3\/out345\.txt/);
  const files = agent(root, ["--json", "diff", "base"]).json().files as { path: string }[];
  assert.deepEqual(files.map((f) => f.path), [`/${W}/run3/out345.txt`], "only the edit differs from base");
  assert.equal(agent(root, ["verify"]).code, 0);
});

test("files rewritten in place come back exact, whether many (written by threads) or few (by the agent itself)", (t) => {
  const fixture: Fixture = { ...BASE_FIXTURE };
  const name = (i: number) => `${W}/many/h${i}.txt`;
  for (let i = 0; i < 300; i++) fixture[name(i)] = { content: `histogram ${i}\n`, mode: i % 2 ? 0o640 : 0o4755, uid: 1000, gid: 1000 };
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  const expectBase = (count: number) => {
    for (let i = 0; i < count; i++) {
      const st = fs.lstatSync(`${root}/${name(i)}`);
      assert.equal(fs.readFileSync(`${root}/${name(i)}`, "utf8"), `histogram ${i}\n`);
      assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.mtimeMs], [i % 2 ? 0o640 : 0o4755, 1000, 1000, 1_700_000_000_000], name(i));
    }
  };
  for (const count of [300, 3]) {
    for (let i = 0; i < count; i++) fs.writeFileSync(`${root}/${name(i)}`, `rewritten ${i}\n`);
    const r = agent(root, ["restore", "base"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    expectBase(300);
  }
});

test("large files, written by git straight into place, come back exact: content, mode with setuid, owner, time; one content under two names", (t) => {
  const big = randomBytes(5 << 20);
  const other = Buffer.concat([big.subarray(1), Buffer.from("x")]);
  const fixture: Fixture = {
    ...BASE_FIXTURE,
    [`${W}/data/run1.root`]: { content: big, mode: 0o4750, uid: 4242, gid: 4343 },
    [`${W}/data/copy.root`]: { content: big, mode: 0o600, uid: 1000, gid: 1000 },
    [`${W}/data/other.root`]: { content: other, mode: 0o644 },
  };
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  const expectBase = () => {
    for (const [rel, content, mode, uid, gid] of [
      [`${W}/data/run1.root`, big, 0o4750, 4242, 4343],
      [`${W}/data/copy.root`, big, 0o600, 1000, 1000],
      [`${W}/data/other.root`, other, 0o644, 0, 0],
    ] as [string, Buffer, number, number, number][]) {
      const st = fs.lstatSync(`${root}/${rel}`);
      assert.ok(fs.readFileSync(`${root}/${rel}`).equals(content), rel);
      assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.mtimeMs, st.nlink], [mode, uid, gid, 1_700_000_000_000, 1], rel);
    }
  };
  fs.appendFileSync(`${root}/${W}/data/run1.root`, "more events\n");
  fs.rmSync(`${root}/${W}/data/copy.root`);
  fs.writeFileSync(`${root}/${W}/data/other.root`, "truncated\n");
  const r = agent(root, ["restore", "base"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  expectBase();
  assert.deepEqual(fs.readdirSync(`${root}/${W}/data`).sort(), ["copy.root", "other.root", "run1.root"], "no temporary file left");
});

test("owners are given by name through the /etc/passwd the restore brings back, not the one it replaces", (t) => {
  const root = makeGuest({ ...BASE_FIXTURE, [`${W}/own.txt`]: { content: "mine\n", uid: 1000, gid: 1000 } });
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  // Meanwhile alice became 1001 here (an edit: the file's time moves) and her file changed hands;
  // the group file stays as it was.
  fs.writeFileSync(`${root}/etc/passwd`, "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1000::/home/alice:/bin/bash\n");
  fs.chownSync(`${root}/${W}/own.txt`, 0, 0);
  const r = agent(root, ["restore", "base"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const st = fs.statSync(`${root}/${W}/own.txt`);
  assert.deepEqual([st.uid, st.gid], [1000, 1000], "alice as the restored passwd knows her");
});

/** Counts files often while git writes them: a restore of a few thousand files is seen going out. */
class QuickCountSystem extends NodeSystem {
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return super.sleep(Math.min(ms, 2), signal);
  }
}

test("a restore shows the files it writes as they go out, never more than it writes", async (t) => {
  const fixture: Fixture = { ...BASE_FIXTURE, [`${W}/link`]: { symlink: "d0/f0.txt" } };
  for (let d = 0; d < 20; d++) for (let f = 0; f < 100; f++) fixture[`${W}/d${d}/f${f}.txt`] = `folder ${d} file ${f}\n`;
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  fs.rmSync(`${root}/${W}`, { recursive: true });
  const io: Io = { sys: new QuickCountSystem(), out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] };
  const ctx = await openContext(io, { root });
  const seen: { phase: string; total?: number; updates: number[] }[] = [];
  ctx.progress = {
    phase: (phase, total) => void seen.push({ phase, total, updates: [] }),
    update: (done) => void seen.at(-1)!.updates.push(done),
    done: () => undefined,
  };
  const id = git(root, ["rev-parse", "refs/vml/base"]).toString().trim();
  const report = await restore(ctx, { id, name: "base", dryRun: false, paths: [], removePackages: false });
  assert.equal(report.notRestored.length, 0);
  const writing = seen.find((s) => s.phase === "restoring")!;
  // Every file and link of the work area (folders are made, not counted).
  const written = Object.keys(fixture).filter((k) => k.startsWith(`${W}/`)).length;
  assert.equal(writing.total, written);
  assert.deepEqual(writing.updates, [...writing.updates].sort((a, b) => a - b), "the count never goes back");
  assert.equal(writing.updates.at(-1), written);
  assert.ok(writing.updates.every((n) => n <= written));
  // Counted while git wrote them (2,000 files take far longer than the 2 ms between two counts).
  assert.ok(writing.updates.some((n) => n > 1 && n < written - 1), `counts seen: ${[...new Set(writing.updates)].join(" ")}`);
  assert.equal(fs.readdirSync(`${root}/${W}/d7`).length, 100);
});

test("which names share a file is restored too, when the content stays the same", (t) => {
  const root = makeGuest({ ...BASE_FIXTURE, [`${W}/a.txt`]: "same\n", [`${W}/b.txt`]: "same\n", [`${W}/c.txt`]: "other\n" });
  t.after(() => cleanup(root));
  const ino = (name: string) => fs.statSync(`${root}/${W}/${name}`).ino;
  assert.equal(agent(root, ["init"]).code, 0);
  // b.txt becomes another name of a.txt: the same content, one file.
  fs.rmSync(`${root}/${W}/b.txt`);
  fs.linkSync(`${root}/${W}/a.txt`, `${root}/${W}/b.txt`);
  const shared = agent(root, ["--json", "commit", "-m", "shared"]);
  assert.equal(shared.code, 0, shared.stderr);
  assert.equal(shared.json().unchanged, false, "a new sharing is a change");
  const d = agent(root, ["diff", "base"]);
  assert.match(d.stdout, /t\.\.\.\.\s+\/home\/alice\/work\/b\.txt\s+\(hard link of \/home\/alice\/work\/a\.txt\)/);

  const back = agent(root, ["restore", "base"]);
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.notEqual(ino("a.txt"), ino("b.txt"), "base: two files");
  assert.equal(fs.readFileSync(`${root}/${W}/b.txt`, "utf8"), "same\n");
  fs.appendFileSync(`${root}/${W}/a.txt`, "only a\n");
  assert.equal(fs.readFileSync(`${root}/${W}/b.txt`, "utf8"), "same\n", "writing one leaves the other");
  fs.writeFileSync(`${root}/${W}/a.txt`, "same\n");

  const again = agent(root, ["restore", shared.json().id as string]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(ino("a.txt"), ino("b.txt"), "the later snapshot: one file under two names");
  assert.notEqual(ino("a.txt"), ino("c.txt"));
  assert.equal(agent(root, ["diff", shared.json().id as string, "--", `/${W}`]).stdout.trim(), "No changes.");
});

test("a hard link in a folder that comes back is linked to its first name where that one stayed", (t) => {
  const root = makeGuest({ ...BASE_FIXTURE, [`${W}/a.txt`]: "shared\n", [`${W}/sub/keep`]: "k\n" });
  t.after(() => cleanup(root));
  fs.linkSync(`${root}/${W}/a.txt`, `${root}/${W}/sub/h`);
  assert.equal(agent(root, ["init"]).code, 0);
  fs.renameSync(`${root}/${W}/sub`, `${root}/${W}/moved`);
  fs.chmodSync(`${root}/${W}/a.txt`, 0o600);
  const r = agent(root, ["restore", "base"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(fs.statSync(`${root}/${W}/sub/h`).ino, fs.statSync(`${root}/${W}/a.txt`).ino, "one file under both names again");
  assert.equal(fs.statSync(`${root}/${W}/a.txt`).mode & 0o7777, 0o644);
  assert.ok(!fs.existsSync(`${root}/${W}/moved`));
});

test("a partial restore never changes a file outside its paths to restore a hard link, and says so", (t) => {
  const root = makeGuest({ ...BASE_FIXTURE, [`${W}/a/first`]: "shared\n", [`${W}/b/keep`]: "k\n" });
  t.after(() => cleanup(root));
  fs.linkSync(`${root}/${W}/a/first`, `${root}/${W}/b/second`);
  assert.equal(agent(root, ["init"]).code, 0);
  // Both names see the edit: one file.
  fs.writeFileSync(`${root}/${W}/a/first`, "edited\n");
  const r = agent(root, ["--json", "restore", "base", `/${W}/b`]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.equal(fs.readFileSync(`${root}/${W}/b/second`, "utf8"), "shared\n", "the restored name has the snapshot's content");
  assert.equal(fs.readFileSync(`${root}/${W}/a/first`, "utf8"), "edited\n", "outside the paths: untouched");
  assert.notEqual(fs.statSync(`${root}/${W}/a/first`).ino, fs.statSync(`${root}/${W}/b/second`).ino);
  const report = r.json() as { notRestored: { path: string; reason: string }[] };
  assert.deepEqual(report.notRestored.map((n) => n.path), [`/${W}/b/second`]);
  assert.match(report.notRestored[0].reason, /file of its own: \/home\/alice\/work\/a\/first/);
});

test("a snapshot holding the folder of the environment script restores where that folder is gone, the script written into it", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  // A restore writes the script; the next snapshot records its folder (the script itself never).
  assert.equal(agent(root, ["restore", "base"]).code, 0);
  const later = agent(root, ["--json", "commit", "-m", "with the script"]).json().id as string;
  assert.ok(fs.readFileSync(`${root}/etc/profile.d/vml-env.sh`, "utf8").includes("snapshot "), "the script was written");
  fs.rmSync(`${root}/etc/profile.d`, { recursive: true });
  const r = agent(root, ["restore", later]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(fs.readFileSync(`${root}/etc/profile.d/vml-env.sh`, "utf8"), new RegExp(`environment recorded in snapshot ${later}`));
});

test("the environment script is never written through a symlink leading out of the root", (t) => {
  const root = makeGuest();
  const outside = tempDir("vml-outside-");
  t.after(() => [root, outside].forEach(cleanup));
  assert.equal(agent(root, ["init"]).code, 0);
  fs.symlinkSync(outside, `${root}/etc/profile.d`);
  const r = agent(root, ["--json", "restore", "base"]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.deepEqual(fs.readdirSync(outside), [], "nothing written outside the root");
  const report = r.json() as { notRestored: { path: string; reason: string }[] };
  assert.ok(report.notRestored.some((n) => n.path === "/etc/profile.d/vml-env.sh" && /symlink, not a folder/.test(n.reason)), JSON.stringify(report.notRestored));
});

test("content rewritten with the same size and time (its record unchanged) is shown by diff and restored", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const file = `${root}/${W}/ana.C`;
  const r0 = agent(root, ["--json", "init"]);
  assert.equal(r0.code, 0, r0.stderr);
  const base = r0.json().id as string;
  const st = fs.statSync(file);
  fs.writeFileSync(file, "void bad() {}\n");
  fs.utimesSync(file, st.atime, st.mtime);
  assert.equal(fs.statSync(file).size, st.size);
  const c = agent(root, ["--json", "commit", "-m", "same size, same time"]).json() as { modified: string[] };
  assert.deepEqual(c.modified, [`/${W}/ana.C`]);
  const d = agent(root, ["diff", base]);
  assert.match(d.stdout, /c\.\.\.\. {2}\/home\/alice\/work\/ana\.C/);
  const r = agent(root, ["restore", base]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(file, "utf8"), "void ana() {}\n");
});
