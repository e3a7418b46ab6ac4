// Random work on a guest, with the same seed every run: files and folders made, edited, chmod'ed,
// renamed and removed, snapshots taken and restored, and now and then a git command run on the
// logbook by hand. After every snapshot the logbook verifies; after every restore the guest equals
// the snapshot it was brought to.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { agent, cleanup, git, makeGuest } from "./helpers/guest.js";

/** A small deterministic generator (the same operations every run). */
function random(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s >>> 8) % n;
  };
}

const IGNORED = new Set(["ENOENT", "ENOTEMPTY", "EEXIST", "ENOTDIR", "EISDIR"]);

for (const seed of [3, 8]) {
  test(`random operations (seed ${seed}) keep every snapshot sound and every restore exact`, (t) => {
    const root = makeGuest();
    t.after(() => cleanup(root));
    const work = `${root}/home/alice/work`;
    assert.equal(agent(root, ["init"]).code, 0);
    const rnd = random(seed);
    const entries = (pred: (e: fs.Dirent) => boolean) =>
      fs.existsSync(work) ? fs.readdirSync(work, { recursive: true, withFileTypes: true }).filter(pred).map((e) => path.join(e.parentPath, e.name)) : [];
    const pick = <T>(list: T[]): T | undefined => (list.length ? list[rnd(list.length)] : undefined);
    const ids: string[] = [];
    for (let i = 0; i < 90; i++) {
      const dirs = [work, ...entries((e) => e.isDirectory())];
      const files = entries((e) => e.isFile());
      const op = rnd(12);
      try {
        if (op <= 2) fs.writeFileSync(path.join(pick(dirs)!, `f${rnd(20)}`), `v${i}\n`.repeat(rnd(4) + 1));
        else if (op === 3 && files.length) fs.appendFileSync(pick(files)!, `more ${i}\n`);
        else if (op === 4 && files.length) fs.rmSync(pick(files)!);
        else if (op === 5) fs.mkdirSync(path.join(pick(dirs)!, `d${rnd(5)}`), { recursive: true });
        else if (op === 6 && dirs.length > 1) fs.rmSync(dirs[1 + rnd(dirs.length - 1)], { recursive: true });
        else if (op === 7 && files.length) fs.chmodSync(pick(files)!, [0o600, 0o755, 0o644, 0o4755][rnd(4)]);
        else if (op === 8 && dirs.length > 1) {
          const d = dirs[1 + rnd(dirs.length - 1)];
          fs.renameSync(d, path.join(path.dirname(d), `r${rnd(4)}`));
        } else if (op === 9) {
          const c = agent(root, ["--json", "commit", "-m", `step ${i}`]);
          assert.equal(c.code, 0, c.stderr);
          ids.push(c.json().id as string);
          const v = agent(root, ["verify"]);
          assert.equal(v.code, 0, `after step ${i}: ${v.stdout}`);
        } else if (op === 10 && ids.length) {
          const id = pick(ids)!;
          const r = agent(root, ["restore", id]);
          assert.equal(r.code, 0, `restore at step ${i}: ${r.stdout}${r.stderr}`);
          const d = agent(root, ["--json", "diff", id]).json() as { files: { path: string }[] };
          // The restore writes the environment script, and with it /etc/profile.d when it was missing.
          assert.deepEqual(d.files.map((f) => f.path).filter((p) => p !== "/etc/profile.d"), [], `the guest differs from ${id} after its restore (step ${i})`);
        } else if (op === 11 && files.length) {
          // Someone runs git on the logbook by hand: the next snapshot must not be led astray.
          git(root, ["-C", root, "update-index", "--add", path.relative(root, pick(files)!)]);
        }
      } catch (e) {
        if (!IGNORED.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
      }
    }
    assert.ok(ids.length >= 3, "the seed takes some snapshots");
  });
}
