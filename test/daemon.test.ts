// The daemon on a temporary guest root: automatic snapshots after changes settle, package
// transactions, signals, and recovery from a kill in the middle of a snapshot.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { AGENT, REPO, agent, cleanup, git, makeGuest, writeFixture, BASE_FIXTURE, type Fixture } from "./helpers/guest.js";
import { waitFor } from "./helpers/wait.js";
import { startDaemon, stopDaemon, untilWatching, type Running } from "./helpers/daemon.js";

const W = "home/alice/work";
const FAST = "mounts_table: /nonexistent\nwatch_settle: 0.3\nwatch_min_interval: 0\n";

/** The daemons started on each guest: stopped before the guest is removed, whatever the test did. */
const daemonsOf = new Map<string, Running[]>();

/** A guest root that goes when the test ends, after every daemon watching it. */
function guest(t: TestContext, fixture?: Fixture): string {
  const root = makeGuest(fixture);
  daemonsOf.set(root, []);
  t.after(async () => {
    for (const d of daemonsOf.get(root)!) await stopDaemon(d);
    daemonsOf.delete(root);
    cleanup(root);
  });
  return root;
}

/** A guest with a logbook and a daemon watching it; both go when the test ends. */
async function watchedGuest(t: TestContext, fixture: Fixture): Promise<{ root: string; d: Running }> {
  const root = guest(t, fixture);
  assert.equal(agent(root, ["init"]).code, 0);
  return { root, d: await watching(root) };
}

async function watching(root: string): Promise<Running> {
  const d = startDaemon(root);
  daemonsOf.get(root)!.push(d);
  await untilWatching(d);
  return d;
}

/** Processes that name the guest (the daemon's snapshot process, git working in its logbook). */
function processesOf(root: string): string[] {
  return fs.readdirSync("/proc").filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return [`/proc/${pid}/cmdline`, `/proc/${pid}/environ`].some((f) => fs.readFileSync(f).includes(root));
    } catch {
      return false; // gone, or not ours to read
    }
  });
}

const snapshots = (d: Running) => d.events.filter((e) => e.event === "snapshot");

test("changes settle into an automatic snapshot; a package change gets its own; SIGTERM stops it cleanly", async (t) => {
  const { root, d } = await watchedGuest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": FAST });

  writeFixture(root, { [`${W}/fit.C`]: "fit\n", [`${W}/plot.C`]: "plot\n" });
  await waitFor(() => snapshots(d).length === 1, 10_000, "an automatic snapshot");
  assert.equal(snapshots(d)[0].message, "auto: 2 files in /home/alice/work");

  fs.appendFileSync(`${root}/var/lib/dpkg/status`, "Package: vim\nStatus: install ok installed\nArchitecture: amd64\nVersion: 9.0-1\n\n");
  await waitFor(() => snapshots(d).length === 2, 10_000, "a package snapshot");
  assert.equal(snapshots(d)[1].message, "package transaction: 1 package added");
  // A file that was there before the watch, edited in place: its folder's watch reports it.
  fs.appendFileSync(`${root}/${W}/ana.C`, "// tuned\n");
  await waitFor(() => snapshots(d).length === 3, 10_000, "a snapshot of an edit");
  assert.match(String(snapshots(d)[2].message), /^auto: 1 file in \/home\/alice\/work/);
  const log = agent(root, ["--json", "log"]).json().snapshots as { trigger: string }[];
  assert.deepEqual(log.map((s) => s.trigger), ["auto", "package", "auto", "base"]);
  // One watch per folder, none per file.
  const watching = d.events.find((e) => e.event === "watching");
  const folders = execFileSync("find", [root, "-type", "d"]).toString().trim().split("\n").length;
  assert.ok(Number(watching?.watches) <= folders, `${watching?.watches} watches for ${folders} folders`);

  d.child.kill("SIGTERM");
  assert.equal(await d.exited, 0, d.stderr());
  assert.equal(d.events.at(-1)?.event, "stopped");
  assert.ok(!fs.existsSync(`${root}/var/lib/vml/logbook/vml.lock`));
  assert.deepEqual(processesOf(root), [], "processes left behind");
});

