// Lines of work, tags, switch between projects, and verify.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import { agent, cleanup, git, makeGuest, writeFixture, BASE_FIXTURE } from "./helpers/guest.js";

const W = "home/alice/work";
const FIXTURE = { ...BASE_FIXTURE, "etc/profile.d/lang.sh": "export LANG=C\n" };

test("switch records the present on its line, then restores the other line's latest state", (t) => {
  const root = makeGuest(FIXTURE);
  t.after(() => cleanup(root));
  const base = agent(root, ["--json", "init"]).json().id;
  assert.equal(agent(root, ["branch", "zmumu"]).code, 0);
  assert.equal(agent(root, ["branch", "zmumu"]).code, 2, "a line name is used once");
  assert.equal(agent(root, ["branch", "base"]).code, 2, "reserved names are refused");

  writeFixture(root, { [`${W}/higgs.C`]: "higgs\n" });
  const s1 = agent(root, ["--json", "switch", "zmumu"]);
  assert.equal(s1.code, 0, s1.stdout + s1.stderr);
  assert.ok(!fs.existsSync(`${root}/${W}/higgs.C`), "zmumu's state has no higgs.C");
  const lines = agent(root, ["--json", "branch"]).json().lines as { name: string; current: boolean; id: string }[];
  assert.deepEqual(lines.map((l) => [l.name, l.current]), [["main", false], ["zmumu", true]]);
  assert.equal(lines.find((l) => l.name === "zmumu")!.id, base);

  writeFixture(root, { [`${W}/zmumu.C`]: "z\n" });
  assert.equal(agent(root, ["commit", "-m", "z work"]).code, 0);
  assert.equal(agent(root, ["switch", "main"]).code, 0);
  assert.equal(fs.readFileSync(`${root}/${W}/higgs.C`, "utf8"), "higgs\n", "main's work is back");
  assert.ok(!fs.existsSync(`${root}/${W}/zmumu.C`));
  const mainLog = agent(root, ["--json", "log"]).json().snapshots as { message: string }[];
  assert.match(mainLog[0].message, /^before restoring zmumu$/);

  assert.equal(agent(root, ["switch", "nosuch"]).code, 2);
  assert.equal(agent(root, ["switch", "main"]).code, 2, "already there");
});

test("tags name snapshots and work wherever a REF does", (t) => {
  const root = makeGuest(FIXTURE);
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  writeFixture(root, { [`${W}/a.C`]: "a\n" });
  const c = agent(root, ["--json", "commit", "-m", "first results", "--tag", "v1"]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(agent(root, ["--json", "show", "v1"]).json().id, c.json().id);
  assert.equal(agent(root, ["tag", "base", "pristine"]).code, 0);
  assert.equal(agent(root, ["tag", "@", "v1"]).code, 2, "a tag name is used once");
  assert.equal(agent(root, ["commit", "-m", "x", "--tag", "v1"]).code, 2, "refused before committing");
  const tags = agent(root, ["--json", "tag"]).json().tags as { name: string }[];
  assert.deepEqual(tags.map((x) => x.name), ["pristine", "v1"]);
  assert.equal(agent(root, ["--json", "diff", "pristine", "v1"]).json().added instanceof Array, true);
});

test("verify finds a sound logbook sound, and lists what is wrong with a damaged one", (t) => {
  const root = makeGuest(FIXTURE);
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  writeFixture(root, { [`${W}/a.C`]: "a\n" });
  agent(root, ["commit", "-m", "a"]);
  const ok = agent(root, ["--json", "verify"]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.deepEqual({ sound: ok.json().sound, snapshots: ok.json().snapshots }, { sound: true, snapshots: 2 });

  // A snapshot whose tree holds a file its manifest does not list.
  const blob = git(root, ["hash-object", "-w", "--stdin"], "smuggled\n").toString().trim();
  git(root, ["update-index", "--add", "--cacheinfo", `100644,${blob},home/alice/smuggled`]);
  const bad = git(root, ["write-tree"]).toString().trim();
  const id = git(root, ["commit-tree", bad, "-p", "HEAD", "-m", "x\n\nVml-Trigger: manual"]).toString().trim();
  git(root, ["update-ref", "HEAD", id]);
  const r = agent(root, ["verify"]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /problem: [0-9a-f]{12}: \/home\/alice\/smuggled is stored but missing from the manifest/);
  assert.match(r.stdout, /3 snapshots and \d+ names checked: 1 problem\.$/m);
});

test("verify reads a history by its changes: damage is named in the snapshots whose changes bring it, on any line", (t) => {
  const root = makeGuest(FIXTURE);
  const index = `${root}.verify-index`;
  t.after(() => {
    cleanup(root);
    fs.rmSync(index, { force: true });
  });
  agent(root, ["init"]);
  writeFixture(root, { [`${W}/a.C`]: "a\n", [`${W}/b.C`]: "b\n", "home/alice/notes.txt": "n\n" });
  agent(root, ["commit", "-m", "ab"]);
  // Snapshots made by hand: from a parent's tree, through an index of the test's own.
  const g = (args: string[], input?: string) =>
    execFileSync("git", args, { input, env: { ...process.env, GIT_DIR: `${root}/var/lib/vml/logbook`, GIT_INDEX_FILE: index } }).toString().trim();
  const made = (parent: string | undefined, edit: () => void, message: string, from = parent!) => {
    g(["read-tree", from]);
    edit();
    return g(["commit-tree", g(["write-tree"]), ...(parent ? ["-p", parent] : []), "-m", `${message}\n\nVml-Trigger: manual`]);
  };
  const head = g(["rev-parse", "HEAD"]);
  const b = g(["rev-parse", `HEAD:${W}/b.C`]);
  const mode = made(head, () => g(["update-index", "--cacheinfo", `100755,${b},${W}/b.C`]), "b.C made executable behind the manifest's back");
  const gone = made(mode, () => g(["update-index", "--force-remove", `${W}/a.C`]), "a.C's content gone, still listed");
  const env = g(["hash-object", "-w", "--stdin"], "X=1\n");
  const later = made(gone, () => g(["update-index", "--cacheinfo", `100644,${env},.vml/env`]), "a later snapshot that changes no file");
  g(["update-ref", "HEAD", later]);
  // A line of its own with no parent (as an import's first snapshot is): checked whole.
  const smuggled = g(["hash-object", "-w", "--stdin"], "smuggled\n");
  const orphan = made(undefined, () => g(["update-index", "--add", "--cacheinfo", `100644,${smuggled},home/alice/smuggled`]), "an orphan", head);
  g(["update-ref", "refs/heads/elsewhere", orphan]);

  const r = agent(root, ["verify"]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const problems = r.stdout.split("\n").filter((l) => l.startsWith("problem: ")).sort();
  const at = (id: string, what: string) => `problem: ${id.slice(0, 12)}: /${what}`;
  assert.deepEqual(
    problems,
    [
      at(mode, `${W}/b.C is stored as 100755, the manifest says 100644`),
      at(gone, `${W}/a.C is in the manifest but its content is not in the snapshot`),
      at(gone, `${W}/b.C is stored as 100755, the manifest says 100644`),
      at(orphan, "home/alice/smuggled is stored but missing from the manifest"),
    ].sort(),
  );
  assert.match(r.stdout, /6 snapshots and \d+ names checked: 4 problems\.$/m);
});
