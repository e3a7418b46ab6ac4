// The package set from a real rpm database in the guest root (rpmbuild-made packages).
import { test } from "node:test";
import assert from "node:assert/strict";
import { agent, cleanup, git, makeGuest, BASE_FIXTURE } from "./helpers/guest.js";
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
