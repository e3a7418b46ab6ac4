// The configuration cache: a command whose configuration did not change reads the cache; any change,
// error or doubt means the YAML is parsed again, and errors are never hidden by it.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { NodeSystem } from "../agent/platform/system.js";
import { openContext, type Io } from "../agent/cli/io.js";
import { VmlError } from "../agent/core/errors.js";
import { agent, cleanup, makeGuest } from "./helpers/guest.js";

/** A clock a minute ahead: the files a test just wrote are already old enough to be cached. */
class AheadSystem extends NodeSystem {
  now(): Date {
    return new Date(Date.now() + 60_000);
  }
}

const io = (sys = new AheadSystem()): Io => ({ sys, out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] });

test("the configuration is read from its cache until a file it came from changes; errors are never cached", async (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const config = `${root}/etc/vml/agent.yaml`;
  const cache = `${root}/var/lib/vml/logbook/vml-config-cache`;
  fs.writeFileSync(config, "mounts_table: /nonexistent/mounts\nsize_limit: 1MiB\n");
  assert.equal(agent(root, ["init"]).code, 0);

  // Before the logbook existed there was nowhere to keep it; now the first reader writes it.
  assert.equal((await openContext(io(), { root })).config.sizeLimit, 1 << 20);
  assert.equal(fs.statSync(cache).mode & 0o777, 0o600);

  // What the cache says is what a command gets while the files are unchanged.
  const body = JSON.parse(fs.readFileSync(cache, "utf8"));
  body.config.sizeLimit = 12345;
  fs.writeFileSync(cache, JSON.stringify(body));
  assert.equal((await openContext(io(), { root })).config.sizeLimit, 12345);
  // ...but only for the build that made it: another one may read or default the file differently.
  body.key = body.key.replace(/^\["[^"]*"/, '["0.0.1 1"');
  body.config.sizeLimit = 777;
  fs.writeFileSync(cache, JSON.stringify(body));
  assert.equal((await openContext(io(), { root })).config.sizeLimit, 1 << 20);

  // An edit of the configuration is seen at once, cache or not.
  fs.writeFileSync(config, "mounts_table: /nonexistent/mounts\nsize_limit: 2MiB\n");
  assert.equal((await openContext(io(), { root })).config.sizeLimit, 2 << 20);

  // A configuration that went bad is reported with its line and column, never replaced by the cache.
  fs.writeFileSync(config, "size_limit: [1\n");
  await assert.rejects(openContext(io(), { root }), (e: unknown) => e instanceof VmlError && e.code === "BAD_CONFIG" && /agent\.yaml:\d+:\d+/.test(e.message));
  const run = agent(root, ["status"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /agent\.yaml:\d+:\d+: malformed YAML/);

  // A removed configuration means the defaults again.
  fs.rmSync(config);
  assert.equal((await openContext(io(), { root })).config.sizeLimit, 64 << 20);

  // A cache that is not one (torn, foreign) is ignored.
  fs.writeFileSync(config, "mounts_table: /nonexistent/mounts\nsize_limit: 3MiB\n");
  fs.writeFileSync(cache, "{not json");
  assert.equal((await openContext(io(), { root })).config.sizeLimit, 3 << 20);
});

test("a configuration that just changed, or reached through a symlink, is parsed every time, not cached", async (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const cache = `${root}/var/lib/vml/logbook/vml-config-cache`;
  assert.equal(agent(root, ["init"]).code, 0);
  fs.rmSync(cache, { force: true });
  // The real clock: the file was written a moment ago, and a second write within its timestamps'
  // granularity could leave them as they are.
  fs.writeFileSync(`${root}/etc/vml/agent.yaml`, "mounts_table: /nonexistent/mounts\n");
  await openContext(io(new NodeSystem()), { root });
  assert.equal(fs.existsSync(cache), false);

  fs.writeFileSync(`${root}/etc/vml/real.yaml`, "mounts_table: /nonexistent/mounts\nsize_limit: 5MiB\n");
  fs.rmSync(`${root}/etc/vml/agent.yaml`);
  fs.symlinkSync("real.yaml", `${root}/etc/vml/agent.yaml`);
  assert.equal((await openContext(io(), { root })).config.sizeLimit, 5 << 20);
  assert.equal(fs.existsSync(cache), false);
});

test("the cache carries the rules' globs compiled: a cached configuration decides as one parsed afresh, without compiling", async (t) => {
  const root = makeGuest();
  t.after(() => cleanup(root));
  const cache = `${root}/var/lib/vml/logbook/vml-config-cache`;
  fs.writeFileSync(
    `${root}/etc/vml/agent.yaml`,
    ["mounts_table: /nonexistent/mounts", "env_drop: [MY_*, 'TMP?']", "rules:", "  - exclude: '**/*.root'", "  - exclude: /home/*/data[0-9]/", "  - include: /home/*/data1/keep{a,b}.txt", "  - exclude: '[xy]*.log'"].join("\n") + "\n",
  );
  assert.equal(agent(root, ["init"]).code, 0);
  const fresh = await openContext(io(), { root });
  const cached = await openContext(io(), { root });
  const globs = JSON.parse(fs.readFileSync(cache, "utf8")).config.globs as Record<string, string>;
  for (const p of ["**/*.root", "home/*/data[0-9]", "data[0-9]", "keep{a,b}.txt", "[xy]*.log", "MY_*", "TMP?"]) assert.ok(p in globs, p);

  const paths: [string, boolean][] = [
    ["home/alice/run/h.root", false],
    ["home/alice/data3", true],
    ["home/alice/data1/keepb.txt", false],
    ["home/alice/data1/keepc.txt", false],
    ["home/alice/x1.log", false],
    ["home/alice/z1.log", false],
    ["etc/hosts", false],
  ];
  const decisions = (rules: typeof fresh.rules) => paths.map(([p, dir]) => rules.explain(p, dir).index);
  assert.deepEqual(decisions(cached.rules), decisions(fresh.rules));
  assert.equal(cached.rules.explain("home/alice/data1/keepb.txt", false).included, true);
  assert.equal(cached.rules.explain("home/alice/data1/keepc.txt", false).included, false);

  // The compiled form in the cache is the one used.
  const body = JSON.parse(fs.readFileSync(cache, "utf8"));
  body.config.globs["**/*.root"] = "(?!)";
  fs.writeFileSync(cache, JSON.stringify(body));
  assert.equal((await openContext(io(), { root })).rules.explain("home/alice/run/h.root", false).included, true);
});
