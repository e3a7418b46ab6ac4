// The cases that break naive snapshot tools: odd names, modes, owners, links, special files, sizes.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import { agent, cleanup, git, makeGuest, writeFixture, BASE_FIXTURE } from "./helpers/guest.js";
import { parseShard, type Entry } from "../agent/model/manifest.js";

const W = "home/alice/work";

/** Every manifest entry of HEAD, by path (latin1 keys keep the bytes). */
function manifest(root: string): Map<string, Entry> {
  const paths = git(root, ["ls-tree", "-r", "-z", "--name-only", "HEAD", ".vml/manifest"]).toString().split("\0").filter(Boolean);
  const m = new Map<string, Entry>();
  for (const p of paths) {
    const shard = parseShard(git(root, ["show", `HEAD:${p}`]).toString());
    for (const e of shard.entries) m.set(Buffer.concat([shard.dir, Buffer.from("/"), e.name]).toString("latin1"), e);
  }
  return m;
}

function treeEntries(root: string): Map<string, string> {
  const out = git(root, ["ls-tree", "-r", "-z", "HEAD"]);
  const m = new Map<string, string>();
  for (const rec of out.toString("latin1").split("\0").filter(Boolean)) {
    const tab = rec.indexOf("\t");
    m.set(rec.slice(tab + 1), rec.slice(0, tab).split(" ")[0]);
  }
  return m;
}

test("names with spaces, quotes, tabs, newlines, backslashes and non-UTF-8 bytes survive byte for byte", (t) => {
  // Fixture keys are latin1 strings, one character a byte, so any byte sequence can be named.
  const odd = ["with space.txt", "quote'\"s.txt", "tab\there.txt", "new\nline.txt", "back\\slash.txt", "caf\xe9-latin1.txt", Buffer.from("ünïcødé.txt").toString("latin1"), "-dash.txt"];
  const root = makeGuest({ ...BASE_FIXTURE, ...Object.fromEntries(odd.map((n) => [`${W}/${n}`, `content of ${n}\n`])) });
  t.after(() => cleanup(root));
  const r = agent(root, ["init"]);
  assert.equal(r.code, 0, r.stderr);
  const tree = treeEntries(root);
  const man = manifest(root);
  for (const n of odd) {
    const key = `${W}/${n}`;
    assert.ok(tree.has(key), `tree holds ${JSON.stringify(n)}`);
    assert.equal(man.get(key)?.type, "f", `manifest lists ${JSON.stringify(n)}`);
    const blob = git(root, ["cat-file", "blob", treeBlob(root, key)]);
    assert.ok(blob.toString("latin1").startsWith("content of"));
  }
  // the human rendering shows escapes, never raw control bytes
  fs.appendFileSync(Buffer.from(`${root}/${W}/tab\there.txt`), "more\n");
  fs.appendFileSync(Buffer.from(`${root}/${W}/caf\xe9-latin1.txt`, "latin1"), "more\n");
  const st = agent(root, ["status"]);
  assert.match(st.stdout, /c\.\.\.\. {2}\/home\/alice\/work\/tab\\there\.txt/);
  assert.match(st.stdout, /c\.\.\.\. {2}\/home\/alice\/work\/caf\\xe9-latin1\.txt/);
  const j = agent(root, ["--json", "status"]).json();
  assert.deepEqual(j.modified, ["/home/alice/work/caf\\xe9-latin1.txt", "/home/alice/work/tab\\there.txt"]);
});

function treeBlob(root: string, key: string): string {
  const out = git(root, ["ls-tree", "-r", "-z", "HEAD"]).toString("latin1");
  const rec = out.split("\0").find((r) => r.slice(r.indexOf("\t") + 1) === key)!;
  return rec.slice(0, rec.indexOf("\t")).split(" ")[2];
}