test("a daemon killed in the middle of a snapshot recovers at the next start, and the logbook verifies", async (t) => {
  const { root, d } = await watchedGuest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": FAST });
  for (let i = 0; i < 60; i++) writeFixture(root, Object.fromEntries(Array.from({ length: 50 }, (_, j) => [`${W}/run${i}/out${j}.txt`, `${i} ${j}\n`.repeat(40)])));
  const lock = `${root}/var/lib/vml/logbook/vml.lock`;
  await waitFor(() => fs.existsSync(lock), 20_000, "a snapshot to start");
  d.child.kill("SIGKILL");
  await d.exited;
  // Its snapshot process does not outlive it.
  await waitFor(() => processesOf(root).length === 0, 10_000, "the snapshot process to end with its daemon");

  const again = await watching(root);
  const v = agent(root, ["verify"]);
  assert.equal(v.code, 0, v.stdout);
  assert.equal(agent(root, ["--json", "status"]).json().added instanceof Array, true);
  assert.deepEqual(agent(root, ["--json", "status"]).json().added, [], "everything was recorded after the restart");
  again.child.kill("SIGTERM");
  assert.equal(await again.exited, 0);
});

test("SIGHUP with a broken configuration keeps the previous one and goes on", async (t) => {
  const { root, d } = await watchedGuest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": FAST });
  fs.writeFileSync(`${root}/etc/vml/agent.yaml`, "rules: [unclosed\n");
  d.child.kill("SIGHUP");
  await waitFor(() => d.stderr().includes("configuration not reloaded"), 10_000, "the reload to be refused");
  assert.match(d.stderr(), /agent\.yaml:\d+:\d+: malformed YAML/);
  fs.writeFileSync(`${root}/etc/vml/agent.yaml`, FAST);
  writeFixture(root, { [`${W}/after.C`]: "x\n" });
  await waitFor(() => snapshots(d).some((s) => s.message === "auto: 2 files in /"), 10_000, "a snapshot with the previous configuration");
  assert.deepEqual(agent(root, ["--json", "status"]).json().added, [], "after.C was recorded");
  d.child.kill("SIGTERM");
  assert.equal(await d.exited, 0);
});

test("schedules: a periodic snapshot and a prune run, with cron expressions from the configuration", async (t) => {
  const config = [
    "mounts_table: /nonexistent",
    "watch_settle: 3600",
    "schedule_snapshot: '*/1 * * * * *'",
    "schedule_prune: '*/3 * * * * *'",
    "prune_keep_last: 1",
    "",
  ].join("\n");
  const { root, d } = await watchedGuest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": config });
  for (let i = 0; i < 3; i++) {
    writeFixture(root, { [`${W}/step${i}.C`]: `${i}\n` });
    await waitFor(() => snapshots(d).length === i + 1, 10_000, `scheduled snapshot ${i + 1}`);
  }
  assert.match(String(snapshots(d)[0].message), /^scheduled: 1 file in \/home\/alice\/work$/);
  await waitFor(() => d.events.some((e) => e.event === "note" && /^prune kept \d+ snapshots? and deleted [1-9]/.test(String(e.message))), 10_000, "a prune run");
  const triggers = () => (agent(root, ["--json", "log"]).json().snapshots as { trigger: string }[]).map((s) => s.trigger).join(",");
  await waitFor(() => triggers() === "schedule,base", 15_000, "the prune to leave the latest and the base");
  d.child.kill("SIGTERM");
  assert.equal(await d.exited, 0, d.stderr());
});

