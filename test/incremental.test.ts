// The scan cache and git's index vouch for folders nothing happened in. Whatever changes, a snapshot
// taken that way must equal the one a full scan of the same state takes. The clock runs ahead of the
// files' timestamps (through System), so no change counts as too recent and the cache is really used.
// Git compares ctimes to the second; in real use the racy window guarantees that a change after a
// snapshot falls in a later second than what the index holds, so each change here waits for that.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import { NodeSystem } from "../agent/platform/system.js";
import { openContext, type Io } from "../agent/cli/io.js";
import { commit, init, stage } from "../agent/core/snapshot.js";
import type { Context } from "../agent/core/context.js";
import { BASE_FIXTURE, cleanup, git, makeGuest, writeFixture, type Fixture } from "./helpers/guest.js";

async function nextSecond(): Promise<void> {
  const second = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
}

class AheadSystem extends NodeSystem {
  now(): Date {
    return new Date(Date.now() + 60_000);
  }
}

function context(root: string): Promise<Context> {
  const io: Io = { sys: new AheadSystem(), out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] };
  return openContext(io, { root });
}

test("snapshots through the scan cache equal full scans, whatever changed", async (t) => {
  const fixture: Fixture = { ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent/mounts\nsize_limit: 2k\n" };
  for (let d = 0; d < 6; d++) for (let f = 0; f < 5; f++) fixture[`home/alice/work/d${d}/f${f}.txt`] = `folder ${d} file ${f}\n`;
  fixture["home/alice/work/d5/sub/deep.txt"] = "deep\n";
  // A name that begins like a folder removed below: it stays.
  fixture["home/alice/work/d5x/kept.txt"] = "kept\n";
  // Folders whose names git would read as patterns, or that hold a newline; one beside them begins
  // with the same bytes.
  fixture["home/alice/work/g*[1]/f.txt"] = "glob\n";
  fixture["home/alice/work/g*[1]/sub/s.txt"] = "glob sub\n";
  fixture["home/alice/work/g*[1]x/kept.txt"] = "kept\n";
  fixture["home/alice/work/new\nline/f.txt"] = "newline\n";
  const notUtf8 = Buffer.concat([Buffer.from("home/alice/work/"), Buffer.from([0x6e, 0xff, 0xfe])]);
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  const w = `${root}/home/alice/work`;
  await init(await context(root), "main");

  const steps: [string, () => void][] = [
    ["content appended", () => fs.appendFileSync(`${w}/d0/f0.txt`, "more\n")],
    ["mode only", () => fs.chmodSync(`${w}/d1/f1.txt`, 0o600)],
    ["mtime only", () => fs.utimesSync(`${w}/d2/f2.txt`, 1_600_000_000, 1_600_000_000)],
    ["owner only", () => fs.chownSync(`${w}/d3/f3.txt`, 1000, 1000)],
    [
      "same size and mtime, other content",
      () => {
        const st = fs.statSync(`${w}/d4/f4.txt`);
        fs.writeFileSync(`${w}/d4/f4.txt`, "FOLDER 4 FILE 4\n");
        fs.utimesSync(`${w}/d4/f4.txt`, st.atime, st.mtime);
      },
    ],
    ["grown over the size limit", () => fs.appendFileSync(`${w}/d0/f1.txt`, "x".repeat(4096))],
    ["back under the limit", () => fs.truncateSync(`${w}/d0/f1.txt`, 10)],
    ["a hard link from another folder", () => fs.linkSync(`${w}/d1/f0.txt`, `${w}/d5/link.txt`)],
    ["content of a hard-linked file", () => fs.appendFileSync(`${w}/d5/link.txt`, "through the link\n")],
    ["a subfolder's mode", () => fs.chmodSync(`${w}/d5/sub`, 0o700)],
    ["a file renamed", () => fs.renameSync(`${w}/d2/f0.txt`, `${w}/d2/renamed.txt`)],
    ["a symlink added", () => fs.symlinkSync("../d0/f0.txt", `${w}/d3/ln`)],
    ["a folder removed", () => fs.rmSync(`${w}/d4`, { recursive: true })],
    ["a folder and its subfolder removed", () => fs.rmSync(`${w}/d5`, { recursive: true })],
    [
      "a folder named in bytes that are not UTF-8",
      () => {
        fs.mkdirSync(Buffer.concat([Buffer.from(`${root}/`), notUtf8, Buffer.from("/sub")]), { recursive: true });
        fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/`), notUtf8, Buffer.from("/sub/f.txt")]), "bytes\n");
      },
    ],
    [
      "folders with pattern characters, a newline and bytes that are not UTF-8 in their names removed",
      () => {
        for (const d of ["g*[1]", "new\nline"]) fs.rmSync(`${w}/${d}`, { recursive: true });
        fs.rmSync(Buffer.concat([Buffer.from(`${root}/`), notUtf8]), { recursive: true });
      },
    ],
    ["a user renamed", () => writeFixture(root, { "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/alice:/bin/bash\n" })],
    ["a rule added", () => fs.appendFileSync(`${root}/etc/vml/agent.yaml`, "rules:\n  - exclude: /home/alice/work/d1/\n")],
  ];
  for (const [what, change] of steps) {
    await nextSecond();
    change();
    const ctx = await context(root);
    const res = await commit(ctx, { message: what, trigger: "manual" });
    assert.equal(res.unchanged, false, `${what}: a snapshot is taken`);
    // The same state scanned from nothing: every folder read, every file handed to git.
    ctx.logbook.dropScanCache();
    const full = await stage(await context(root));
    assert.equal(res.tree, full.tree, `${what}: the snapshot equals a full scan's`);
  }
  const heads = git(root, ["log", "--format=%s"]).toString();
  assert.match(heads, /a rule added/);
  // The cache was really used: a commit after one appended line reads that folder and the one holding
  // a hard link (always read: its first name is decided among all names), not all of them.
  fs.appendFileSync(`${w}/d0/f0.txt`, "one more\n");
  const res = await commit(await context(root), { message: "one line", trigger: "manual" });
  assert.ok(res.scan.files <= 12, `only two folders are read (${res.scan.files} files read)`);
  assert.match(git(root, ["show", "--stat", "--format=", "HEAD"]).toString(), /d0\/f0\.txt/);
  const recorded = git(root, ["ls-tree", "-r", "--name-only", "HEAD"]).toString();
  assert.ok(!recorded.includes("d0/f1.txt") || fs.statSync(`${w}/d0/f1.txt`).size <= 2048);
  assert.ok(!recorded.includes("work/d1/"), "the new exclude rule took effect");
  assert.ok(!recorded.includes("work/d4/"), "the removed folder left the snapshot");
  assert.ok(!recorded.includes("work/d5/") && recorded.includes("work/d5x/kept.txt"), "the removed folders left, their neighbour stayed");
  const names = git(root, ["ls-files", "-z"]).toString("latin1").split("\0");
  assert.deepEqual(
    names.filter((n) => /work\/(g\*|new\n|n\xff)/.test(n)),
    ["home/alice/work/g*[1]x/kept.txt"],
    "the awkwardly named folders left the index whole, their neighbour stayed",
  );

  // A watch's hints focus the check on their folders: a change elsewhere waits for a full check.
  fs.appendFileSync(`${w}/d0/f2.txt`, "hinted\n");
  fs.appendFileSync(`${w}/d3/f1.txt`, "not hinted\n");
  const hinted = await commit(await context(root), { message: "hinted", trigger: "auto", hints: ["home/alice/work/d0/f2.txt"] });
  const shown = git(root, ["show", "--stat", "--format=", "HEAD"]).toString();
  assert.match(shown, /d0\/f2\.txt/);
  assert.doesNotMatch(shown, /d3\/f1\.txt/, "outside the hints nothing is looked at");
  assert.ok(hinted.scan.files <= 12, `${hinted.scan.files} files read`);
  const rescan = await commit(await context(root), { message: "rescan", trigger: "schedule" });
  assert.match(git(root, ["show", "--stat", "--format=", "HEAD"]).toString(), /d3\/f1\.txt/, "the full check finds the rest");
  const ctx = await context(root);
  ctx.logbook.dropScanCache();
  assert.equal((await stage(ctx)).tree, rescan.tree);
  execFileSync("git", ["fsck", "--no-progress"], { env: { ...process.env, GIT_DIR: `${root}/var/lib/vml/logbook` } });
});

/** Shows a folder as gone to the first look at it only: it is moved away and back around that look. */
class BlinkSystem extends AheadSystem {
  constructor(private blink: string) {
    super();
  }
  lstat(path: Buffer | string) {
    if (path.toString() === this.blink) {
      this.blink = "";
      return undefined;
    }
    return super.lstat(path);
  }
}

test("a folder gone at the first look and back for the walk still has its changed files found", async (t) => {
  const root = makeGuest({ ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent/mounts\n", "home/alice/work/a/b/f.txt": "one\n", "home/alice/work/a/g.txt": "two\n" });
  t.after(() => cleanup(root));
  await init(await context(root), "main");
  await nextSecond();
  fs.appendFileSync(`${root}/home/alice/work/a/b/f.txt`, "changed inside\n");
  const io: Io = { sys: new BlinkSystem(`${root}/home/alice/work/a`), out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] };
  const res = await commit(await openContext(io, { root }), { message: "moved away and back", trigger: "manual" });
  assert.match(git(root, ["show", "--stat", "--format=", "HEAD"]).toString(), /a\/b\/f\.txt/);
  const ctx = await context(root);
  ctx.logbook.dropScanCache();
  assert.equal((await stage(ctx)).tree, res.tree);
});

test("a file rewritten in the second its snapshot looked at it, its size and mtime kept, is recorded all the same", async (t) => {
  // git compares change times to the second: to its stat check such a file never changed. The
  // snapshot, the rewrite and the next look share one second (set up again if the second ran out).
  const plainContext = (root: string) => openContext({ sys: new NodeSystem(), out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] }, { root });
  for (let attempt = 1; ; attempt++) {
    const root = makeGuest({ ...BASE_FIXTURE, "home/alice/work/run.C": "void run() {}\n" });
    t.after(() => cleanup(root));
    const file = `${root}/home/alice/work/run.C`;
    await nextSecond();
    // Its mtime long past, as a copy that keeps times gives it: git's own racy check (by mtime) stays out.
    fs.utimesSync(file, 1_600_000_000, 1_600_000_000);
    const second = Math.floor(fs.statSync(file).ctimeMs / 1000);
    await init(await plainContext(root), "main");
    fs.writeFileSync(file, "void bad() {}\n");
    fs.utimesSync(file, 1_600_000_000, 1_600_000_000);
    if (Math.floor(fs.statSync(file).ctimeMs / 1000) !== second && attempt < 5) continue;
    assert.equal(Math.floor(fs.statSync(file).ctimeMs / 1000), second, "the rewrite shares the snapshot's second");
    const res = await commit(await plainContext(root), { message: "rewritten", trigger: "manual" });
    assert.equal(res.unchanged, false);
    assert.equal(git(root, ["show", "HEAD:home/alice/work/run.C"]).toString(), "void bad() {}\n");
    // And the look after it, a second later, still agrees with the disk.
    await nextSecond();
    const again = await commit(await plainContext(root), { message: "nothing new", trigger: "manual" });
    assert.equal(again.unchanged, true);
    return;
  }
});

test("a file recorded within two seconds of its change is looked at again by the next snapshot, its folder's other files are not", async (t) => {
  const fixture: Fixture = { ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent/mounts\n" };
  for (let i = 0; i < 50; i++) fixture[`home/alice/work/many/f${i}.txt`] = `${i}\n`;
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  const plainContext = () => openContext({ sys: new NodeSystem(), out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] }, { root });
  const pastRacyWindow = () => new Promise((r) => setTimeout(r, 2100));
  await init(await plainContext(), "main");
  await pastRacyWindow();
  fs.appendFileSync(`${root}/home/alice/work/many/f7.txt`, "changed\n");
  const first = await commit(await plainContext(), { message: "at once", trigger: "manual" });
  assert.equal(first.unchanged, false);
  assert.deepEqual(first.scan.recent.map((r) => r.path.toString()), ["home/alice/work/many/f7.txt"]);

  // Its times could still have moved within a clock tick of that look: it is looked at again (git
  // names it, having no stat for it), the other 49 are taken from the folder's record.
  await pastRacyWindow();
  const second = await commit(await plainContext(), { message: "later", trigger: "manual" });
  assert.equal(second.unchanged, true);
  assert.equal(second.scan.files, 1);
  const ctx = await context(root);
  ctx.logbook.dropScanCache();
  assert.equal((await stage(ctx)).tree, second.tree);
});
