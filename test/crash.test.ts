// A commit killed at any point is harmless: nothing half-made is listed, the next run recovers. Files
// that go away while a snapshot looks at them never leave it half-recorded.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { spawn } from "node:child_process";
import { AGENT, agent, cleanup, git, makeGuest, tempDir, writeFixture, BASE_FIXTURE } from "./helpers/guest.js";
import { copyTree, rsyncDiff } from "./helpers/compare.js";
import { waitFor } from "./helpers/wait.js";
import { NodeSystem, type ExecOptions, type ExecResult } from "../agent/platform/system.js";
import { openContext } from "../agent/cli/io.js";
import { commit } from "../agent/core/snapshot.js";

test("SIGKILL in the middle of a commit: the next commit recovers and the logbook is sound", async (t) => {
  const fixture = { ...BASE_FIXTURE } as Record<string, string | object>;
  const root = makeGuest(fixture as typeof BASE_FIXTURE);
  t.after(() => cleanup(root));
  const base = agent(root, ["--json", "init"]).json().id;
  for (let d = 0; d < 40; d++) {
    fs.mkdirSync(`${root}/home/alice/work/run${d}`, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(`${root}/home/alice/work/run${d}/out${f}.txt`, `result ${d} ${f}\n`.repeat(50));
  }
  const child = spawn(process.execPath, [AGENT, "--root", root, "commit", "-m", "killed"], { stdio: "ignore" });
  const lock = `${root}/var/lib/vml/logbook/vml.lock`;
  await waitFor(() => fs.existsSync(lock), 10_000, "the commit to take the logbook's lock");
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
  assert.ok(fs.existsSync(lock), "the killed commit left its lock behind");

  const logAfterKill = agent(root, ["--json", "log"]).json().snapshots as { id: string }[];
  assert.deepEqual(logAfterKill.map((s) => s.id), [base], "no half-made snapshot is listed");

  const c = agent(root, ["--json", "commit", "-m", "after the crash"]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.json().unchanged, false);
  assert.equal((c.json().added as string[]).length, 40 * 101);
  assert.ok(!fs.existsSync(lock), "the lock is released");
  git(root, ["fsck", "--no-dangling", "--strict"]);
  assert.equal(git(root, ["ls-tree", "-r", "--name-only", "HEAD", "home/alice/work/run39"]).toString().split("\n").filter(Boolean).length, 100);
});

test("a stale git index.lock from a dead process does not block the next commit, nor stays, nor its scratch index", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  const gitDir = `${root}/var/lib/vml/logbook`;
  fs.writeFileSync(`${gitDir}/vml.lock`, "999999999");
  fs.writeFileSync(`${gitDir}/index.lock`, "");
  // What a big snapshot packing through a second index of its own leaves when it is killed.
  fs.writeFileSync(`${gitDir}/vml-pack-index.999999999`, "DIRC");
  fs.writeFileSync(`${root}/etc/hosts`, "changed\n");
  const c = agent(root, ["--json", "commit", "-m", "after stale locks"]);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(c.json().modified, ["/etc/hosts"]);
  assert.deepEqual(fs.readdirSync(gitDir).filter((n) => n.endsWith(".lock") || n.startsWith("vml-pack-index")), []);
});

test("an index changed by hand (git update-index on the logbook) is rebuilt, said once, and snapshots stay sound", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  // A path in the index that no shard lists: left alone, every later snapshot would carry it.
  fs.writeFileSync(`${root}/home/alice/work/extra.txt`, "extra\n");
  git(root, ["-C", root, "update-index", "--add", "home/alice/work/extra.txt"]);
  fs.rmSync(`${root}/home/alice/work/extra.txt`);
  fs.appendFileSync(`${root}/home/alice/work/ana.C`, "// more\n");
  const c = agent(root, ["--json", "commit", "-m", "after a hand-made change to the index"]);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(c.json().modified, ["/home/alice/work/ana.C"]);
  assert.match(c.stderr, /changed outside vml-agent/);
  assert.equal(git(root, ["ls-tree", "-r", "--name-only", "HEAD", "home/alice/work/"]).toString(), "home/alice/work/ana.C\n");
  const v = agent(root, ["verify"]);
  assert.equal(v.code, 0, v.stdout);
  // Rebuilt once, the index is trusted again without a word.
  const again = agent(root, ["commit", "-m", "nothing changed"]);
  assert.equal(again.code, 0);
  assert.equal(again.stderr, "");
});

test("a writer waits for a live holder of the lock up to lock_wait, then gives up with one clear line", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  writeFixture(root, { "etc/vml/agent.yaml": "mounts_table: /nonexistent\nlock_wait: 0.3\n" });
  fs.writeFileSync(`${root}/var/lib/vml/logbook/vml.lock`, String(process.pid));
  const head = git(root, ["rev-parse", "HEAD"]).toString();
  const c = agent(root, ["commit", "-m", "blocked"]);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /^vml-agent: the logbook is in use by another vml-agent \(pid \d+\); try again when it is done\n$/);
  assert.equal(git(root, ["rev-parse", "HEAD"]).toString(), head);
});