test("the rescan schedule packs the logbook's loose objects once there are thousands, and the logbook stays sound", async (t) => {
  const config = ["mounts_table: /nonexistent", "watch_settle: 3600", "schedule_rescan: '*/2 * * * * *'", ""].join("\n");
  const { root, d } = await watchedGuest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": config });
  const loose = () => Number(git(root, ["count-objects"]).toString().split(" ")[0]);
  fs.mkdirSync(`${root}/${W}/many`);
  // Thousands of files, fewer than a commit stores in packs (over 10,000): each leaves its object loose.
  for (let i = 0; i < 9000; i++) fs.writeFileSync(`${root}/${W}/many/f${i}.txt`, `file ${i}\n`);
  // Not --json: the list of nine thousand files would overflow what the test reads back.
  const c = agent(root, ["commit", "--rescan", "-m", "nine thousand files"]);
  assert.equal(c.code, 0, c.stderr);
  assert.ok(loose() > 9000, "each snapshot leaves its objects loose");
  await waitFor(() => d.events.some((e) => e.event === "note" && /^tidied the logbook: \d+ loose objects/.test(String(e.message))), 60_000, "the housekeeping");
  assert.ok(loose() < 100, `${loose()} loose objects left`);
  assert.equal(git(root, ["cat-file", "-p", `HEAD:${W}/many/f8999.txt`]).toString(), "file 8999\n");
  d.child.kill("SIGTERM");
  assert.equal(await d.exited, 0, d.stderr());
  assert.equal(agent(root, ["verify"]).code, 0);
});

test("a schedule that is not a cron expression is refused with its line", (t) => {
  const root = guest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": "schedule_snapshot: every hour\n" });
  const r = agent(root, ["rules", "check", "/etc"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /agent\.yaml:1:20: schedule_snapshot: "every hour" is not a cron expression/);
});

test("commits through the daemon's socket carry the caller's environment and are serialised", async (t) => {
  const { root, d } = await watchedGuest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent\nwatch_settle: 3600\n", "etc/group": "root:x:0:\nvml:x:990:alice\n" });
  const sock = fs.statSync(`${root}/run/vml/agent.sock`);
  assert.equal(sock.mode & 0o777, 0o660);
  assert.equal(sock.gid, 990);

  writeFixture(root, { [`${W}/a.C`]: "a\n" });
  const run = (msg: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, [AGENT, "--root", root, "--json", "commit", "-m", msg], { env: { PATH: process.env.PATH, USER: "alice", ANALYSIS: msg } });
      let out = "";
      c.stdout.on("data", (x) => (out += x));
      c.on("exit", (code) => resolve({ code, out }));
    });
  const [x, y] = await Promise.all([run("first"), run("second")]);
  assert.equal(x.code, 0);
  assert.equal(y.code, 0);
  const results = [JSON.parse(x.out), JSON.parse(y.out)];
  assert.equal(results.filter((r) => r.unchanged === false).length >= 1, true);
  const requests = d.events.filter((e) => e.event === "request");
  assert.deepEqual(requests.map((e) => [e.command, e.user, e.exit]), [["commit", "alice", 0], ["commit", "alice", 0]]);
  const log = agent(root, ["--json", "log"]).json().snapshots as { author: string }[];
  assert.equal(log[0].author, "alice");
  d.child.kill("SIGTERM");
  assert.equal(await d.exited, 0);
  assert.ok(!fs.existsSync(`${root}/run/vml/agent.sock`), "the socket is removed on exit");
});

test("commit and status through the daemon look where its watch saw changes; --rescan looks everywhere", async (t) => {
  const root = guest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent\nwatch_settle: 3600\n" });
  // A file changed within the last two seconds is looked at by every snapshot (its time may still
  // move within the same tick): let the fixture age first.
  await new Promise((r) => setTimeout(r, 2100));
  assert.equal(agent(root, ["init"]).code, 0);
  const d = await watching(root);

  // inotify reports no write made through a memory mapping (inotify(7)): the watch misses this one.
  const mapped = "import mmap, sys\nwith open(sys.argv[1], 'r+b') as f:\n    m = mmap.mmap(f.fileno(), 0)\n    m[0:4] = b'VOID'\n    m.flush()\n    m.close()\n";
  execFileSync("python3", ["-c", mapped, `${root}/${W}/ana.C`]);
  fs.appendFileSync(`${root}/etc/hosts`, "10.0.0.2 seen\n");
  // status looks where commit will, without taking anything from it.
  assert.deepEqual(agent(root, ["--json", "status"]).json().modified, ["/etc/hosts"]);
  const hinted = agent(root, ["--json", "commit", "-m", "what the watch saw"]);
  assert.equal(hinted.code, 0, hinted.stderr);
  assert.deepEqual(hinted.json().modified, ["/etc/hosts"]);

  assert.deepEqual(agent(root, ["--json", "status", "--rescan"]).json().modified, [`/${W}/ana.C`]);
  const full = agent(root, ["--json", "commit", "--rescan", "-m", "everything"]);
  assert.equal(full.code, 0, full.stderr);
  assert.deepEqual(full.json().modified, [`/${W}/ana.C`]);
  await waitFor(() => d.events.filter((e) => e.event === "request" && e.exit === 0).length === 4, 10_000, "all four to have run in the daemon");
  d.child.kill("SIGTERM");
  assert.equal(await d.exited, 0);
});