test("modes (setuid, setgid, sticky, 000), owners that exist nowhere, and guest names are recorded", (t) => {
  const root = makeGuest({
    ...BASE_FIXTURE,
    [`${W}/suid`]: { content: "x", mode: 0o4755 },
    [`${W}/sgid`]: { content: "x", mode: 0o2750 },
    [`${W}/none`]: { content: "secret", mode: 0o000 },
    [`${W}/ghost`]: { content: "x", uid: 4242, gid: 4343 },
    [`${W}/mine`]: { content: "x", uid: 1000, gid: 1000 },
    [`${W}/shared`]: { dir: true, mode: 0o1777 },
  });
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  const m = manifest(root);
  const e = (n: string) => m.get(`${W}/${n}`)!;
  assert.equal(e("suid").mode, 0o4755);
  assert.equal(e("sgid").mode, 0o2750);
  assert.equal(e("none").mode, 0o000);
  assert.equal(e("shared").mode, 0o1777);
  assert.equal(e("shared").type, "d");
  assert.deepEqual([e("ghost").uid, e("ghost").gid, e("ghost").user, e("ghost").group], [4242, 4343, "", ""]);
  assert.deepEqual([e("mine").user, e("mine").group], ["alice", "alice"]);
  assert.equal(e("mine").mtimeNs, 1_700_000_000_000_000_000n);

  fs.chownSync(`${root}/${W}/mine`, 0, 1000);
  const s = agent(root, ["--json", "status"]).json();
  const f = (s.files as { path: string; flags: string }[]).find((x) => x.path === `/${W}/mine`);
  assert.equal(f?.flags, "..u..");
  assert.match(agent(root, ["status"]).stdout, /owner alice\(1000\) → root\(0\)/);
});

test("symlinks are stored as symlinks, never followed; empty folders and hard links are kept", (t) => {
  const root = makeGuest({
    ...BASE_FIXTURE,
    "data/big/inside.txt": "outside the included trees\n",
    [`${W}/rel`]: { symlink: "ana.C" },
    [`${W}/abs`]: { symlink: "/etc/hosts" },
    [`${W}/dangling`]: { symlink: "../nowhere/at all" },
    [`${W}/todir`]: { symlink: "/data/big" },
    [`${W}/empty`]: { dir: true, mode: 0o750 },
  });
  t.after(() => cleanup(root));
  fs.linkSync(`${root}/${W}/ana.C`, `${root}/${W}/zz-hardlink.C`);
  assert.equal(agent(root, ["init"]).code, 0);
  const tree = treeEntries(root);
  for (const l of ["rel", "abs", "dangling", "todir"]) assert.equal(tree.get(`${W}/${l}`), "120000", l);
  assert.equal(git(root, ["cat-file", "blob", `HEAD:${W}/dangling`]).toString(), "../nowhere/at all");
  assert.ok(![...tree.keys()].some((k) => k.includes("inside.txt")), "a symlink to a folder is not followed");
  const m = manifest(root);
  assert.equal(m.get(`${W}/todir`)?.link?.toString(), "/data/big");
  assert.equal(m.get(`${W}/empty`)?.type, "d");
  assert.equal(m.get(`${W}/empty`)?.mode, 0o750);
  assert.equal(m.get(`${W}/zz-hardlink.C`)?.type, "h");
  assert.equal(m.get(`${W}/zz-hardlink.C`)?.link?.toString(), `${W}/ana.C`);
  assert.equal(m.get(`${W}/ana.C`)?.type, "f");
});

