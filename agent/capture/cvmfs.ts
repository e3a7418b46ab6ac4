// CernVM-FS repositories: configured in ROOT/etc/cvmfs/*.local, mounted per the mounts table, and the
// revision each mount exposes through its extended attributes.
import { configuredRepos, mountedRepos, type Repo } from "../model/cvmfs.js";
import type { System } from "../platform/system.js";

export async function captureCvmfs(sys: System, root: string, mountsTable: string): Promise<Repo[]> {
  const dir = `${root === "/" ? "" : root}/etc/cvmfs`;
  const repos = new Map<string, Repo>();
  const get = (name: string) => {
    let r = repos.get(name);
    if (!r) repos.set(name, (r = { name, configured: false, mounted: false }));
    return r;
  };
  if (sys.exists(dir)) {
    const locals = sys
      .readdir(dir)
      .map((b) => b.toString())
      .filter((n) => n.endsWith(".local"))
      .sort((a, b) => (a === "default.local" ? -1 : b === "default.local" ? 1 : a < b ? -1 : 1));
    for (const f of locals) for (const name of configuredRepos(sys.readFile(`${dir}/${f}`).toString())) get(name).configured = true;
  }
  if (sys.exists(mountsTable)) {
    for (const m of mountedRepos(sys.readFile(mountsTable).toString())) {
      const r = get(m.name);
      r.mounted = true;
      r.revision = await sys.getxattr(m.mountPoint, "user.revision");
      r.rootHash = await sys.getxattr(m.mountPoint, "user.root_hash");
    }
  }
  return [...repos.values()];
}
