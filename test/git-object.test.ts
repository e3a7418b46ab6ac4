// The commit objects a snapshot writes itself are the ones native git writes for the same fields:
// same bytes, same id, and git reads them back as sound.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { objectId, renderCommit, type CommitFields } from "../agent/model/git-object.js";
import { Logbook } from "../agent/core/logbook.js";
import { NodeSystem } from "../agent/platform/system.js";
import { TreeModel } from "../agent/core/tree-model.js";

/** A bare repository where a Logbook on `root` looks for its logbook. */
function gitRepo(t: { after(fn: () => void): void }): { root: string; git: (args: string[], env?: Record<string, string>, input?: string) => string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "vml-gitobj-"));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const gitDir = path.join(root, "var/lib/vml/logbook");
  fs.mkdirSync(gitDir, { recursive: true });
  const git = (args: string[], env: Record<string, string> = {}, input = "") =>
    execFileSync("git", args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_DIR: gitDir, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", ...env }, input }).toString();
  git(["init", "-q", "--bare"]);
  return { root, git };
}

const IDENTS: [string, string][] = [
  ["alice", "alice@cernvm"],
  ["  .Alice Physicist, ", " <alice@cernvm>; "],
  ["A<l>i\nce", "al<i>ce@cern\nvm"],
  ["Zoë Ångström", "zoë@cernvm.example"],
  ["'\"quoted\"'", "\\odd\\@host"],
];

test("a commit written in-process has the bytes and id git commit-tree gives the same fields", (t) => {
  const { git } = gitRepo(t);
  const tree = git(["mktree"], {}, "").trim();
  const parent = git(["commit-tree", tree, "-m", "first"], { GIT_AUTHOR_NAME: "a", GIT_AUTHOR_EMAIL: "a@b", GIT_COMMITTER_NAME: "a", GIT_COMMITTER_EMAIL: "a@b" }).trim();
  const messages = ["one line", "subject\n\nbody with  spaces  \n\nVml-Trigger: manual\nVml-Format: 1\n", "no final newline\n\n\n", "tab\there ünïcode"];
  let n = 0;
  for (const [name, email] of IDENTS) {
    for (const message of messages) {
      const fields: CommitFields = {
        tree,
        parents: n++ % 2 ? [parent] : [],
        author: { name, email, date: "1700000000 +0000" },
        committer: { name: "vml-agent", email: `vml-agent@${name}`, date: "1700000001 +0100" },
        message,
      };
      const env = {
        GIT_AUTHOR_NAME: fields.author.name,
        GIT_AUTHOR_EMAIL: fields.author.email,
        GIT_AUTHOR_DATE: fields.author.date,
        GIT_COMMITTER_NAME: fields.committer.name,
        GIT_COMMITTER_EMAIL: fields.committer.email,
        GIT_COMMITTER_DATE: fields.committer.date,
      };
      const expected = git(["commit-tree", tree, ...fields.parents.flatMap((p) => ["-p", p]), "-F", "-"], env, message).trim();
      const data = renderCommit(fields);
      assert.equal(objectId("commit", data), expected, `${JSON.stringify(name)} / ${JSON.stringify(message)}`);
      assert.equal(data.toString(), git(["cat-file", "commit", expected]));
    }
  }
});

test("a commit with no usable name is written under 'unknown' instead of failing, and git accepts it", (t) => {
  const { root, git } = gitRepo(t);
  const tree = git(["mktree"], {}, "").trim();
  const lb = new Logbook(new NodeSystem(), root);
  const id = lb.writeCommit({ tree, parents: [], author: { name: " <.,> ", email: "x@y", date: "1700000000 +0000" }, committer: { name: "vml-agent", email: "v@y", date: "1700000000 +0000" }, message: "m\n" }, true);
  assert.match(git(["cat-file", "-p", id]), /^author unknown <x@y> 1700000000 \+0000$/m);
  git(["update-ref", "refs/heads/main", id]);
  git(["fsck", "--strict", "--no-dangling"]);
});

