#!/usr/bin/env node
// npm run bench [-- --files N] [-- --rounds R] [-- --init-rounds R] [-- --restore-rounds R] [-- --daemon-files N]: vml-agent against native git and restic on identical
// generated work areas, measured in the same run. Prints times, ratios, peak memory and the bytes one
// one-line change adds to the logbook. Figures, not assertions: tests never time anything.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const FILES = opt("files", 20000);
/** The daemon is also measured on a work area grown to this many files (0: not at all). */
const DAEMON_FILES = opt("daemon-files", 100000);
const ROUNDS = opt("rounds", 3);
/** The first snapshot, taken afresh this many times by each tool, in turns (the disk's speed drifts). */
const INIT_ROUNDS = opt("init-rounds", 3);
/**
 * Full restores are measured more often: their times here spread the widest (one tool's rounds 2-6 s).
 * By default each tool goes first, second, ... equally often (twice): the one right after the
 * removals creates its files while the file system is still busy with them.
 */
const RESTORE_ROUNDS_ASKED = opt("restore-rounds", 0);
const CHANGES = 20;
/** The large file restored on its own, in MiB: under the default size limit (64 MiB). */
const LARGE_MIB = 48;
/**
 * A user types `commit` a few seconds after saving: by then the daemon has taken the edits into the
 * logbook's index (it waits 2.5 s of quiet for that). git and restic are timed after the same pause.
 */
const TYPING_PAUSE_MS = 5000;
const PER_DIR = 100;

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const agentBin = path.join(repo, "dist/vml-agent.mjs");
const have = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const hasTime = fs.existsSync("/usr/bin/time");
const hasRestic = have("restic");

