import { test } from "node:test";
import assert from "node:assert/strict";
import { configuredRepos, mountedRepos, parseCvmfs, renderCvmfs } from "./cvmfs.js";

test("CVMFS_REPOSITORIES is read as the shell would, last assignment winning", () => {
  const text = '# site\nCVMFS_REPOSITORIES=old.cern.ch\nexport CVMFS_REPOSITORIES="atlas.cern.ch,sft.cern.ch"\nCVMFS_HTTP_PROXY=DIRECT\n';
  assert.deepEqual(configuredRepos(text), ["atlas.cern.ch", "sft.cern.ch"]);
});

test("only cvmfs2 fuse mounts count as mounted repositories", () => {
  const mounts = "cvmfs2 /cvmfs/atlas.cern.ch fuse ro,nosuid 0 0\n/dev/vda1 / ext4 rw 0 0\ncvmfs2 /cvmfs/sft.cern.ch fuse.cvmfs2 ro 0 0\n";
  assert.deepEqual(mountedRepos(mounts).map((m) => m.name), ["atlas.cern.ch", "sft.cern.ch"]);
});

test("the record round-trips", () => {
  const repos = [{ name: "sft.cern.ch", configured: true, mounted: true, revision: "42", rootHash: "abc" }, { name: "atlas.cern.ch", configured: true, mounted: false }];
  const back = parseCvmfs(renderCvmfs(repos));
  assert.deepEqual(back.map((r) => r.name), ["atlas.cern.ch", "sft.cern.ch"]);
  assert.equal(back[1].revision, "42");
});