test("the head is read from git's files as git reads it: unborn, loose ref, packed ref, detached; packed objects are left to git", (t) => {
  const { root, git } = gitRepo(t);
  const lb = new Logbook(new NodeSystem(), root);
  git(["symbolic-ref", "HEAD", "refs/heads/main"]);
  assert.equal(lb.headId(), null);
  const tree = git(["mktree"], {}, "").trim();
  const ident = { name: "alice", email: "alice@cernvm", date: "1700000000 +0000" };
  const first = lb.writeCommit({ tree, parents: [], author: ident, committer: ident, message: "first\n\nVml-Base: cernvm-5.1\n" });
  git(["update-ref", "HEAD", first]);
  assert.equal(lb.headId(), git(["rev-parse", "HEAD"]).trim());
  assert.deepEqual(lb.readLooseObject(first, "commit"), Buffer.from(git(["cat-file", "commit", first])));
  assert.equal(lb.readLooseObject(first, "blob"), undefined);

  git(["pack-refs", "--all"]);
  assert.equal(fs.existsSync(path.join(root, "var/lib/vml/logbook/refs/heads/main")), false);
  assert.equal(lb.headId(), first);
  git(["update-ref", "refs/heads/other", first]);
  git(["symbolic-ref", "HEAD", "refs/heads/nothing-yet"]);
  assert.equal(lb.headId(), null);

  git(["update-ref", "--no-deref", "HEAD", first]);
  assert.equal(lb.headId(), first);
  git(["gc", "--quiet", "--prune=now"]);
  assert.equal(lb.readLooseObject(first, "commit"), undefined);
});