/** Runs a command; returns seconds and peak resident memory (KiB) of the process tree's largest member. */
function timed(cmd, argv, opts = {}) {
  const full = hasTime ? ["/usr/bin/time", ["-f", "%M", cmd, ...argv]] : [cmd, argv];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full[1], { encoding: "utf8", maxBuffer: 1 << 28, ...opts });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed: ${r.stderr}`);
  const rss = hasTime ? Number(r.stderr.trim().split("\n").pop()) : NaN;
  return { secs, rssKiB: rss };
}

/**
 * A restore, timed until its files are on disk: vml-agent flushes before it reports, so every tool
 * gets a `sync` after it, and starts from a flushed disk (the writeback of earlier steps is not
 * charged to whoever runs next).
 */
function timedDurable(cmd, argv, opts = {}) {
  sh("sync", []);
  return timed("sh", ["-c", '"$0" "$@" && sync', cmd, ...argv], opts);
}

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 1 << 28, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

// Deterministic content: text-like lines, about 4 KiB a file (80 MB for 20,000 files).
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
function content(i) {
  const lines = [];
  for (let l = 0; l < 64; l++) lines.push(`${i} ${l} ${rnd().toFixed(12)} ${rnd().toString(36).slice(2)} event weight`);
  return lines.join("\n") + "\n";
}

function generate(dir, from = 0, to = FILES) {
  for (let i = from; i < to; i++) {
    const d = path.join(dir, `run${String(Math.floor(i / PER_DIR)).padStart(4, "0")}`);
    if (i % PER_DIR === 0) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `hist${String(i % PER_DIR).padStart(3, "0")}.txt`), content(i));
  }
}

/** The i-th generated file of a work area. */
const fileOf = (dir, i) => path.join(dir, `run${String(Math.floor(i / PER_DIR)).padStart(4, "0")}`, `hist${String(i % PER_DIR).padStart(3, "0")}.txt`);

function change(dir, round) {
  for (let c = 0; c < CHANGES; c++) fs.appendFileSync(fileOf(dir, (c * 997 + round * 31) % FILES), `round ${round} change ${c}\n`);
}

/** Starts `vml-agent daemon` as the shipped systemd unit runs it (its Environment= lines apply). */
async function startDaemon(root, env) {
  const unit = fs.readFileSync(path.join(repo, "scripts/systemd/vml-agent.service"), "utf8");
  for (const [, k, v] of unit.matchAll(/^Environment=([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)) env = { ...env, [k]: v };
  const t0 = Date.now();
  const child = spawn(process.execPath, [agentBin, "--root", root, "daemon"], { env, stdio: ["ignore", "pipe", "inherit"] });
  const events = [];
  let buf = "";
  child.stdout.on("data", (d) => {
    buf += d;
    const lines = buf.split("\n");
    buf = lines.pop();
    events.push(...lines.map((l) => JSON.parse(l)));
  });
  const until = async (cond, what) => {
    while (!cond()) {
      if (child.exitCode !== null) throw new Error(`the daemon stopped before ${what}`);
      await sleep(50);
    }
  };
  await until(() => events.some((e) => e.event === "watching"), "watching");
  const stop = async () => {
    child.kill("SIGTERM");
    if (child.exitCode === null) await new Promise((r) => child.on("exit", r));
  };
  return { child, events, until, stop, readySecs: (Date.now() - t0) / 1000 };
}

/**
 * The daemon at rest: samples /proc while nothing changes, then edits files and times the automatic
 * snapshot that follows (from the daemon's own report). Long enough to include the collection V8's
 * memory reducer makes once, some seconds after the start-up work.
 */
async function daemonAtRest(root, env, edit, seconds = 30) {
  const { child, events, until, stop, readySecs } = await startDaemon(root, env);
  const folders = events.find((e) => e.event === "watching").watches;
  const ticks = () => fs.readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ").slice(11, 13).reduce((a, b) => a + Number(b), 0);
  const before = ticks();
  await sleep(seconds * 1000);
  // utime + stime are in clock ticks, 100 a second on Linux.
  const cpuPercent = ((ticks() - before) / 100 / seconds) * 100;
  const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))[1]) / 1024;
  const seen = events.filter((e) => e.event === "snapshot").length;
  edit();
  await until(() => events.filter((e) => e.event === "snapshot").length > seen, "its automatic snapshot");
  const autoSecs = events.filter((e) => e.event === "snapshot").at(-1).ms / 1000;
  await stop();
  return { folders, readySecs, cpuPercent, rssMiB, seconds, autoSecs };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** The rounds' lowest and highest, so the noise of the machine shows beside each median. */
const spread = (xs) => (xs.length ? `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)} s` : "-");
const fmt = (s) => `${s.toFixed(3)} s`;
const mib = (k) => (Number.isNaN(k) ? "n/a" : `${(k / 1024).toFixed(0)} MiB`);

const top = fs.mkdtempSync(path.join(os.tmpdir(), "vml-bench-"));
try {
  console.log(`vml bench: ${FILES} files in ${Math.ceil(FILES / PER_DIR)} folders, ${CHANGES} changed files per incremental round, ${ROUNDS} rounds`);
  console.log(`git ${sh("git", ["--version"]).trim().split(" ")[2]}${hasRestic ? `, ${sh("restic", ["version"]).split(" ").slice(0, 2).join(" ")}` : ", restic not installed"}, node ${process.version}\n`);

  // Identical copies: a guest root for vml, a plain work tree for git, one for restic.
  const guest = path.join(top, "guest");
  const work = path.join(guest, "home/alice/work");
  fs.mkdirSync(path.join(guest, "etc/vml"), { recursive: true });
  fs.writeFileSync(path.join(guest, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  fs.writeFileSync(path.join(guest, "etc/vml/agent.yaml"), "packages: none\nmounts_table: /nonexistent\nwatch_settle: 1\n");
  generate(work);
  const gitWork = path.join(top, "git-work");
  const resticWork = path.join(top, "restic-work");
  sh("cp", ["-a", work, gitWork]);
  sh("cp", ["-a", work, resticWork]);
  sh("sync", []);
  const bytes = Number(sh("du", ["-sb", work]).split("\t")[0]);
  console.log(`work area: ${(bytes / 1e6).toFixed(1)} MB\n`);

  const agentEnv = { ...process.env, USER: "bench" };
  // node reads this bundle of certificates at every start, before any of our code runs: a setting of
  // the machine, not of the agent (which makes no TLS connection). Left out, and its cost shown.
  if (agentEnv.NODE_EXTRA_CA_CERTS) {
    delete agentEnv.NODE_EXTRA_CA_CERTS;
    const start = (env) => median([1, 2, 3, 4, 5].map(() => timed(process.execPath, ["-e", "0"], { env }).secs));
    console.log(`NODE_EXTRA_CA_CERTS is set here: left out of vml-agent's environment (node starts in ${fmt(start(agentEnv))} without it, ${fmt(start(process.env))} with it)\n`);
  }
  const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@b", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@b" };
  const resticEnv = { ...process.env, RESTIC_PASSWORD: "bench", RESTIC_REPOSITORY: path.join(top, "restic-repo"), RESTIC_CACHE_DIR: path.join(top, "restic-cache") };

  // Each tool takes its first snapshot afresh in every round, a different one going first each time;
  // the last round's logbook, repository and restic repository are the ones the rest goes on with.
  const res = {};
  const initRounds = { vml: [], vmlRss: [], git: [], restic: [] };
  const inits = [
    () => {
      fs.rmSync(path.join(guest, "var/lib/vml"), { recursive: true, force: true });
      const v = timed(process.execPath, [agentBin, "--root", guest, "init"], { env: agentEnv });
      initRounds.vml.push(v.secs);
      initRounds.vmlRss.push(v.rssKiB);
    },
    () => {
      fs.rmSync(path.join(gitWork, ".git"), { recursive: true, force: true });
      sh("git", ["init", "-q", gitWork], { env: gitEnv });
      // Like the logbook, no automatic gc in the middle of a measured commit.
      sh("git", ["-C", gitWork, "config", "gc.auto", "0"], { env: gitEnv });
      initRounds.git.push(timed("sh", ["-c", `cd '${gitWork}' && git add -A && git commit -q -m base`], { env: gitEnv }).secs);
    },
    ...(hasRestic
      ? [
          () => {
            for (const d of [resticEnv.RESTIC_REPOSITORY, resticEnv.RESTIC_CACHE_DIR]) fs.rmSync(d, { recursive: true, force: true });
            sh("restic", ["init", "--quiet"], { env: resticEnv });
            initRounds.restic.push(timed("restic", ["backup", "--quiet", resticWork], { env: resticEnv }).secs);
          },
        ]
      : []),
  ];
  for (let r = 0; r < INIT_ROUNDS; r++) {
    sh("sync", []);
    for (let k = 0; k < inits.length; k++) inits[(r + k) % inits.length]();
  }
  res.vmlInit = { secs: median(initRounds.vml), rssKiB: Math.max(...initRounds.vmlRss) };
  res.gitInit = { secs: median(initRounds.git) };
  if (hasRestic) res.resticInit = { secs: median(initRounds.restic) };

  const inc = { vml: [], git: [], restic: [], vmlRss: [], viaDaemon: [], viaDaemonLater: [], gitLater: [], resticLater: [] };
  for (let r = 1; r <= ROUNDS; r++) {
    change(work, r);
    change(gitWork, r);
    change(resticWork, r);
    const v = timed(process.execPath, [agentBin, "--root", guest, "commit", "-m", `round ${r}`], { env: agentEnv });
    inc.vml.push(v.secs);
    inc.vmlRss.push(v.rssKiB);
    inc.git.push(timed("sh", ["-c", `cd '${gitWork}' && git add -A && git commit -q -m r${r}`], { env: gitEnv }).secs);
    if (hasRestic) inc.restic.push(timed("restic", ["backup", "--quiet", resticWork], { env: resticEnv }).secs);
  }

  // The same commits as a user in a CernVM makes them: the daemon runs (its automatic snapshots held
  // off), the command is handed to it over its socket.
  const config = path.join(guest, "etc/vml/agent.yaml");
  const plain = fs.readFileSync(config, "utf8");
  fs.writeFileSync(config, plain.replace(/watch_settle: \d+/, "watch_settle: 600"));
  const daemon = await startDaemon(guest, agentEnv);
  const throughDaemon = (r) => timed(process.execPath, [agentBin, "--root", guest, "commit", "-m", `round ${r} through the daemon`], { env: agentEnv }).secs;
  // A daemon in use has been running for hours: one commit, not timed, so that the rounds do not
  // time a process whose code V8 has yet to compile (its first commits take half as long again).
  change(work, 50);
  throughDaemon(0);
  for (let r = 1; r <= ROUNDS; r++) {
    change(work, 50 + r);
    inc.viaDaemon.push(throughDaemon(r));
  }
  for (let r = 1; r <= ROUNDS; r++) {
    change(work, 60 + r);
    change(gitWork, 60 + r);
    change(resticWork, 60 + r);
    await sleep(TYPING_PAUSE_MS);
    inc.viaDaemonLater.push(throughDaemon(r));
    inc.gitLater.push(timed("sh", ["-c", `cd '${gitWork}' && git add -A && git commit -q -m later${r}`], { env: gitEnv }).secs);
    if (hasRestic) inc.resticLater.push(timed("restic", ["backup", "--quiet", resticWork], { env: resticEnv }).secs);
  }
  await daemon.stop();
  fs.writeFileSync(config, plain);

  // What one one-line change adds to the logbook, on disk.
  const gitDir = path.join(guest, "var/lib/vml/logbook");
  const lg = (a) => sh("git", a, { env: { ...gitEnv, GIT_DIR: gitDir } });
  const before = lg(["rev-parse", "HEAD"]).trim();
  fs.appendFileSync(fileOf(work, Math.floor(FILES / 2)), "one more line\n");
  sh(process.execPath, [agentBin, "--root", guest, "commit", "-m", "one line"], { env: agentEnv });
  const objs = lg(["rev-list", "--objects", `${before}..HEAD`]).trim().split("\n").map((l) => l.split(" ")[0]);
  const added = sh("git", ["cat-file", "--batch-check=%(objectsize:disk)"], { env: { ...gitEnv, GIT_DIR: gitDir }, input: objs.join("\n") + "\n" })
    .trim()
    .split("\n")
    .reduce((n, x) => n + Number(x), 0);

  // Restore: the whole work area onto an empty place, each tool in turn, RESTORE_ROUNDS times (the
  // disk's speed here drifts between runs: medians of interleaved rounds, each round starting with
  // the next tool, so none always comes right after the removals); then one changed file.
  const full = lg(["rev-parse", "HEAD"]).trim();
  const rsyncDst = path.join(top, "rsync-dst");
  const gitDst = path.join(top, "git-dst");
  const resticDst = path.join(top, "restic-dst");
  const rounds = { vml: [], rsync: [], git: [], restic: [], vmlRss: [] };
  const tools = [
    () => {
      const v = timedDurable(process.execPath, [agentBin, "--root", guest, "restore", full], { env: agentEnv });
      rounds.vml.push(v.secs);
      rounds.vmlRss.push(v.rssKiB);
    },
    // The work area only: git-work also holds the git repository the other peer restores from.
    () => rounds.rsync.push(timedDurable("rsync", ["-a", "--exclude=/.git", `${gitWork}/`, `${rsyncDst}/`]).secs),
    () => {
      fs.mkdirSync(gitDst);
      rounds.git.push(timedDurable("git", ["--git-dir", path.join(gitWork, ".git"), "--work-tree", gitDst, "checkout", "-f", "HEAD", "--", "."], { env: gitEnv }).secs);
    },
    ...(hasRestic ? [() => rounds.restic.push(timedDurable("restic", ["restore", "latest", "--target", resticDst], { env: resticEnv }).secs)] : []),
  ];
  const RESTORE_ROUNDS = RESTORE_ROUNDS_ASKED || 2 * tools.length;
  for (let r = 0; r < RESTORE_ROUNDS; r++) {
    for (const d of [work, rsyncDst, gitDst, resticDst]) fs.rmSync(d, { recursive: true, force: true });
    for (let k = 0; k < tools.length; k++) tools[(r + k) % tools.length]();
  }
  const restoreRes = {
    rounds,
    vml: { secs: median(rounds.vml), rssKiB: median(rounds.vmlRss) },
    rsync: { secs: median(rounds.rsync) },
    git: { secs: median(rounds.git) },
    restic: { secs: median(rounds.restic) },
  };
  fs.appendFileSync(fileOf(work, Math.floor(FILES / 3)), "changed after the restore\n");
  restoreRes.one = timedDurable(process.execPath, [agentBin, "--root", guest, "restore", full], { env: agentEnv });
  // The same once a snapshot has looked at the restored area (a daemon's, a commit's): files written
  // within the last two seconds are read again by whatever looks next, which the first one pays.
  await sleep(2100);
  sh(process.execPath, [agentBin, "--root", guest, "commit", "-m", "after the restore"], { env: agentEnv });
  await sleep(2100);
  fs.appendFileSync(fileOf(work, Math.floor(FILES / 3)), "changed again\n");
  restoreRes.oneLater = timedDurable(process.execPath, [agentBin, "--root", guest, "restore", full], { env: agentEnv });
  // One large file (a ROOT file's size, under the size limit) changed and restored, against rsync
  // copying the same file: a restore's cost must follow the bytes, not grow faster.
  const large = path.join(work, "large.root");
  fs.writeFileSync(large, randomBytes(LARGE_MIB * 1048576));
  sh(process.execPath, [agentBin, "--root", guest, "commit", "-m", "a large file"], { env: agentEnv });
  const withLarge = lg(["rev-parse", "HEAD"]).trim();
  await sleep(2100);
  fs.appendFileSync(large, "changed\n");
  restoreRes.large = timedDurable(process.execPath, [agentBin, "--root", guest, "restore", withLarge], { env: agentEnv });
  const largeDst = path.join(top, "large-dst");
  fs.mkdirSync(largeDst);
  restoreRes.largeRsync = timedDurable("rsync", ["-a", large, `${largeDst}/`]);

  // The daemon at rest: memory and CPU while it watches the whole work area and nothing changes;
  // then on the same work area grown to DAEMON_FILES (its start-up check records the new files).
  let editRound = 100;
  const edit = () => change(work, editRound++);
  const rests = [[FILES, await daemonAtRest(guest, agentEnv, edit)]];
  if (DAEMON_FILES > FILES) {
    generate(work, FILES, DAEMON_FILES);
    rests.push([DAEMON_FILES, await daemonAtRest(guest, agentEnv, edit)]);
  }
  // The same 20 edits recorded by a scan that trusts nothing (no scan cache): every folder and file read.
  const lastFiles = rests.at(-1)[0];
  edit();
  fs.rmSync(path.join(guest, "var/lib/vml/logbook/vml-scan-cache"));
  const fullScan = timed(process.execPath, [agentBin, "--root", guest, "commit", "-m", "full scan"], { env: agentEnv });
  // Speed that broke the logbook would be no speed: every snapshot this run took is checked.
  const verifyStart = process.hrtime.bigint();
  const verified = spawnSync(process.execPath, [agentBin, "--root", guest, "verify"], { env: agentEnv, encoding: "utf8" });
  const verifySecs = Number(process.hrtime.bigint() - verifyStart) / 1e9;
  // verify runs git fsck first: what it adds to git's own check is what its history costs.
  const fsck = timed("git", ["fsck", "--full", "--strict", "--no-dangling", "--no-progress"], { env: { ...gitEnv, GIT_DIR: gitDir } });

  const vInc = median(inc.vml);
  const gInc = median(inc.git);
  const rows = [
    ["initial (median)", fmt(res.vmlInit.secs), fmt(res.gitInit.secs), hasRestic ? fmt(res.resticInit.secs) : "-", `${(res.vmlInit.secs / res.gitInit.secs).toFixed(2)}x git`],
    ["incremental (median)", fmt(vInc), fmt(gInc), hasRestic ? fmt(median(inc.restic)) : "-", `${(vInc / gInc).toFixed(2)}x git${hasRestic ? `, restic ${(median(inc.restic) / vInc).toFixed(1)}x slower` : ""}`],
  ];
  rows.push(["  through the daemon", fmt(median(inc.viaDaemon)), fmt(gInc), "-", `${(median(inc.viaDaemon) / gInc).toFixed(2)}x git (typed at once)`]);
  const gLater = median(inc.gitLater);
  rows.push([`  ... typed ${TYPING_PAUSE_MS / 1000} s later`, fmt(median(inc.viaDaemonLater)), fmt(gLater), hasRestic ? fmt(median(inc.resticLater)) : "-", `${(median(inc.viaDaemonLater) / gLater).toFixed(2)}x git${hasRestic ? `, restic ${(median(inc.resticLater) / median(inc.viaDaemonLater)).toFixed(1)}x slower` : ""}`]);
  console.log(["", "vml-agent", "git add+commit", "restic backup", "ratio"].map((s, i) => s.padEnd(i === 0 ? 22 : 16)).join(""));
  for (const row of rows) console.log(row.map((s, i) => s.padEnd(i === 0 ? 22 : 16)).join(""));
  const r = restoreRes;
  console.log(
    [`full restore (median)`, fmt(r.vml.secs), `git checkout ${fmt(r.git.secs)}`, `rsync -a ${fmt(r.rsync.secs)}`, hasRestic ? `restic ${fmt(r.restic.secs)}` : "-"].map((x, i) => x.padEnd(i === 0 ? 22 : 22)).join(""),
  );
  console.log(
    `each round (lowest-highest of ${INIT_ROUNDS}): initial ${spread(initRounds.vml)}, git ${spread(initRounds.git)}${hasRestic ? `, restic ${spread(initRounds.restic)}` : ""}; of ${ROUNDS}: incremental ${spread(inc.vml)}, through the daemon ${spread(inc.viaDaemon)} at once and ${spread(inc.viaDaemonLater)} ${TYPING_PAUSE_MS / 1000} s later, git ${spread(inc.git)} and ${spread(inc.gitLater)}${hasRestic ? `, restic ${spread(inc.restic)} and ${spread(inc.resticLater)}` : ""}; of ${r.rounds.vml.length}: full restore ${spread(r.rounds.vml)}, git checkout ${spread(r.rounds.git)}, rsync ${spread(r.rounds.rsync)}${hasRestic ? `, restic ${spread(r.rounds.restic)}` : ""}`,
  );
  console.log(
    `restore ratios: ${(r.vml.secs / r.git.secs).toFixed(2)}x git checkout, ${(r.rsync.secs / r.vml.secs).toFixed(2)}x faster than rsync${hasRestic ? `, ${(r.restic.secs / r.vml.secs).toFixed(2)}x faster than restic` : ""}; one changed file: ${fmt(r.one.secs)} right after the full restore (${((r.one.secs / r.vml.secs) * 100).toFixed(0)}% of it), ${fmt(r.oneLater.secs)} once a snapshot came between (${((r.oneLater.secs / r.vml.secs) * 100).toFixed(0)}%)`,
  );
  console.log(`one changed ${LARGE_MIB} MiB file: restore ${fmt(r.large.secs)} (peak memory ${mib(r.large.rssKiB)}), rsync -a of that file ${fmt(r.largeRsync.secs)}`);
  console.log(`\npeak memory (largest process): init ${mib(res.vmlInit.rssKiB)}, incremental ${mib(median(inc.vmlRss))}`);
  console.log(`one-line change adds ${added} bytes to the logbook (${objs.length} objects)`);
  console.log(`peak memory of a full restore: ${mib(r.vml.rssKiB)}`);
  for (const [files, rest] of rests) {
    console.log(`daemon at rest holding ${rest.folders} watches (${files} files): ${rest.rssMiB.toFixed(0)} MiB resident, ${rest.cpuPercent.toFixed(2)}% CPU over ${rest.seconds} s from when it was ready (ready after ${rest.readySecs.toFixed(1)} s); automatic snapshot after ${CHANGES} edits: ${fmt(rest.autoSecs)}`);
  }
  console.log(`the same ${CHANGES} edits in ${lastFiles} files by a commit that trusts no cache (a full scan): ${fmt(fullScan.secs)}`);
  console.log(`the logbook after the run: ${verified.status === 0 ? verified.stdout.trim() : `NOT SOUND (exit ${verified.status}): ${verified.stdout.trim().split("\n").slice(-1)[0]}`}`);
  console.log(`verify: ${fmt(verifySecs)}, of which git fsck alone takes ${fmt(fsck.secs)}`);
  console.log(`targets: init within 1.3x git, incremental within 1.5x git and 5x faster than restic, one-line change under 65536 bytes;`);
  console.log(`         restore faster than rsync and restic, within 2x of git checkout`);
} finally {
  fs.rmSync(top, { recursive: true, force: true, maxRetries: 5 });
}
