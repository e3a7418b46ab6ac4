// Hands a command to the daemon when one listens on ROOT/run/vml/agent.sock: ordinary users record
// and read snapshots through it, with their own environment, and every commit is serialised there.
import { ask } from "../platform/socket.js";

/** What may run in the daemon for any user of the socket's group: recording and reading. */
export const FORWARDED = new Set(["commit", "status", "log", "show", "diff", "hook"]);
export const SOCKET = "/run/vml/agent.sock";

function rootOf(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--root") return argv[i + 1] ?? "/";
    if (argv[i].startsWith("--root=")) return argv[i].slice(7);
  }
  return "/";
}

function commandOf(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") return undefined;
    if (a === "--root" || a === "--config") i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}

/** The exit code when the daemon ran the command; undefined when it is to run here. */
export async function forwardToDaemon(env: Record<string, string>, argv: string[], out: (t: string | Buffer) => void, err: (t: string) => void): Promise<number | undefined> {
  const cmd = commandOf(argv);
  if (!cmd || !FORWARDED.has(cmd) || argv.includes("--help") || argv.includes("-h")) return undefined;
  const root = rootOf(argv).replace(/\/+$/, "");
  let exit: number | undefined;
  const answered = await ask(`${root}${SOCKET}`, { vml: 1, argv, env }, (m) => {
    if (typeof m.out === "string") out(m.out);
    if (typeof m.bytes === "string") out(Buffer.from(m.bytes, "base64"));
    if (typeof m.err === "string") err(m.err);
    if (typeof m.exit === "number") exit = m.exit;
  });
  if (answered && exit === undefined) err("vml-agent: the daemon hung up before answering (stopped or restarted meanwhile?); run the command again\n");
  return answered ? (exit ?? 1) : undefined;
}
