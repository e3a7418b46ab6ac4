// The package set from a real rpm database or dpkg status in the guest root, and restore installing
// what is missing with the guest's own package manager (rpmbuild- and dpkg-deb-made packages).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { agent, cleanup, git, makeGuest, tempDir, writeFixture, BASE_FIXTURE } from "./helpers/guest.js";
import { buildRpm, initRpmDb, rpmInstall } from "./helpers/rpm.js";
import { NodeSystem } from "../agent/platform/system.js";
import { openContext, type Io } from "../agent/cli/io.js";
import { commit, init } from "../agent/core/snapshot.js";

/** A guest with an rpm database (no dpkg one) holding vml-test-tool 1.0; removed when `t` ends. */
function rpmGuest(t: TestContext): string {
  const { "var/lib/dpkg/status": _dpkg, ...fixture } = BASE_FIXTURE;
  void _dpkg;
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  initRpmDb(root);
  rpmInstall(root, buildRpm(t, "vml-test-tool", "1.0"));
  return root;
}

test("rpm packages are read from ROOT's database as E:N-V-R.A, and an upgrade shows as one change", (t) => {
  const root = rpmGuest(t);
  const r = agent(root, ["init"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(git(root, ["show", "HEAD:.vml/packages"]).toString(), "#vml-packages 1 rpm\n0:vml-test-tool-1.0-1.noarch\n");

  rpmInstall(root, buildRpm(t, "vml-test-tool", "1.1"), true);
  rpmInstall(root, buildRpm(t, "vml-extra", "2.0"));
  const s = agent(root, ["--json", "status"]).json();
  assert.deepEqual(s.packages, {
    added: ["vml-extra.noarch 0:2.0-1"],
    removed: [],
    changed: [{ name: "vml-test-tool.noarch", from: "0:1.0-1", to: "0:1.1-1" }],
  });
});

/** Counts the package database's queries; its clock runs ahead, so no file counts as too recent. */
class QueryCountSystem extends NodeSystem {
  queries = 0;
  now(): Date {
    return new Date(Date.now() + 60_000);
  }
  exec(cmd: string, args: string[], opts?: Parameters<NodeSystem["exec"]>[2]): ReturnType<NodeSystem["exec"]> {
    if (cmd === "rpm") this.queries++;
    return super.exec(cmd, args, opts);
  }
}

test("the package set is read again only when the package database changed", async (t) => {
  const root = rpmGuest(t);
  const sys = new QueryCountSystem();
  const io: Io = { sys, out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] };
  const ctx = () => openContext(io, { root });
  await init(await ctx(), "main");
  assert.equal(sys.queries, 1);
  writeFixture(root, { "home/alice/work/more.C": "more\n" });
  const again = await commit(await ctx(), { message: "files only", trigger: "manual" });
  assert.equal(sys.queries, 1, "the database did not change: its package set stands");
  assert.equal(git(root, ["show", `${again.id}:.vml/packages`]).toString(), "#vml-packages 1 rpm\n0:vml-test-tool-1.0-1.noarch\n");

  rpmInstall(root, buildRpm(t, "vml-extra", "2.0"));
  const after = await commit(await ctx(), { message: "a package", trigger: "manual", describe: true });
  assert.equal(sys.queries, 2);
  assert.deepEqual(after.changes?.packages.added, ["vml-extra.noarch 0:2.0-1"]);
});

test("restore installs missing packages with dnf from a local repository, and reports one it cannot", (t) => {
  const { "var/lib/dpkg/status": _dpkg, ...fixture } = BASE_FIXTURE;
  void _dpkg;
  const root = makeGuest(fixture);
  const repo = tempDir("vml-repo-");
  const home = tempDir("vml-home-");
  t.after(() => [root, repo, home].forEach(cleanup));
  // Debian's rpm and dnf keep their database in ~/.rpmdb unless told the EL location.
  fs.writeFileSync(`${home}/.rpmmacros`, "%_dbpath /var/lib/rpm\n");
  const tool = buildRpm(t, "vml-tool", "1.0");
  fs.copyFileSync(tool, path.join(repo, path.basename(tool)));
  execFileSync("createrepo_c", ["-q", repo]);
  writeFixture(root, {
    "etc/vml/agent.yaml": [
      "mounts_table: /nonexistent",
      "rpm_install: [dnf, -y, --installroot, '{root}', --releasever, '9', --setopt=reposdir=/dev/null,",
      `  '--repofrompath=vmltest,file://${repo}', --setopt=vmltest.gpgcheck=0, install]`,
      "",
    ].join("\n"),
  });
  initRpmDb(root);
  rpmInstall(root, tool);
  rpmInstall(root, buildRpm(t, "vml-orphan", "2.0")); // in no repository
  assert.equal(agent(root, ["init"], { HOME: home }).code, 0);

  execFileSync("rpm", ["--root", root, "--dbpath", "/var/lib/rpm", "-e", "vml-tool", "vml-orphan"]);
  const plan = agent(root, ["--json", "restore", "--dry-run", "base"], { HOME: home }).json() as { packages: { install: string[] } };
  assert.deepEqual(plan.packages.install, ["0:vml-orphan-2.0-1.noarch", "0:vml-tool-1.0-1.noarch"]);

  const r = agent(root, ["--json", "restore", "base"], { HOME: home });
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const rep = r.json() as { packages: { installed: string[]; failed: string[] } };
  assert.deepEqual(rep.packages.installed, ["0:vml-tool-1.0-1.noarch"]);
  assert.deepEqual(rep.packages.failed, ["0:vml-orphan-2.0-1.noarch"]);
  const now = execFileSync("rpm", ["--root", root, "--dbpath", "/var/lib/rpm", "-qa"]).toString();
  assert.match(now, /^vml-tool-1\.0-1\.noarch$/m);
  const human = agent(root, ["restore", "--dry-run", "base"], { HOME: home }).stdout;
  assert.match(human, /^Packages to install: 0:vml-orphan-2\.0-1\.noarch$/m);
});

/** A .deb of one file, built with dpkg-deb, and its line in a flat repository's Packages index. */
function buildDeb(dir: string, name: string, version: string): { file: string; index: string } {
  const tree = tempDir("vml-deb-");
  try {
    fs.mkdirSync(`${tree}/DEBIAN`);
    fs.mkdirSync(`${tree}/usr/share/${name}`, { recursive: true });
    fs.writeFileSync(`${tree}/usr/share/${name}/version`, `${version}\n`);
    fs.writeFileSync(`${tree}/DEBIAN/control`, `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: VML tests <vml@example.org>\nDescription: VML test package\n`);
    const file = path.join(dir, `${name}_${version}_all.deb`);
    execFileSync("dpkg-deb", ["--root-owner-group", "--build", tree, file], { stdio: "pipe" });
    const data = fs.readFileSync(file);
    const fields = execFileSync("dpkg-deb", ["-f", file]).toString();
    const sha = createHash("sha256").update(data).digest("hex");
    return { file, index: `${fields}Filename: ./${path.basename(file)}\nSize: ${data.length}\nSHA256: ${sha}\n\n` };
  } finally {
    cleanup(tree);
  }
}

test("restore installs missing packages with apt into a dpkg root, and reports one it cannot", (t) => {
  const root = makeGuest({
    ...BASE_FIXTURE,
    "etc/apt/preferences.d": { dir: true },
    "var/lib/apt/lists/partial": { dir: true },
    "var/cache/apt/archives/partial": { dir: true },
    "var/log/apt": { dir: true },
    "var/lib/dpkg/info": { dir: true },
    "var/lib/dpkg/updates": { dir: true },
  });
  const repo = tempDir("vml-aptrepo-");
  const debs = tempDir("vml-debs-");
  t.after(() => [root, repo, debs].forEach(cleanup));
  const tool = buildDeb(repo, "vml-tool", "1.0-1");
  fs.writeFileSync(`${repo}/Packages`, tool.index);
  const orphan = buildDeb(debs, "vml-orphan", "2.0-1"); // in no repository
  // The shipped command, with what a container without apt's _apt user needs.
  const apt = ["-o", "APT::Sandbox::User=root"];
  writeFixture(root, {
    "etc/apt/sources.list.d/vmltest.list": `deb [trusted=yes] file:${repo} ./\n`,
    "etc/vml/agent.yaml": `mounts_table: /nonexistent\ndpkg_install: [apt-get, -y, -o, 'Dir={root}', -o, 'DPkg::Options::=--root={root}', ${apt.join(", ")}, install]\n`,
  });
  execFileSync("apt-get", ["-q", "-o", `Dir=${root}`, ...apt, "update"], { stdio: "pipe" });
  for (const deb of [tool.file, orphan.file]) execFileSync("dpkg", [`--root=${root}`, "-i", deb], { stdio: "pipe" });
  assert.equal(agent(root, ["init"]).code, 0);

  execFileSync("dpkg", [`--root=${root}`, "--purge", "vml-tool", "vml-orphan"], { stdio: "pipe" });
  assert.ok(!fs.existsSync(`${root}/usr/share/vml-tool/version`));
  const r = agent(root, ["--json", "restore", "base"]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const rep = r.json() as { packages: { installed: string[]; failed: string[] } };
  assert.deepEqual(rep.packages.installed, ["vml-tool:all\t1.0-1"]);
  assert.deepEqual(rep.packages.failed, ["vml-orphan:all\t2.0-1"]);
  // Installed into the guest root by the guest's package manager, not into this machine.
  assert.equal(fs.readFileSync(`${root}/usr/share/vml-tool/version`, "utf8"), "1.0-1\n");
  assert.match(execFileSync("dpkg-query", [`--admindir=${root}/var/lib/dpkg`, "-W", "vml-tool"]).toString(), /^vml-tool\t1\.0-1$/m);
  assert.ok(!fs.existsSync("/usr/share/vml-tool"), "nothing was installed outside ROOT");
});