/** The inotify watches a process holds, from its file descriptors' info. */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== "anon_inode:inotify") continue;
      n += fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8").split("\n").filter((l) => l.startsWith("inotify wd:")).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

test("the watch follows folders as they come, go, come back and move: a change deep inside each is seen", async (t) => {
  const root = guest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent\nwatch_settle: 3600\n" });
  await new Promise((r) => setTimeout(r, 2100));
  assert.equal(agent(root, ["init"]).code, 0);
  const d = await watching(root);
  const pid = d.child.pid!;
  const base = inotifyWatches(pid);
  const commit = (msg: string) => {
    const c = agent(root, ["--json", "commit", "-m", msg]);
    assert.equal(c.code, 0, c.stderr);
    return c.json();
  };
  // A change the watch alone can tell of: same size, the file's folder untouched.
  const touch = (p: string) => {
    const before = fs.statSync(`${root}/${p}`);
    const text = fs.readFileSync(`${root}/${p}`, "utf8");
    fs.writeFileSync(`${root}/${p}`, text === text.toUpperCase() ? text.toLowerCase() : text.toUpperCase());
    fs.utimesSync(`${root}/${p}`, before.atime, new Date(before.mtimeMs + 5000));
  };

  fs.mkdirSync(`${root}/${W}/new/a/b`, { recursive: true });
  fs.writeFileSync(`${root}/${W}/new/a/b/x.txt`, "x\n");
  await waitFor(() => inotifyWatches(pid) === base + 3, 10_000, "the new folders to be watched");
  assert.deepEqual(commit("new tree").added, [`/${W}/new`, `/${W}/new/a`, `/${W}/new/a/b`, `/${W}/new/a/b/x.txt`]);
  touch(`${W}/new/a/b/x.txt`);
  assert.deepEqual(commit("deep change").modified, [`/${W}/new/a/b/x.txt`]);

  fs.rmSync(`${root}/${W}/new`, { recursive: true });
  await waitFor(() => inotifyWatches(pid) === base, 10_000, "the removed folders to be let go");
  fs.mkdirSync(`${root}/${W}/new/a/b`, { recursive: true });
  fs.writeFileSync(`${root}/${W}/new/a/b/y.txt`, "y\n");
  await waitFor(() => inotifyWatches(pid) === base + 3, 10_000, "the folders made again to be watched");
  assert.deepEqual(commit("made again").added, [`/${W}/new/a/b/y.txt`]);
  touch(`${W}/new/a/b/y.txt`);
  assert.deepEqual(commit("deep change again").modified, [`/${W}/new/a/b/y.txt`]);

  fs.renameSync(`${root}/${W}/new`, `${root}/${W}/moved`);
  await waitFor(() => {
    const c = agent(root, ["--json", "status"]).json();
    return (c.added as string[]).includes(`/${W}/moved/a/b/y.txt`);
  }, 10_000, "the move to be seen");
  commit("moved");
  touch(`${W}/moved/a/b/y.txt`);
  assert.deepEqual(commit("deep change after the move").modified, [`/${W}/moved/a/b/y.txt`]);
  assert.equal(inotifyWatches(pid), base + 3);
});

