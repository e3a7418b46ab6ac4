// export and import: the round trip to a fresh guest of the same base, sizes, and hostile files.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { AGENT, agent, cleanup, git, makeGuest, tempDir, writeFixture, BASE_FIXTURE, type Fixture } from "./helpers/guest.js";
import { copyTree, rsyncDiff, treeDiff } from "./helpers/compare.js";

const W = "home/alice/work";
const SKIP = (rel: string) => rel === "/etc/profile.d/vml-env.sh";
const BASE: Fixture = { ...BASE_FIXTURE, "etc/profile.d/lang.sh": "export LANG=C\n", "etc/ssh/sshd_config": "PermitRootLogin no\n" };

const WORK: Fixture = {
  [`${W}/zmumu/ana.C`]: { content: "void ana() {}\n", uid: 1000, gid: 1000 },
  [`${W}/zmumu/with space & 'quote'.txt`]: "x\n",
  [`${W}/zmumu/tab\there`]: "tab\n",
  [`${W}/zmumu/new\nline`]: "nl\n",
  [`${W}/zmumu/caf\xe9`]: "latin1\n",
  [`${W}/zmumu/run.sh`]: { content: "#!/bin/sh\n", mode: 0o4755 },
  [`${W}/zmumu/locked`]: { content: "0\n", mode: 0o000 },
  [`${W}/zmumu/ghost`]: { content: "g\n", uid: 4242, gid: 4343 },
  [`${W}/zmumu/empty`]: { dir: true, mode: 0o750 },
  [`${W}/zmumu/shared`]: { dir: true, mode: 0o1777 },
  [`${W}/zmumu/rel`]: { symlink: "ana.C" },
  [`${W}/zmumu/abs`]: { symlink: "/etc/hosts" },
  [`${W}/zmumu/dangling`]: { symlink: "../nowhere" },
  [`${W}/zmumu/pipe`]: { fifo: true },
  "etc/ssh/sshd_config": "PermitRootLogin yes\n",
};

function refs(root: string): string {
  return git(root, ["for-each-ref"]).toString() + git(root, ["count-objects", "-v"]).toString();
}

test("round trip: work on guest A, export, import on a fresh guest B of the same base, restore: B equals A", (t) => {
  const a = makeGuest(BASE);
  const b = tempDir("vml-guest-b-");
  t.after(() => [a, b].forEach(cleanup));
  copyTree(a, b); // B: a fresh machine built from the same base image
  assert.equal(agent(a, ["init", "--base", "cernvm-test"]).code, 0);
  writeFixture(a, WORK);
  fs.linkSync(`${a}/${W}/zmumu/ana.C`, `${a}/${W}/zmumu/hard.C`);
  assert.equal(agent(a, ["commit", "-m", "the analysis"]).code, 0);
  const file = `${path.dirname(a)}/export-${process.pid}.vml`;
  t.after(() => fs.rmSync(file, { force: true }));
  const e = agent(a, ["--json", "export", "@", "-o", file]);
  assert.equal(e.code, 0, e.stderr);
  const refA = e.json().ref as string;

  assert.equal(agent(b, ["init", "--base", "cernvm-test"]).code, 0);
  const i = agent(b, ["--json", "import", file]);
  assert.equal(i.code, 0, i.stderr);
  assert.equal(i.json().line, "imported-main");
  assert.deepEqual(i.json().missing, []);
  assert.equal(agent(b, ["--json", "show", refA.slice(0, 12)]).json().id, refA, "the same snapshot id on both machines");

  const s = agent(b, ["switch", "imported-main"]);
  assert.equal(s.code, 0, s.stdout + s.stderr);
  assert.deepEqual(treeDiff(a, b, ["/etc", "/home"], SKIP), []);
  assert.equal(rsyncDiff(`${a}/home`, `${b}/home`), "");
  assert.equal(fs.statSync(`${b}/${W}/zmumu/ana.C`).ino, fs.statSync(`${b}/${W}/zmumu/hard.C`).ino);
  assert.equal(agent(b, ["verify"]).code, 0);

  // Later work travels thin: B holds the snapshot it starts from, and the line moves on.
  writeFixture(a, { [`${W}/zmumu/fit.C`]: "fit\n" });
  agent(a, ["commit", "-m", "fit"]);
  const e2 = agent(a, ["--json", "export", "@", "--from", refA, "--thin", "-o", file]);
  assert.ok((e2.json().bytes as number) < 4096);
  const i2 = agent(b, ["--json", "import", file]);
  assert.equal(i2.code, 0, i2.stderr);
  assert.equal((agent(b, ["--json", "log", "imported-main", "-n", "1"]).json().snapshots as { id: string }[])[0].id, e2.json().ref);
});

