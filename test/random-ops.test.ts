// Random work on a guest, with the same seeds every run: files and folders made, edited, chmod'ed,
// chown'ed, re-timed, renamed and removed, symlinks and hard links made, snapshots taken, restored
// whole or in part, deleted, and now and then a git command run on the logbook by hand. The oracle
// is independent of the agent: a copy of the work area taken at each snapshot, compared after each
// restore with rsync (content checksums, types, modes, owners, times, link targets, hard links).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { agent, cleanup, git, makeGuest, tempDir, BASE_FIXTURE } from "./helpers/guest.js";
import { startDaemon, stopDaemon, untilWatching } from "./helpers/daemon.js";
import { copyTree, rsyncDiff } from "./helpers/compare.js";

/** A small deterministic generator (the same operations every run). */
function random(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s >>> 8) % n;
  };
}

const IGNORED = new Set(["ENOENT", "ENOTEMPTY", "EEXIST", "ENOTDIR", "EISDIR", "EINVAL"]);
const NAMES = ["f", "g h", "tab\there", "q'\"", "é", "new\nline", "x.o"];
/** rsync's line for the top folder's time alone: restoring a path inside it moves it. */
const TOP_TIME = /^\.d\.\.t\.{6} \.\/$/;

// With a daemon, commits are handed to it: it looks only where its watch saw changes and writes the
// trees itself (quick-trees.ts), while restores, deletes and git by hand go on beside it.
for (const { seed, daemon } of [{ seed: 3 }, { seed: 1 }, { seed: 5, daemon: true }, { seed: 11, daemon: true }]) {
  test(`random operations (seed ${seed}${daemon ? ", commits through the daemon" : ""}): every snapshot sound, every restore equal to a copy taken at the snapshot`, async (t) => {
    const root = makeGuest({ ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent/mounts\nwatch_settle: 600\n" });
    const copies = tempDir("vml-oracle-");
    const work = `${root}/home/alice/work`;
    const init = agent(root, ["--json", "init"]);
    assert.equal(init.code, 0, init.stderr);
    // Its debug log says which snapshots took the quick way: some must, or this tests nothing new.
    const running = daemon ? startDaemon(root, { VML_LOG_LEVEL: "debug" }, path.join(copies, "daemon.log")) : undefined;
    t.after(async () => {
      if (running) await stopDaemon(running);
      [root, copies].forEach(cleanup);
    });
    if (running) await untilWatching(running);
    const base = init.json().id as string;
    const rnd = random(seed);
    const entries = (pred: (e: fs.Dirent) => boolean) =>
      fs.existsSync(work) ? fs.readdirSync(work, { recursive: true, withFileTypes: true }).filter(pred).map((e) => path.join(e.parentPath, e.name)) : [];
    const pick = <T>(list: T[]): T | undefined => (list.length ? list[rnd(list.length)] : undefined);
    /** Snapshot id → the copy of the work area taken when it was recorded. */
    const oracle = new Map<string, string>();
    const ids: string[] = [];
    /** Every id handed out → the id its snapshot has now (a delete renames the later ones). */
    const current = new Map<string, string>();
    const known = (id: string) => ids.find((k) => current.get(k) === id);
    const differences = (copy: string, sub = "") => rsyncDiff(path.join(copy, sub), path.join(work, sub)).split("\n").filter((l) => l && !TOP_TIME.test(l));
    let restores = 0;
    let taken = 0;
    for (let i = 0; i < 110; i++) {
      const dirs = [work, ...entries((e) => e.isDirectory())];
      const files = entries((e) => e.isFile());
      const all = entries(() => true);
      const op = rnd(20);
      try {
        if (op <= 2) fs.writeFileSync(path.join(pick(dirs)!, `${pick(NAMES)}${rnd(9)}`), `v${i}\n`.repeat(rnd(4) + 1));
        else if (op === 3 && files.length) fs.appendFileSync(pick(files)!, `more ${i}\n`);
        else if (op === 4 && all.length) fs.rmSync(pick(all)!, { recursive: true });
        else if (op === 5) fs.mkdirSync(path.join(pick(dirs)!, `d${rnd(5)}`), { recursive: true });
        else if (op === 6 && files.length) fs.chmodSync(pick(files)!, [0o600, 0o755, 0o644, 0o4755, 0o000][rnd(5)]);
        else if (op === 7 && dirs.length > 1) {
          const d = dirs[1 + rnd(dirs.length - 1)];
          fs.renameSync(d, path.join(path.dirname(d), `r${rnd(4)}`));
        } else if (op === 8) fs.symlinkSync(pick(["../x", "/etc/passwd", "dangling", "d0", "."])!, path.join(pick(dirs)!, `l${rnd(6)}`));
        else if (op === 9 && files.length) fs.linkSync(pick(files)!, path.join(pick(dirs)!, `h${rnd(6)}`));
        else if (op === 10 && all.length) fs.lchownSync(pick(all)!, [0, 1000, 4242][rnd(3)], [0, 1000, 4343][rnd(3)]);
        else if (op === 11 && all.length) {
          const p = pick(all)!;
          const when = 1_600_000_000 + rnd(100_000);
          if (!fs.lstatSync(p).isSymbolicLink()) fs.utimesSync(p, when, when);
        } else if (op === 12 && dirs.length) fs.chmodSync(pick(dirs)!, [0o700, 0o755, 0o1777, 0o2755][rnd(4)]);
        else if (op === 13 || op >= 18) {
          const c = agent(root, ["--json", "commit", "-m", `step ${i}`]);
          assert.equal(c.code, 0, c.stderr);
          const id = c.json().id as string;
          assert.equal(agent(root, ["verify"]).code, 0, `verify after step ${i}`);
          const seen = known(id);
          if (seen) assert.deepEqual(differences(oracle.get(seen)!), [], `nothing changed, says the commit at step ${i}`);
          else if (id !== base) {
            const copy = path.join(copies, `step-${i}`);
            fs.mkdirSync(copy);
            copyTree(work, copy);
            oracle.set(id, copy);
            ids.push(id);
            current.set(id, id);
            taken++;
          }
        } else if (op === 14 && ids.length) {
          const id = pick(ids)!;
          const r = agent(root, ["restore", id]);
          assert.equal(r.code, 0, `restore at step ${i}: ${r.stdout}${r.stderr}`);
          assert.deepEqual(differences(oracle.get(id)!), [], `the work area differs from ${id} after its restore (step ${i})`);
          restores++;
        } else if (op === 15 && ids.length) {
          const id = pick(ids)!;
          const top = pick(fs.readdirSync(oracle.get(id)!));
          if (top === undefined) continue;
          const r = agent(root, ["restore", id, `/home/alice/work/${top}`]);
          // A hard link whose other name is left as it is now can only be restored as a file of its own, and says so.
          const unshared = r.code === 3 && /as a file of its own/.test(r.stdout) && !/Not restored \((?!1\))/.test(r.stdout);
          assert.ok(r.code === 0 || unshared, `restore of ${top} at step ${i}: ${r.stdout}${r.stderr}`);
          if (fs.lstatSync(path.join(oracle.get(id)!, top)).isDirectory()) {
            assert.deepEqual(differences(oracle.get(id)!, top), [], `${top} differs from ${id} after its restore (step ${i})`);
          }
          restores++;
        } else if (op === 16 && ids.length > 1) {
          // A deleted snapshot is gone; the others, by their old ids, still restore exactly.
          const gone = current.get(pick(ids)!)!;
          const d = agent(root, ["--json", "delete", gone]);
          assert.equal(d.code, 0, `delete at step ${i}: ${d.stdout}${d.stderr}`);
          assert.equal(agent(root, ["verify"]).code, 0, `verify after the delete at step ${i}`);
          const renamed = d.json().renamed as Record<string, string>;
          for (const k of [...ids]) {
            const now = current.get(k)!;
            if (now === gone) {
              ids.splice(ids.indexOf(k), 1);
              oracle.delete(k);
            } else if (renamed[now]) current.set(k, renamed[now]);
          }
        } else if (op === 17 && files.length) {
          // Someone runs git on the logbook by hand: the next snapshot must not be led astray.
          git(root, ["-C", root, "update-index", "--add", path.relative(root, pick(files)!)]);
        }
      } catch (e) {
        if (!IGNORED.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
      }
    }
    assert.ok(taken >= 2 && restores >= 3, `the seed takes snapshots (${taken}) and restores them (${restores})`);
    if (running) {
      const quick = running.stderr().split("\n").filter((l) => l.includes("tree written the quick way")).length;
      assert.ok(quick >= 5, `commits took the quick way (${quick})`);
    }
  });
}