test("while all is quiet the daemon takes the changes into the logbook's index; a commit then records them and whatever changed since", async (t) => {
  const root = guest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent\nwatch_settle: 3600\n" });
  await new Promise((r) => setTimeout(r, 2100));
  assert.equal(agent(root, ["init"]).code, 0);
  const base = git(root, ["rev-parse", "HEAD"]).toString().trim();
  const d = await watching(root);

  fs.appendFileSync(`${root}/${W}/ana.C`, "// first edit\n");
  fs.appendFileSync(`${root}/etc/hosts`, "10.0.0.3 quiet\n");
  const blob = (p: string) => execFileSync("git", ["hash-object", `${root}/${p}`]).toString().trim();
  const indexed = (p: string) => git(root, ["ls-files", "-s", "--", p]).toString().split(" ")[1];
  const edited = blob(`${W}/ana.C`);
  await waitFor(() => indexed(`${W}/ana.C`) === edited && indexed("etc/hosts") === blob("etc/hosts"), 20_000, "the edits to reach the index");
  assert.equal(git(root, ["rev-parse", "HEAD"]).toString().trim(), base, "taken in, not recorded");
  assert.equal(snapshots(d).length, 0);

  // Edited again and a file added, then at once recorded with this shell's environment.
  fs.appendFileSync(`${root}/${W}/ana.C`, "// second edit\n");
  writeFixture(root, { [`${W}/fit.C`]: "fit\n" });
  const c = agent(root, ["--json", "commit", "-m", "after a quiet moment"], { ANALYSIS: "ttbar" });
  assert.equal(c.code, 0, c.stderr);
  const r = c.json() as { id: string; added: string[]; modified: string[]; env: { set: unknown[] } };
  assert.deepEqual(r.added, [`/${W}/fit.C`]);
  assert.deepEqual(r.modified, ["/etc/hosts", `/${W}/ana.C`]);
  assert.deepEqual(r.env.set, [{ name: "ANALYSIS", value: "ttbar" }]);
  assert.equal(git(root, ["rev-parse", "HEAD:" + `${W}/ana.C`]).toString().trim(), blob(`${W}/ana.C`));
  assert.notEqual(blob(`${W}/ana.C`), edited);
  assert.equal(agent(root, ["--json", "commit", "-m", "again"], { ANALYSIS: "ttbar" }).json().unchanged, true);

  // Another command moves the line under the daemon (as a delete or a restore run as root does): the
  // daemon's commits go on from the line as it is, never from the snapshot it saw last.
  const first = r.id as string;
  const rev = (x: string) => git(root, ["rev-parse", x]).toString().trim();
  git(root, ["update-ref", "HEAD", base]);
  const same = agent(root, ["--json", "commit", "-m", "the same files on the moved line"], { ANALYSIS: "ttbar" });
  assert.equal(same.code, 0, same.stderr);
  assert.equal(same.json().unchanged, false);
  assert.equal(rev("HEAD^"), base);
  assert.equal(rev("HEAD^{tree}"), rev(`${first}^{tree}`));
  git(root, ["update-ref", "HEAD", first]);
  fs.appendFileSync(`${root}/${W}/fit.C`, "// more\n");
  const moved = agent(root, ["--json", "commit", "-m", "on the line as it is"], { ANALYSIS: "ttbar" });
  assert.equal(moved.code, 0, moved.stderr);
  assert.deepEqual(moved.json().modified, [`/${W}/fit.C`]);
  assert.equal(rev("HEAD^"), first);
  assert.equal(agent(root, ["--json", "verify"]).code, 0);
  d.child.kill("SIGTERM");
  assert.equal(await d.exited, 0);
});

test("package-manager hooks: a snapshot before and after a transaction, the second saying what changed", (t) => {
  const root = guest(t);
  agent(root, ["init"]);
  writeFixture(root, { [`${W}/unsaved.C`]: "work in progress\n" });
  const pre = agent(root, ["--json", "hook", "pre"]);
  assert.equal(pre.code, 0, pre.stderr);
  fs.appendFileSync(`${root}/var/lib/dpkg/status`, "Package: root-system\nStatus: install ok installed\nArchitecture: amd64\nVersion: 6.30-1\n\n");
  const post = agent(root, ["--json", "hook", "post"]);
  assert.equal(post.code, 0, post.stderr);
  const log = agent(root, ["--json", "log"]).json().snapshots as { trigger: string; message: string }[];
  assert.deepEqual(log.slice(0, 2).map((s) => [s.trigger, s.message]), [
    ["package", "package transaction: 1 package added"],
    ["package", "before a package transaction"],
  ]);
  assert.equal(agent(root, ["hook", "during"]).code, 2);
});