test("a one-line change exports to well under 4 KiB", (t) => {
  const a = makeGuest(BASE);
  t.after(() => cleanup(a));
  agent(a, ["init"]);
  fs.appendFileSync(`${a}/${W}/ana.C`, "// one more line\n");
  const c = agent(a, ["--json", "commit", "-m", "one line"]).json().id as string;
  const file = `${path.dirname(a)}/one-line-${process.pid}.vml`;
  t.after(() => fs.rmSync(file, { force: true }));
  const e = agent(a, ["--json", "export", c, "-o", file]);
  assert.equal(e.code, 0, e.stderr);
  assert.ok(fs.statSync(file).size < 4096, `${fs.statSync(file).size} bytes`);

  // On top of a large work area, the change since the last export is all that travels (--thin).
  writeFixture(a, WORK);
  for (let i = 0; i < 300; i++) writeFixture(a, { [`${W}/hists/h${i}.txt`]: `histogram ${i}\n`.repeat(30) });
  agent(a, ["commit", "-m", "lots of work"]);
  fs.appendFileSync(`${a}/${W}/zmumu/ana.C`, "// and one more\n");
  agent(a, ["commit", "-m", "one more line"]);
  const thin = agent(a, ["--json", "export", "@", "--from", "@~1", "--thin", "-o", file]);
  assert.equal(thin.code, 0, thin.stderr);
  assert.ok((thin.json().bytes as number) < 4096, `${thin.json().bytes} bytes thin`);

  // A thin export needs a receiver that holds its starting snapshot: elsewhere it is refused.
  const b = makeGuest(BASE);
  t.after(() => cleanup(b));
  agent(b, ["init"]);
  const before = refs(b);
  const r = agent(b, ["import", file]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /export --thin/);
  assert.equal(refs(b), before);
});

test("base content this machine lacks is named at import and reported at restore, the rest restored", (t) => {
  const a = makeGuest(BASE);
  const b = tempDir("vml-guest-b-");
  t.after(() => [a, b].forEach(cleanup));
  copyTree(a, b);
  fs.writeFileSync(`${b}/etc/hosts`, "127.0.0.1 a different machine\n");
  // In A's base; on B only after B's base was taken (copied over later): rebuilt from B's files.
  const shared = { [`${W}/data/empty.txt`]: "", [`${W}/data/also-empty.txt`]: "", [`${W}/data/calib.txt`]: "calibration\n" };
  writeFixture(a, shared);
  agent(a, ["init"]);
  writeFixture(a, { [`${W}/fit.C`]: "fit\n" });
  agent(a, ["commit", "-m", "fit"]);
  const file = `${path.dirname(a)}/missing-${process.pid}.vml`;
  t.after(() => fs.rmSync(file, { force: true }));
  assert.equal(agent(a, ["export", "@", "-o", file]).code, 0);
  agent(b, ["init"]);
  writeFixture(b, shared);
  const i = agent(b, ["--json", "import", file, "--as", "from-a"]);
  assert.equal(i.code, 0, i.stderr);
  assert.deepEqual(i.json().missing, ["/etc/hosts"]);
  assert.equal(i.json().rebuilt, 2, "the empty content and the calibration, once each");
  // The content of A's /etc/hosts never came: a known gap, not damage.
  const v = agent(b, ["verify"]);
  assert.equal(v.code, 0, v.stdout);
  assert.match(v.stdout, /the logbook is sound\.\n1 file content of imported snapshots never reached this machine/);
  const r = agent(b, ["restore", "from-a"]);
  assert.equal(r.code, 3, r.stdout);
  assert.match(r.stdout, /\/etc\/hosts: content not in this logbook/);
  assert.equal(fs.readFileSync(`${b}/${W}/fit.C`, "utf8"), "fit\n");
  assert.equal(fs.readFileSync(`${b}/etc/hosts`, "utf8"), "127.0.0.1 a different machine\n", "never silently substituted");
  // Content lost for real is still damage.
  const head = git(b, ["rev-parse", "HEAD"]).toString().trim();
  fs.rmSync(`${b}/var/lib/vml/logbook/objects/${head.slice(0, 2)}/${head.slice(2)}`);
  const damaged = agent(b, ["verify"]);
  assert.equal(damaged.code, 1);
  assert.match(damaged.stdout, new RegExp(`problem: git fsck: .*${head}`));
});