test("trees the daemon writes from its model are the trees git writes for the same entries", (t) => {
  const { root, git } = gitRepo(t);
  const lb = new Logbook(new NodeSystem(), root);
  const blob = (s: string) => lb.writeObjects("blob", [Buffer.from(s)])[0];
  // Names that sort differently as files and as folders ("a" and "a-b", "a.b" around "a/"), a
  // name that is not UTF-8, executables, symlinks, deep and empty folders.
  const entries: [string, string, string][] = [
    ["a/x", "100644", blob("x")],
    ["a-b", "100644", blob("a-b")],
    ["a.b", "100755", blob("run")],
    ["a0/y", "120000", blob("../a/x")],
    ["deep/er/still/z", "100644", blob("z")],
    [Buffer.from("caf\xe9/\xff", "latin1").toString("latin1"), "100644", blob("latin1")],
    ["gone/soon", "100644", blob("soon")],
  ];
  const indexInfo = (list: [string, string, string][]) =>
    Buffer.concat(list.map(([p, mode, id]) => Buffer.concat([Buffer.from(`${mode} ${id}\t`), Buffer.from(p, "latin1"), Buffer.from([0])])));
  const env = { GIT_INDEX_FILE: path.join(root, "index") };
  const gitTree = (list: [string, string, string][]) => {
    fs.rmSync(env.GIT_INDEX_FILE, { force: true });
    execFileSync("git", ["update-index", "-z", "--index-info"], { env: { ...process.env, GIT_DIR: path.join(root, "var/lib/vml/logbook"), ...env }, input: indexInfo(list) });
    return git(["write-tree"], env).trim();
  };
  const first = gitTree(entries);
  const model = TreeModel.parse(first, execFileSync("git", ["ls-tree", "-r", "-t", "-z", "--full-tree", first], { env: { ...process.env, GIT_DIR: path.join(root, "var/lib/vml/logbook") } }))!;
  const store = (data: Buffer) => lb.writeObjects("tree", [data])[0];
  assert.equal(model.write(store), first, "nothing changed: the same tree");

  model.dropFolder("gone");
  model.setBlob("a/x", { mode: "100755", id: blob("x2") });
  model.setBlob("a/new/deeper", { mode: "100644", id: blob("new") });
  model.setBlob("a-b", undefined);
  const changed = entries
    .filter(([p]) => p !== "gone/soon" && p !== "a-b")
    .map(([p, m, id]): [string, string, string] => (p === "a/x" ? [p, "100755", blob("x2")] : [p, m, id]))
    .concat([["a/new/deeper", "100644", blob("new")]]);
  assert.equal(model.write(store), gitTree(changed));
  assert.deepEqual([...model.takeChanges().keys()].sort(), ["a-b", "a/new/deeper", "a/x", "gone/soon"]);
  assert.equal(git(["fsck", "--strict", "--no-dangling"]).trim(), "");

  for (const [p] of changed) model.setBlob(p, undefined);
  assert.equal(model.write(store), "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "everything gone: the empty tree");
});

test("refs moved through a kept-open git process: compare-and-swap, reflog message, and a fresh process after a refusal", async (t) => {
  const { root, git } = gitRepo(t);
  const tree = git(["mktree"], {}, "").trim();
  const ident = { GIT_AUTHOR_NAME: "a", GIT_AUTHOR_EMAIL: "a@b", GIT_COMMITTER_NAME: "a", GIT_COMMITTER_EMAIL: "a@b" };
  const [a, b, c] = ["a", "b", "c"].map((m) => git(["commit-tree", tree, "-m", m], ident).trim());
  const lb = new Logbook(new NodeSystem(), root);
  lb.keepOpen();
  t.after(() => lb.close());
  const ZERO = "0".repeat(40);
  await lb.moveRef("refs/heads/main", a, ZERO, "vml commit");
  await lb.moveRef("refs/heads/main", b, a, "vml commit");
  await lb.moveRef("refs/tags/t", c, ZERO, "vml tag");
  assert.equal(git(["rev-parse", "refs/heads/main"]).trim(), b);
  assert.equal(git(["rev-parse", "refs/tags/t"]).trim(), c);
  // Moved meanwhile: refused, the ref left where it is, and said plainly.
  await assert.rejects(lb.moveRef("refs/heads/main", c, a, "vml commit"), (e: Error & { code?: string }) => e.code === "GIT_FAILED" && /refs\/heads\/main/.test(e.message));
  assert.equal(git(["rev-parse", "refs/heads/main"]).trim(), b);
  await lb.moveRef("refs/heads/main", c, b, "vml commit");
  assert.equal(git(["rev-parse", "refs/heads/main"]).trim(), c);
  assert.deepEqual(git(["reflog", "show", "--format=%gs", "refs/heads/main"]).trim().split("\n"), ["vml commit", "vml commit", "vml commit"]);
  // Its git gone while idle (killed): the next move starts another.
  const message = `vml idle ${process.pid}`;
  await lb.moveRef("refs/heads/main", a, c, message);
  execFileSync("pkill", ["-f", `update-ref -m ${message}`]);
  await new Promise((r) => setTimeout(r, 200));
  await lb.moveRef("refs/heads/main", b, a, message);
  assert.equal(git(["rev-parse", "refs/heads/main"]).trim(), b);
  lb.close();
  // Closed: a move starts a git of its own again.
  await lb.moveRef("refs/heads/main", a, b, "vml delete");
  assert.equal(git(["rev-parse", "refs/heads/main"]).trim(), a);
});

test("blobs streamed from git come whole and in order, whatever their sizes against the pipe's chunks", async (t) => {
  const { root, git } = gitRepo(t);
  const sizes = [0, 1, 65_535, 65_536, 65_537, 3_000_000, 10, 0, 200_000, 7];
  const blobs = sizes.map((n) => randomBytes(n));
  const ids = blobs.map((b) => {
    const file = path.join(root, "blob");
    fs.writeFileSync(file, b);
    return git(["hash-object", "-w", file]).trim();
  });
  const lb = new Logbook(new NodeSystem(), root);
  const got: [number, Buffer][] = [];
  await lb.streamBlobs(ids, async (i, data) => {
    // A consumer slower than the pipe: chunks keep coming while it works.
    await new Promise((r) => setTimeout(r, 1));
    got.push([i, Buffer.from(data)]);
  });
  assert.deepEqual(got.map(([i]) => i), sizes.map((_, i) => i));
  got.forEach(([i, data]) => assert.ok(data.equals(blobs[i]), `blob ${i} (${sizes[i]} bytes)`));
  await assert.rejects(lb.streamBlobs([ids[0], "1".repeat(40)], () => undefined), /missing from the logbook/);
});
