// Every bad input: one clear line on stderr, the documented exit code, nothing recorded lost.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { AGENT, agent, cleanup, git, makeGuest, writeFixture } from "./helpers/guest.js";

function oneLine(stderr: string): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
}

test("a root that is not a directory", () => {
  const r = agent("/nonexistent/guest", ["status"]);
  assert.equal(r.code, 2);
  oneLine(r.stderr);
  assert.match(r.stderr, /not a directory/);
});

test("a logbook that does not exist yet", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  for (const cmd of [["status"], ["log"], ["commit", "-m", "x"], ["show", "@"], ["diff"]]) {
    const r = agent(root, cmd);
    assert.equal(r.code, 2, cmd.join(" "));
    oneLine(r.stderr);
    assert.match(r.stderr, /no logbook .* run `vml-agent --root .* init` first/);
  }
});

test("an unknown REF", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  for (const ref of ["nosuchthing", "deadbeef", "@~5", "--help-me", "a..b"]) {
    const r = agent(root, ["show", ref]);
    assert.equal(r.code, 2, ref);
    oneLine(r.stderr);
  }
  const r = agent(root, ["--json", "diff", "nosuch", "@"]);
  assert.equal(r.code, 2);
  assert.equal((r.json().error as { code: string }).code, "UNKNOWN_REF");
});

test("malformed YAML is reported with its line and column, and nothing recorded is lost", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const id = agent(root, ["--json", "init"]).json().id;
  writeFixture(root, { "etc/vml/agent.yaml": "rules:\n  - include: /data\n  - exclude: /x: y\n" });
  const r = agent(root, ["commit", "-m", "x"]);
  assert.equal(r.code, 2);
  oneLine(r.stderr);
  assert.match(r.stderr, /agent\.yaml:3:14: malformed YAML: Nested mappings are not allowed in compact mappings$/m);
  assert.equal(git(root, ["rev-parse", "HEAD"]).toString().trim(), id);

  writeFixture(root, { "etc/vml/agent.yaml": "rules:\n  - include: /data\nsize_limt: 5M\n" });
  const u = agent(root, ["status"]);
  assert.equal(u.code, 2);
  oneLine(u.stderr);
  assert.match(u.stderr, /agent\.yaml:3:1: unknown key "size_limt"/);

  writeFixture(root, { "etc/vml/agent.yaml": "rules:\n  - includ: /data\n" });
  const w = agent(root, ["status"]);
  assert.equal(w.code, 2);
  assert.match(w.stderr, /agent\.yaml:2:5: a rule is include or exclude, not "includ"/);

  writeFixture(root, { "etc/vml/agent.yaml": "rule_sets: [default, nosuch]\n" });
  const n = agent(root, ["status"]);
  assert.equal(n.code, 2);
  assert.match(n.stderr, /rule set "nosuch" does not exist/);
});

test("an explicit --config that does not exist", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const r = agent(root, ["--config", `${root}/nope.yaml`, "status"]);
  assert.equal(r.code, 2);
  oneLine(r.stderr);
});

test("bad usage exits 2; --help lists options and exit codes and exits 0", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["frobnicate"]).code, 2);
  assert.equal(agent(root, ["commit"]).code, 2, "commit without -m");
  assert.equal(agent(root, ["log", "-n", "many"]).code, 2);
  for (const cmd of [[], ["init"], ["commit"], ["status"], ["log"], ["show"], ["diff"], ["rules", "check"]]) {
    const h = agent(root, [...cmd, "--help"]);
    assert.equal(h.code, 0, cmd.join(" "));
    assert.match(h.stdout, /Exit codes:\n\s+0 {2}done/);
  }
});

test("a missing config file means the shipped defaults", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  fs.rmSync(`${root}/etc/vml`, { recursive: true });
  const r = agent(root, ["--json", "rules", "check", "/etc/hosts", "/etc/mtab", "/proc/1"]);
  assert.equal(r.code, 0, r.stderr);
  const res = r.json().results as { included: boolean }[];
  assert.deepEqual(res.map((x) => x.included), [true, false, false]);
});

/** A small disk of its own, gone after the test. */
function smallDisk(t: TestContext, size: string): string {
  const mnt = fs.mkdtempSync("/tmp/vml-full-");
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt]);
  t.after(() => {
    execFileSync("umount", [mnt]);
    fs.rmdirSync(mnt);
  });
  return mnt;
}

test("a full disk: one clear line, exit 1, nothing recorded lost, and the next commit works", (t) => {
  const root = `${smallDisk(t, "3m")}/guest`;
  writeFixture(root, { "etc/vml/agent.yaml": "mounts_table: /nonexistent\n", "home/alice/work/a.txt": "a\n" });
  const base = agent(root, ["--json", "init"]).json().id;
  fs.writeFileSync(`${root}/home/alice/work/big.bin`, randomBytes(2_200_000));
  const r = agent(root, ["commit", "-m", "too big for the disk"]);
  assert.equal(r.code, 1);
  oneLine(r.stderr);
  assert.match(r.stderr, /no space left on the disk that holds .*: nothing was recorded/);
  assert.equal(git(root, ["rev-parse", "HEAD"]).toString().trim(), base);
  assert.match(git(root, ["count-objects", "-v"]).toString(), /^garbage: 0$/m, "no part-written object left behind");
  fs.rmSync(`${root}/home/alice/work/big.bin`);
  writeFixture(root, { "home/alice/work/b.txt": "b\n" });
  assert.equal(agent(root, ["commit", "-m", "after"]).code, 0);
  assert.equal(agent(root, ["verify"]).code, 0);
});

