// delete and prune: history rewritten, old ids still resolving, removed content purged for good.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { NodeSystem } from "../agent/platform/system.js";
import { openContext, type Io } from "../agent/cli/io.js";
import { commit, init } from "../agent/core/snapshot.js";
import { prune } from "../agent/core/prune.js";
import { agent, cleanup, git, makeGuest, writeFixture, BASE_FIXTURE } from "./helpers/guest.js";

const W = "home/alice/work";

function hasObject(root: string, id: string): boolean {
  try {
    git(root, ["cat-file", "-e", id]);
    return true;
  } catch {
    return false;
  }
}

test("delete folds a snapshot into the next, purges what only it held, and keeps old ids working", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const base = agent(root, ["--json", "init"]).json().id as string;
  writeFixture(root, { [`${W}/secret.txt`]: "password=hunter2\n" });
  const a = agent(root, ["--json", "commit", "-m", "oops, a secret"]).json().id as string;
  const secretBlob = git(root, ["rev-parse", `${a}:${W}/secret.txt`]).toString().trim();
  fs.rmSync(`${root}/${W}/secret.txt`);
  writeFixture(root, { [`${W}/fit.C`]: "fit\n" });
  const b = agent(root, ["--json", "commit", "-m", "fit"]).json().id as string;
  writeFixture(root, { [`${W}/plot.C`]: "plot\n" });
  const c = agent(root, ["--json", "commit", "-m", "plot", "--tag", "paper"]).json().id as string;

  const r = agent(root, ["--json", "delete", a.slice(0, 10)]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.json() as { removed: string[]; renamed: Record<string, string> };
  assert.deepEqual(out.removed, [a]);
  assert.deepEqual(Object.keys(out.renamed).sort(), [b, c].sort());

  const log = agent(root, ["--json", "log"]).json().snapshots as { id: string; message: string }[];
  assert.deepEqual(log.map((s) => s.message), ["plot", "fit", `base snapshot "base"`]);
  assert.equal(log[2].id, base);
  assert.equal(agent(root, ["--json", "show", b]).json().id, out.renamed[b], "an old id still names its snapshot");
  assert.equal(agent(root, ["--json", "show", "paper"]).json().id, out.renamed[c], "tags follow");
  const gone = agent(root, ["show", a]);
  assert.equal(gone.code, 2);
  assert.match(gone.stderr, /was deleted/);
  assert.ok(!hasObject(root, secretBlob), "the secret's content is gone from the logbook");
  assert.equal(agent(root, ["verify"]).code, 0);
  assert.equal(agent(root, ["--json", "status"]).json().added instanceof Array, true);

  const refused = agent(root, ["delete", "base"]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /base snapshot cannot be deleted/);
});

test("delete --branch removes a line and what only it held, never the line in use", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  agent(root, ["branch", "old-project"]);
  assert.equal(agent(root, ["delete", "--branch", "main"]).code, 2);
  agent(root, ["switch", "old-project"]);
  writeFixture(root, { [`${W}/old.C`]: "old\n" });
  const o = agent(root, ["--json", "commit", "-m", "old work"]).json().id as string;
  agent(root, ["switch", "main"]);
  const r = agent(root, ["--json", "delete", "--branch", "old-project"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((r.json() as { linesRemoved: string[] }).linesRemoved, ["old-project"]);
  assert.ok((r.json() as { removed: string[] }).removed.includes(o));
  assert.ok(!hasObject(root, o));
  assert.deepEqual((agent(root, ["--json", "branch"]).json().lines as { name: string }[]).map((l) => l.name), ["main"]);
});

class Clock extends NodeSystem {
  t = new Date("2026-11-01T00:00:00Z");
  now(): Date {
    return this.t;
  }
}

test("prune keeps what the policy names and says why; the rest is deleted", async (t) => {
  const root = makeGuest(BASE_FIXTURE);
  t.after(() => cleanup(root));
  const sys = new Clock();
  const io: Io = { sys, out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] };
  const ctx = await openContext(io, { root });
  await init(ctx, "main");
  const made: string[] = [];
  for (const [i, when] of ["2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", "2026-11-21T09:00:00Z", "2026-11-22T09:00:00Z", "2026-11-22T15:00:00Z"].entries()) {
    sys.t = new Date(when);
    fs.writeFileSync(`${root}/${W}/step.txt`, `step ${i}\n`);
    made.push((await commit(ctx, { message: `step ${i}`, trigger: "manual" })).id);
  }
  const plan = await prune(ctx, { daily: 2 }, true);
  const reasons = Object.fromEntries(plan.keep.map((k) => [k.id, k.reasons]));
  assert.deepEqual(reasons[made[4]], ["latest of line main", "daily 2026-11-22"]);
  assert.deepEqual(reasons[made[2]], ["daily 2026-11-21"]);
  assert.deepEqual(plan.remove.map((r) => r.id).sort(), [made[0], made[1], made[3]].sort());
  assert.equal(git(root, ["rev-list", "--count", "HEAD"]).toString().trim(), "6", "dry run deletes nothing");

  const done = await prune(ctx, { daily: 2 }, false);
  assert.deepEqual(done.removal!.removed.sort(), [made[0], made[1], made[3]].sort());
  assert.equal(git(root, ["rev-list", "--count", "HEAD"]).toString().trim(), "3");
  await assert.rejects(prune(ctx, {}, true), /needs at least one --keep/);
});
