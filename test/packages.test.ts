// The package set from a real rpm database in the guest root (rpmbuild-made packages).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { agent, cleanup, git, makeGuest, tempDir, writeFixture, BASE_FIXTURE } from "./helpers/guest.js";
import { buildRpm, initRpmDb, rpmInstall } from "./helpers/rpm.js";

test("rpm packages are read from ROOT's database as E:N-V-R.A, and an upgrade shows as one change", (t) => {
  const { "var/lib/dpkg/status": _dpkg, ...fixture } = BASE_FIXTURE;
  void _dpkg;
  const root = makeGuest(fixture);
  t.after(() => cleanup(root));
  initRpmDb(root);
  rpmInstall(root, buildRpm("vml-test-tool", "1.0"));
  const r = agent(root, ["init"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(git(root, ["show", "HEAD:.vml/packages"]).toString(), "#vml-packages 1 rpm\n0:vml-test-tool-1.0-1.noarch\n");

  rpmInstall(root, buildRpm("vml-test-tool", "1.1"), true);
  rpmInstall(root, buildRpm("vml-extra", "2.0"));
  const s = agent(root, ["--json", "status"]).json();
  assert.deepEqual(s.packages, {
    added: ["vml-extra.noarch 0:2.0-1"],
    removed: [],
    changed: [{ name: "vml-test-tool.noarch", from: "0:1.0-1", to: "0:1.1-1" }],
  });
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
  const tool = buildRpm("vml-tool", "1.0");
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
  rpmInstall(root, buildRpm("vml-orphan", "2.0")); // in no repository
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