test("a damaged, truncated or foreign file is refused with one line, and the logbook is unchanged", (t) => {
  const a = makeGuest(BASE);
  t.after(() => cleanup(a));
  agent(a, ["init"]);
  writeFixture(a, { [`${W}/x.C`]: "x\n" });
  agent(a, ["commit", "-m", "x"]);
  const good = `${path.dirname(a)}/good-${process.pid}.vml`;
  t.after(() => fs.rmSync(good, { force: true }));
  agent(a, ["export", "@", "-o", good]);
  const data = fs.readFileSync(good);
  const before = refs(a);
  const bad = `${path.dirname(a)}/bad-${process.pid}.vml`;
  t.after(() => fs.rmSync(bad, { force: true }));
  const cases: [string, Buffer, RegExp][] = [
    ["damaged", Buffer.from(data.map((b, i) => (i === Math.floor(data.length / 2) ? b ^ 0xff : b))), /checksum does not match/],
    ["truncated", data.subarray(0, data.length - 100), /truncated/],
    ["foreign", Buffer.from("PK\x03\x04 this is a zip file\n"), /does not start like one/],
    ["newer", Buffer.concat([Buffer.from("VML-EXPORT 9\n"), data.subarray(13)]), /format 9 is not known/],
    ["empty", Buffer.alloc(0), /does not start like one/],
  ];
  for (const [what, content, why] of cases) {
    fs.writeFileSync(bad, content);
    const r = agent(a, ["import", bad, "--as", "x"]);
    assert.equal(r.code, 2, what);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: one line`);
    assert.match(r.stderr, why, what);
    assert.equal(refs(a), before, `${what}: logbook unchanged`);
  }
  // A pack that lies about its snapshots: valid checksum, wrong content.
  const nl = data.indexOf(0x0a, 13);
  const header = JSON.parse(data.subarray(13, nl).toString());
  header.snapshots = [header.from, "0".repeat(40)];
  header.ref = "0".repeat(40);
  const body = Buffer.concat([Buffer.from("VML-EXPORT 1\n"), Buffer.from(JSON.stringify(header) + "\n"), data.subarray(nl + 1, data.lastIndexOf(Buffer.from("VML-SHA256 ")))]);
  const sum = (require_("node:crypto") as typeof import("node:crypto")).createHash("sha256").update(body).digest("hex");
  fs.writeFileSync(bad, Buffer.concat([body, Buffer.from(`VML-SHA256 ${sum}\n`)]));
  const lie = agent(a, ["import", bad, "--as", "x"]);
  assert.equal(lie.code, 2, lie.stderr);
  assert.match(lie.stderr, /not the ones its header names/);
  assert.equal(refs(a), before);
});

import { createRequire } from "node:module";
const require_ = createRequire(import.meta.url);

test("export writes its file whole where it is told (a name in the current folder too); unreadable or unwritable places get one line", (t) => {
  const a = makeGuest(BASE);
  const here = tempDir("vml-export-here-");
  t.after(() => {
    cleanup(a);
    cleanup(here);
  });
  agent(a, ["init"]);
  writeFixture(a, { [`${W}/x.C`]: "x\n".repeat(5000) });
  agent(a, ["commit", "-m", "x"]);
  const e = spawnSync(process.execPath, [AGENT, "--root", a, "--json", "export", "@", "-o", "state.vml"], { cwd: here, encoding: "utf8", env: { ...process.env, USER: "alice" } });
  assert.equal(e.status, 0, e.stderr);
  assert.deepEqual(fs.readdirSync(here), ["state.vml"]);
  const data = fs.readFileSync(`${here}/state.vml`);
  assert.equal(JSON.parse(e.stdout).bytes, data.length);
  // The header's pack size is filled in after the pack: it says exactly how long the pack is.
  const nl = data.indexOf(0x0a, 13);
  const trailer = data.lastIndexOf(Buffer.from("VML-SHA256 "));
  assert.equal(JSON.parse(data.subarray(13, nl).toString()).pack.bytes, trailer - nl - 1);
  assert.equal(data.subarray(nl + 1, nl + 5).toString(), "PACK");

  const b = makeGuest(BASE);
  t.after(() => cleanup(b));
  agent(b, ["init"]);
  const imported = agent(b, ["--json", "import", `${here}/state.vml`]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.equal(imported.json().line, "imported-main");

  const before = refs(a);
  for (const [args, why] of [
    [["export", "@", "-o", `${here}/no/such/folder/x.vml`], /cannot write .*x\.vml/],
    [["import", here], /cannot read/],
    [["import", `${here}/absent.vml`], /cannot read/],
  ] as [string[], RegExp][]) {
    const r = agent(a, args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, why);
  }
  assert.equal(refs(a), before);
  assert.deepEqual(fs.readdirSync(here), ["state.vml"]);
});