test("two commits started at the same moment are serialised, never interleaved", async (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const base = agent(root, ["--json", "init"]).json().id;
  writeFixture(root, { "home/alice/work/a.txt": "a\n", "home/alice/work/b.txt": "b\n" });
  const run = (msg: string) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const c = spawn(process.execPath, [AGENT, "--root", root, "--json", "commit", "-m", msg]);
      let out = "";
      c.stdout.on("data", (d) => (out += d));
      c.on("exit", (code) => resolve({ code: code ?? -1, out }));
    });
  const [x, y] = await Promise.all([run("first"), run("second")]);
  assert.equal(x.code, 0);
  assert.equal(y.code, 0);
  const ids = [JSON.parse(x.out), JSON.parse(y.out)];
  assert.equal(ids.filter((r) => r.unchanged).length, 1, "one records the change, the other finds nothing left");
  const log = agent(root, ["--json", "log"]).json().snapshots as { id: string }[];
  assert.equal(log.length, 2);
  assert.equal(log[1].id, base);
  git(root, ["fsck", "--no-dangling", "--strict"]);
});

/** Removes a file just before git first looks at the work area: a user deleting it mid-snapshot. */
class RemovingSystem extends NodeSystem {
  removed = 0;
  constructor(private readonly victim: string) {
    super();
  }
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult> {
    if (args.includes("update-index") && args.includes("--add") && fs.existsSync(this.victim)) {
      fs.rmSync(this.victim);
      this.removed++;
    }
    return super.exec(cmd, args, opts);
  }
}

test("a file removed between the snapshot's look and git's is left out of the snapshot, never half-recorded", async (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  fs.writeFileSync(`${root}/home/alice/work/fleeting.txt`, "here for a moment\n");
  const sys = new RemovingSystem(`${root}/home/alice/work/fleeting.txt`);
  const ctx = await openContext({ sys, out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] }, { root });
  const res = await commit(ctx, { message: "while a file goes away", trigger: "manual" });
  assert.equal(sys.removed, 1, "the file went away mid-snapshot");
  const v = agent(root, ["verify"]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const shown = agent(root, ["--json", "diff", "base", res.id]).json() as { files: { path: string }[] };
  assert.ok(!shown.files.some((f) => f.path.endsWith("fleeting.txt")), "not recorded at all");
});

test("a restore killed half-way: the next command removes what it left and says so; restoring again finishes it", async (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const work = `${root}/home/alice/work`;
  for (let d = 0; d < 60; d++) {
    fs.mkdirSync(`${work}/run${d}`, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(`${work}/run${d}/out${f}.txt`, `result ${d} ${f}\n`.repeat(50));
  }
  const base = agent(root, ["--json", "init"]).json().id as string;
  const expected = tempDir();
  t.after(() => cleanup(expected));
  copyTree(work, expected);
  const gitDir = `${root}/var/lib/vml/logbook`;
  const leftovers = () => fs.readdirSync(`${root}/home/alice`).filter((n) => n.startsWith(".vml-restore."));

  // Killed with everything it started (its git too), as a power cut would stop them: while its
  // staged folder is there. A restore quicker than the look is started again.
  let killed = false;
  for (let attempt = 0; attempt < 5 && !killed; attempt++) {
    fs.rmSync(work, { recursive: true, force: true });
    const child = spawn(process.execPath, [AGENT, "--root", root, "restore", base], { stdio: "ignore", detached: true });
    const exited = new Promise((r) => child.on("exit", r));
    let done = false;
    void exited.then(() => (done = true));
    await waitFor(() => done || leftovers().length > 0, 30_000, "the restore to stage its folder");
    if (!done) {
      process.kill(-child.pid!, "SIGKILL");
      killed = true;
    }
    await exited;
  }
  assert.ok(killed, "a restore was caught half-way");
  assert.ok(fs.existsSync(`${gitDir}/vml-restore-journal`), "the killed restore left its journal");
  assert.ok(leftovers().length > 0);

  const s = agent(root, ["--json", "status"]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, new RegExp(`a restore of ${base} was interrupted .*temporary name\\(s\\) it left were removed.*vml-agent restore [0-9a-f]{40}\` brings back the state before it`));
  assert.deepEqual(leftovers(), []);
  assert.deepEqual(fs.readdirSync(gitDir).filter((n) => n.startsWith("vml-restore-journal") || n.startsWith("vml-checkout-index")), []);
  // Said once: the next command has nothing to clear.
  assert.equal(agent(root, ["status"]).stderr, "");

  const r = agent(root, ["restore", base]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(rsyncDiff(expected, work), "");
});

test("an unreadable restore journal is set aside with a warning, and nothing else is touched", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  const gitDir = `${root}/var/lib/vml/logbook`;
  fs.writeFileSync(`${gitDir}/vml-restore-journal`, "#vml-restore-journal 1\npid 12\nref " + "a".repeat(40) + "\nfolder ../../etc\n");
  const s = agent(root, ["status"]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, /an interrupted restore left a journal that cannot be read \(bad line: folder \.\.\/\.\.\/etc\); set aside/);
  assert.ok(!fs.existsSync(`${gitDir}/vml-restore-journal`));
  assert.ok(fs.existsSync(`${gitDir}/vml-restore-journal.bad`));
  assert.ok(fs.existsSync(`${root}/etc/hosts`));
});