test("a restore onto a full disk leaves no file cut short, says what it did not restore, and can be done again", (t) => {
  const mnt = smallDisk(t, "6m");
  const root = `${mnt}/guest`;
  const work = `${root}/home/alice/work`;
  writeFixture(root, { "etc/vml/agent.yaml": "mounts_table: /nonexistent\n", "home/alice/work/a.txt": "a\n" });
  assert.equal(agent(root, ["init"]).code, 0);
  // One file restored into a folder that exists (written by the agent), one into a folder that is
  // gone (written by git into a new folder).
  const big = randomBytes(1_200_000);
  const data = randomBytes(1_200_000);
  writeFixture(root, { "home/alice/work/big.bin": { content: big }, "home/alice/work/proj/data.bin": { content: data } });
  const ref = agent(root, ["--json", "commit", "-m", "two big files"]).json().id as string;
  fs.rmSync(`${work}/big.bin`);
  fs.rmSync(`${work}/proj`, { recursive: true });
  const free = Number(execFileSync("df", ["-k", "--output=avail", mnt]).toString().trim().split("\n")[1]);
  fs.writeFileSync(`${mnt}/filler`, Buffer.alloc((free - 700) * 1024));

  const r = agent(root, ["restore", ref]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /Not restored \(2\):\n {2}\/home\/alice\/work\/proj\/data\.bin: .*\n {2}\/home\/alice\/work\/big\.bin: no space left/);
  const left = execFileSync("find", [work, "-type", "f"]).toString().trim().split("\n");
  assert.deepEqual(left, [`${work}/a.txt`], "nothing part-written, under a temporary name or its own");

  fs.rmSync(`${mnt}/filler`);
  assert.equal(agent(root, ["restore", ref]).code, 0);
  assert.ok(fs.readFileSync(`${work}/big.bin`).equals(big));
  assert.ok(fs.readFileSync(`${work}/proj/data.bin`).equals(data));
  assert.equal(agent(root, ["verify"]).code, 0);
});

test("an export onto a full disk: one clear line, exit 1, no part-written file left, and it works once there is room", (t) => {
  const out = smallDisk(t, "1m");
  const root = makeGuest();
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  writeFixture(root, { "home/alice/work/data.bin": { content: randomBytes(1_500_000) } });
  assert.equal(agent(root, ["commit", "-m", "data"]).code, 0);
  const r = agent(root, ["export", "@", "--from", "@~1", "-o", `${out}/state.vml`]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  oneLine(r.stderr);
  assert.match(r.stderr, /cannot write .*state\.vml: no space left on its disk/);
  assert.deepEqual(fs.readdirSync(out), [], "nothing part-written left");
  const roomy = `${root}.state.vml`;
  t.after(() => fs.rmSync(roomy, { force: true }));
  assert.equal(agent(root, ["export", "@", "--from", "@~1", "-o", roomy]).code, 0);
  assert.ok(fs.statSync(roomy).size > 1_500_000);
});

test("output into a pipe whose reader went away ends quietly; a slow reader gets all of it", (t) => {
  const fixture: Record<string, string> = {};
  for (let i = 0; i < 5000; i++) fixture[`home/alice/work/many/file-with-a-longish-name-${i}.txt`] = `${i}\n`;
  const root = makeGuest();
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  writeFixture(root, fixture);
  // `head` reads one line and leaves: the rest of the long status meets a closed pipe.
  const r = spawnSync("sh", ["-c", `"${process.execPath}" "${AGENT}" --root "${root}" status | head -n 1; exit "\${PIPESTATUS:-0}"`], { encoding: "utf8" });
  assert.match(r.stdout, /^Since snapshot/);
  assert.equal(r.stderr, "", "no stack trace");

  // Far more than a pipe holds, read only after the agent is done writing: nothing may be lost.
  const counted = (reader: string) => Number(spawnSync("sh", ["-c", `"${process.execPath}" "${AGENT}" --root "${root}" status | ${reader}`], { encoding: "utf8" }).stdout.trim());
  const whole = counted("wc -c");
  assert.ok(whole > 4 * 65536);
  assert.equal(counted("(sleep 1; wc -c)"), whole);
});

test("a daemon that hangs up without answering gets one clear line and exit 1, never silence", async (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  fs.mkdirSync(`${root}/run/vml`, { recursive: true });
  const sock = `${root}/run/vml/agent.sock`;
  // A listener in a process of its own (the agent below runs synchronously): reads the request, hangs up.
  const server = spawn(process.execPath, ["-e", `require("net").createServer((s) => s.once("data", () => s.end())).listen(${JSON.stringify(sock)}, () => console.log("up"))`], { stdio: ["ignore", "pipe", "inherit"] });
  t.after(() => server.kill());
  await new Promise((r) => server.stdout.once("data", r));
  const r = agent(root, ["log"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^vml-agent: the daemon hung up before answering/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});
