// `rules check` explains each decision with the rule and where it was written; user rules come last.
import { test } from "node:test";
import assert from "node:assert/strict";
import { agent, cleanup, git, makeGuest, writeFixture, BASE_FIXTURE } from "./helpers/guest.js";

test("rules check names the deciding rule, its file and line", (t) => {
  const root = makeGuest({
    ...BASE_FIXTURE,
    "etc/vml/agent.yaml": "mounts_table: /nonexistent\nrules:\n  # the user's own\n  - include: /data/*/analysis\n  - exclude: /home/alice/work/scratch/\n",
    "data/run2/analysis/fit.C": "fit\n",
    "data/run2/raw/huge.dat": "raw\n",
    "home/alice/work/scratch/tmp.o": "o\n",
  });
  t.after(() => cleanup(root));
  const r = agent(root, ["rules", "check", "/home/alice/.cache/pip/x", "/data/run2/analysis/fit.C", "/home/alice/work/scratch/tmp.o", "/etc/hosts", "/proc/1/status"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0], /^\/home\/alice\/\.cache\/pip\/x: excluded by `exclude: \.cache\/` \(.*rules\/default\.yaml:\d+\), which matches \/home\/alice\/\.cache$/);
  assert.match(lines[1], /^\/data\/run2\/analysis\/fit\.C: included by `include: \/data\/\*\/analysis` \(.*agent\.yaml:4\), which matches \/data\/run2\/analysis$/);
  assert.match(lines[2], /excluded by `exclude: \/home\/alice\/work\/scratch\/` \(.*agent\.yaml:5\)/);
  assert.match(lines[3], /^\/etc\/hosts: included by `include: \/etc`/);
  assert.match(lines[4], /^\/proc\/1\/status: excluded no rule includes it; does not exist now$/);

  // The scanner follows the same decisions.
  assert.equal(agent(root, ["init"]).code, 0);
  const files = git(root, ["ls-tree", "-r", "--name-only", "HEAD"]).toString().split("\n");
  assert.ok(files.includes("data/run2/analysis/fit.C"));
  assert.ok(!files.includes("data/run2/raw/huge.dat"));
  assert.ok(!files.includes("home/alice/work/scratch/tmp.o"));
});

test("changing the rules changes what the next snapshot holds", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  writeFixture(root, { "etc/vml/agent.yaml": "mounts_table: /nonexistent\nrules:\n  - exclude: /home/alice/work\n" });
  const c = agent(root, ["--json", "commit", "-m", "exclude work"]);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(c.json().deleted, ["/home/alice/work", "/home/alice/work/ana.C"]);
  const files = git(root, ["ls-tree", "-r", "--name-only", "HEAD"]).toString();
  assert.doesNotMatch(files, /ana\.C/);
});