test("the shipped dnf and yum hook plugins are valid Python", () => {
  for (const f of ["scripts/hooks/dnf/vml.py", "scripts/hooks/yum/vml.py"]) {
    execFileSync("python3", ["-c", "import sys, ast; ast.parse(open(sys.argv[1]).read())", `${REPO}/${f}`]);
  }
});

test("a snapshot deleted behind the daemon's back (history rewritten) never trips its next commit", async (t) => {
  const root = guest(t, { ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent\nwatch_settle: 3600\n" });
  assert.equal(agent(root, ["init"]).code, 0);
  const d = await watching(root);
  const commitVia = (name: string) => {
    fs.writeFileSync(`${root}/${W}/${name}`, `${name}\n`);
    const c = agent(root, ["--json", "commit", "-m", name]);
    assert.equal(c.code, 0, c.stderr);
    return c.json().id as string;
  };
  commitVia("one.txt");
  const latest = commitVia("two.txt");
  // Not through the daemon: the snapshot it knows as the latest is gone, with what only it held.
  const del = agent(root, ["delete", latest]);
  assert.equal(del.code, 0, del.stdout + del.stderr);
  commitVia("three.txt");
  assert.equal(d.child.exitCode, null, `the daemon runs on: ${d.stderr()}`);
  const v = agent(root, ["verify"]);
  assert.equal(v.code, 0, v.stdout);
  // two.txt's snapshot is gone; its file was there for the next one to record.
  assert.deepEqual(agent(root, ["--json", "diff", "base", "@"]).json().added, [`/${W}/one.txt`, `/${W}/three.txt`, `/${W}/two.txt`]);
});

test("commits through the daemon write their trees themselves and record exactly what git's look records", async (t) => {
  const root = guest(t, {
    ...BASE_FIXTURE,
    "etc/vml/agent.yaml": "mounts_table: /nonexistent\nwatch_settle: 3600\n",
    [`${W}/same.txt`]: "aaaa\n",
    [`${W}/gone/x.txt`]: "x\n",
    [`${W}/link`]: { symlink: "same.txt" },
    [`${W}/zz/other.txt`]: "zz\n",
  });
  assert.equal(agent(root, ["init"]).code, 0);
  // Its log in a file: this test blocks while the daemon works (spawnSync), a pipe would fill.
  const d = startDaemon(root, { VML_LOG_LEVEL: "debug" }, `${root}/tmp-daemon.log`);
  daemonsOf.get(root)!.push(d);
  await untilWatching(d);
  const quickOnes = () => d.stderr().split("\n").filter((l) => l.includes("tree written the quick way")).length;

  const commit = (m: string) => {
    const c = agent(root, ["--json", "commit", "-m", m]);
    assert.equal(c.code, 0, c.stderr);
    return c.json() as { id: string; added: string[]; modified: string[]; deleted: string[]; metadata: string[] };
  };

  // The same size and the same time after the edit: the watch named it, so it is read again.
  const st = fs.statSync(`${root}/${W}/same.txt`);
  fs.writeFileSync(`${root}/${W}/same.txt`, "bbbb\n");
  fs.utimesSync(`${root}/${W}/same.txt`, st.atime, st.mtime);
  let c = commit("same size, same time");
  assert.deepEqual(c.modified, [`/${W}/same.txt`]);
  assert.equal(git(root, ["cat-file", "blob", `HEAD:${W}/same.txt`]).toString(), "bbbb\n");

  // A new folder, one gone, a mode, a symlink's target.
  writeFixture(root, { [`${W}/new/deep/a.C`]: "a\n" });
  fs.rmSync(`${root}/${W}/gone`, { recursive: true });
  fs.chmodSync(`${root}/${W}/ana.C`, 0o755);
  fs.rmSync(`${root}/${W}/link`);
  fs.symlinkSync("ana.C", `${root}/${W}/link`);
  c = commit("shapes");
  assert.deepEqual(c.added, [`/${W}/new`, `/${W}/new/deep`, `/${W}/new/deep/a.C`]);
  assert.deepEqual(c.deleted, [`/${W}/gone`, `/${W}/gone/x.txt`]);
  assert.deepEqual(c.modified, [`/${W}/link`]);
  assert.ok(c.metadata.includes(`/${W}/ana.C`));
  assert.equal(git(root, ["ls-tree", "HEAD", `${W}/ana.C`]).toString().split(" ")[0], "100755");
  assert.equal(agent(root, ["verify"]).code, 0);
  assert.equal(quickOnes(), 2, "the daemon wrote the trees");
  // A name that is not UTF-8 reaches the watch mangled: that look goes git's way, the next is quick again.
  writeFixture(root, { [`${W}/caf\xe9.txt`]: "latin1\n" });
  assert.deepEqual(commit("latin1").added, [`/${W}/caf\\xe9.txt`]);
  fs.appendFileSync(`${root}/${W}/new/deep/a.C`, "more\n");
  assert.deepEqual(commit("after").modified, [`/${W}/new/deep/a.C`]);
  assert.equal(quickOnes(), 3);
  // Commits one right after the other: each goes on from the last one's tree, the index catches up later.
  for (const n of [1, 2, 3]) {
    fs.appendFileSync(`${root}/${W}/new/deep/a.C`, `more ${n}\n`);
    assert.deepEqual(commit(`quick ${n}`).modified, [`/${W}/new/deep/a.C`]);
  }
  assert.ok(d.stderr().includes("going on from the last quick look"));
  assert.equal(git(root, ["cat-file", "blob", `HEAD:${W}/new/deep/a.C`]).toString(), "a\nmore\nmore 1\nmore 2\nmore 3\n");

  // A second name for a file, made in a folder after it (in walk order the file is the first name):
  // the file's folder, its names unchanged, is looked at from its record, which gives up on a file
  // with several names and reads the folder whole.
  fs.linkSync(`${root}/${W}/same.txt`, `${root}/${W}/zz/second.txt`);
  c = commit("a second name");
  assert.deepEqual(c.added, [`/${W}/zz/second.txt`]);
  const show = agent(root, ["--json", "show", "HEAD"]);
  assert.equal(show.code, 0, show.stderr);

  // With the daemon gone, git's look over everything finds nothing the snapshots missed.
  await stopDaemon(d);
  const s = agent(root, ["--json", "status"]).json() as { added: string[]; modified: string[]; deleted: string[]; metadata: string[] };
  assert.deepEqual([s.added, s.modified, s.deleted, s.metadata], [[], [], [], []]);
  assert.equal(agent(root, ["--json", "commit", "-m", "nothing"]).json().unchanged, true);
});

test("output through the daemon is the output without it, byte for byte: a long patch, multi-byte text, content that is not UTF-8", async (t) => {
  const text = (mark: string) => Array.from({ length: 4000 }, (_, i) => `${mark} ünïcödé ✓ λ line ${i}\n`).join("");
  const fixture: Fixture = { ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent\nwatch_settle: 3600\n", [`${W}/notes.txt`]: text("old"), [`${W}/latin1.txt`]: { content: Buffer.from("caf\xe9 \xff\xfe old\n", "latin1") } };
  const root = guest(t, fixture);
  assert.equal(agent(root, ["init"]).code, 0);
  writeFixture(root, { [`${W}/notes.txt`]: text("new"), [`${W}/latin1.txt`]: { content: Buffer.from("caf\xe9 \xff\xfe new\n", "latin1") } });
  assert.equal(agent(root, ["commit", "-m", "edits"]).code, 0);
  const diff = () => spawnSync(process.execPath, [AGENT, "--root", root, "diff", "-p", "@~1", "@"], { env: { PATH: process.env.PATH, USER: "alice" } });
  const alone = diff();
  assert.equal(alone.status, 0, alone.stderr.toString());
  assert.ok(alone.stdout.length > 200_000, "a patch longer than a few of the socket's chunks");
  assert.ok(alone.stdout.includes(Buffer.from("caf\xe9 \xff\xfe new", "latin1")));

  const d = await watching(root);
  const through = diff();
  assert.equal(through.status, 0, through.stderr.toString());
  await waitFor(() => d.events.some((e) => e.event === "request" && e.command === "diff"), 10_000, "the daemon to have answered");
  assert.ok(through.stdout.equals(alone.stdout), "the same bytes");
});
