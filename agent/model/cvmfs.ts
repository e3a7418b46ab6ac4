// CernVM-FS state: repositories configured and mounted, with the revision each mount showed.

export interface Repo {
  name: string;
  configured: boolean;
  mounted: boolean;
  revision?: string;
  rootHash?: string;
}

const HEADER = "#vml-cvmfs 1";

/** Repositories named by CVMFS_REPOSITORIES in shell-style configuration text. */
export function configuredRepos(configText: string): string[] {
  let repos: string[] = [];
  for (const raw of configText.split("\n")) {
    const m = /^\s*(?:export\s+)?CVMFS_REPOSITORIES\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    const value = m[1].replace(/^(['"])(.*)\1$/, "$2").replace(/\s+#.*$/, "");
    repos = value.split(/[\s,]+/).filter(Boolean);
  }
  return repos;
}

/** Mounted repositories from a mounts table (fstab format): source cvmfs2, a fuse file system. */
export function mountedRepos(mountsText: string): { name: string; mountPoint: string }[] {
  const out: { name: string; mountPoint: string }[] = [];
  for (const line of mountsText.split("\n")) {
    const [source, mountPoint, fstype] = line.split(/\s+/);
    if (source !== "cvmfs2" || !fstype?.startsWith("fuse")) continue;
    const mp = mountPoint.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ name: mp.split("/").filter(Boolean).pop() ?? mp, mountPoint: mp });
  }
  return out;
}

export function renderCvmfs(repos: Repo[]): string {
  const lines = [...repos]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((r) => {
      const f = [r.name, r.configured ? "configured" : "-", r.mounted ? "mounted" : "-"];
      if (r.revision) f.push(`revision=${r.revision}`);
      if (r.rootHash) f.push(`root_hash=${r.rootHash}`);
      return f.join("\t");
    });
  return [HEADER, ...lines].join("\n") + "\n";
}

export function parseCvmfs(text: string): Repo[] {
  const [head, ...rest] = text.split("\n");
  if (head !== HEADER) throw new Error("not a version 1 CernVM-FS record");
  return rest
    .filter((l) => l !== "")
    .map((l) => {
      const [name, c, m, ...kv] = l.split("\t");
      const attrs = Object.fromEntries(kv.map((x) => x.split("=", 2)));
      return { name, configured: c === "configured", mounted: m === "mounted", revision: attrs.revision, rootHash: attrs.root_hash };
    });
}

export interface CvmfsChanges {
  added: string[];
  removed: string[];
  changed: { name: string; from: string; to: string }[];
}

function describe(r: Repo): string {
  return [r.configured ? "configured" : "", r.mounted ? "mounted" : "", r.revision ? `revision ${r.revision}` : ""]
    .filter(Boolean)
    .join(", ");
}

export function diffCvmfs(a: Repo[], b: Repo[]): CvmfsChanges {
  const ma = new Map(a.map((r) => [r.name, r]));
  const mb = new Map(b.map((r) => [r.name, r]));
  const out: CvmfsChanges = { added: [], removed: [], changed: [] };
  for (const [n, r] of mb) {
    const old = ma.get(n);
    if (!old) out.added.push(n);
    else if (describe(old) !== describe(r) || old.rootHash !== r.rootHash) out.changed.push({ name: n, from: describe(old), to: describe(r) });
  }
  for (const n of ma.keys()) if (!mb.has(n)) out.removed.push(n);
  return out;
}