test("fifos are listed and reported, files over the size limit are listed but not stored, sparse files are stored", (t) => {
  const root = makeGuest({ ...BASE_FIXTURE, "etc/vml/agent.yaml": "mounts_table: /nonexistent\nsize_limit: 1MiB\n", [`${W}/pipe`]: { fifo: true } });
  t.after(() => cleanup(root));
  fs.writeFileSync(`${root}/${W}/big.root`, Buffer.alloc(2 * 1024 * 1024, 7));
  execFileSync("truncate", ["-s", "900K", `${root}/${W}/sparse.dat`]);
  const r = agent(root, ["init"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /1 special files .* listed, not stored: \/home\/alice\/work\/pipe/);
  assert.match(r.stderr, /1 files over the size limit listed, not stored: \/home\/alice\/work\/big\.root/);
  const tree = treeEntries(root);
  assert.ok(!tree.has(`${W}/pipe`));
  assert.ok(!tree.has(`${W}/big.root`));
  assert.equal(git(root, ["cat-file", "-s", `HEAD:${W}/sparse.dat`]).toString().trim(), String(900 * 1024));
  const m = manifest(root);
  assert.equal(m.get(`${W}/pipe`)?.type, "p");
  assert.equal(m.get(`${W}/big.root`)?.type, "L");
  assert.equal(m.get(`${W}/big.root`)?.size, 2 * 1024 * 1024);
  const c = agent(root, ["--json", "commit", "-m", "again"]).json();
  assert.deepEqual(c.skipped, [`/${W}/pipe`]);
  assert.equal(c.unchanged, true);
});

test("a file turned into a folder and back is recorded each time", (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  agent(root, ["init"]);
  fs.rmSync(`${root}/${W}/ana.C`);
  writeFixture(root, { [`${W}/ana.C/inner.C`]: "x\n" });
  const a = agent(root, ["--json", "commit", "-m", "file to folder"]);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(a.json().added, [`/${W}/ana.C/inner.C`]);
  assert.deepEqual(a.json().modified, [`/${W}/ana.C`]);
  fs.rmSync(`${root}/${W}/ana.C`, { recursive: true });
  writeFixture(root, { [`${W}/ana.C`]: "back\n" });
  const b = agent(root, ["--json", "commit", "-m", "folder to file"]);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(b.json().deleted, [`/${W}/ana.C/inner.C`]);
  assert.equal(git(root, ["show", `HEAD:${W}/ana.C`]).toString(), "back\n");
});

test("a guest's own .gitattributes never rewrite what is stored: line ends and keyword lines come back byte for byte", (t) => {
  const attrs = "* text eol=lf\n*.id ident\n*.u16 working-tree-encoding=UTF-16LE\n";
  const crlf = "first\r\nsecond\r\n";
  const ident = "$Id: kept as it is $\n";
  const u16 = Buffer.from("\ufeffwide\n", "utf16le").toString("latin1");
  const root = makeGuest({ ...BASE_FIXTURE, [`${W}/repo/.gitattributes`]: attrs, [`${W}/repo/dos.txt`]: crlf, [`${W}/repo/v.id`]: ident });
  t.after(() => cleanup(root));
  fs.writeFileSync(`${root}/${W}/repo/w.u16`, u16, "latin1");
  assert.equal(agent(root, ["init"]).code, 0);
  const stored = (name: string) => git(root, ["cat-file", "blob", `HEAD:${W}/repo/${name}`]).toString("latin1");
  assert.equal(stored("dos.txt"), crlf);
  assert.equal(stored("v.id"), ident);
  assert.equal(stored("w.u16"), u16);

  fs.appendFileSync(`${root}/${W}/repo/dos.txt`, "third\r\n");
  assert.equal(agent(root, ["commit", "-m", "more"]).code, 0);
  assert.equal(stored("dos.txt"), `${crlf}third\r\n`);
  fs.rmSync(`${root}/${W}/repo`, { recursive: true });
  const r = agent(root, ["restore", "@"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(`${root}/${W}/repo/dos.txt`, "latin1"), `${crlf}third\r\n`);
  assert.equal(fs.readFileSync(`${root}/${W}/repo/v.id`, "latin1"), ident);
  assert.equal(fs.readFileSync(`${root}/${W}/repo/w.u16`, "latin1"), u16);
});

test("a logbook made before git was told to store raw content reads every file again once, and stores it raw", (t) => {
  const root = makeGuest({ ...BASE_FIXTURE, [`${W}/repo/.gitattributes`]: "* text eol=lf\n", [`${W}/repo/dos.txt`]: "a\r\nb\r\n" });
  t.after(() => cleanup(root));
  assert.equal(agent(root, ["init"]).code, 0);
  // As such a logbook was: the attributes file absent, the content rewritten by the guest's attributes.
  fs.rmSync(`${root}/var/lib/vml/logbook/info/attributes`);
  fs.appendFileSync(`${root}/${W}/repo/dos.txt`, "c\r\n");
  git(root, ["update-index", "--add", "--", `${W}/repo/dos.txt`]);
  assert.equal(git(root, ["cat-file", "blob", `:${W}/repo/dos.txt`]).toString(), "a\nb\nc\n");
  const r = agent(root, ["commit", "-m", "after the upgrade"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /content exactly as on disk/);
  assert.equal(git(root, ["cat-file", "blob", `HEAD:${W}/repo/dos.txt`]).toString(), "a\r\nb\r\nc\r\n");
});
