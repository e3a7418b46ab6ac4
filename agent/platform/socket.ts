// A unix socket speaking one JSON object per line, both ways (docs/FORMAT.md, "Control socket").
import * as net from "node:net";
import * as fs from "node:fs";

export type Message = Record<string, unknown>;

/**
 * Hands each whole line of a byte stream (without its LF) to `onLine`, decoded once whole: a chunk
 * may end inside a character, and a line of megabytes (a long diff) comes in hundreds of chunks,
 * each looked at once.
 */
function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  let parts: Buffer[] = [];
  return (chunk) => {
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      parts.push(chunk.subarray(from, nl));
      const line = Buffer.concat(parts).toString();
      parts = [];
      from = nl + 1;
      onLine(line);
    }
    if (from < chunk.length) parts.push(chunk.subarray(from));
  };
}

/**
 * Sends `request` and hands every reply line to `onReply` until the server closes. Undefined when
 * nobody listens there (no daemon): the caller then works on its own.
 */
export function ask(path: string, request: Message, onReply: (m: Message) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(path);
    let connected = false;
    sock.on("connect", () => {
      connected = true;
      sock.write(JSON.stringify(request) + "\n");
    });
    sock.on(
      "data",
      lineReader((l) => {
        if (l) onReply(JSON.parse(l) as Message);
      }),
    );
    sock.on("error", () => resolve(false));
    sock.on("close", () => resolve(connected));
  });
}

export interface Server {
  close(): Promise<void>;
}

/**
 * Listens at `path` (mode 0660, the group given), one request per connection. Requests are handled
 * one at a time, in arrival order: two commits at the same moment never interleave.
 */
export async function serve(path: string, gid: number | undefined, handle: (req: Message, reply: (m: Message) => void) => Promise<void>): Promise<Server> {
  fs.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true, mode: 0o755 });
  fs.rmSync(path, { force: true }); // a socket left by a daemon that was killed
  let queue: Promise<void> = Promise.resolve();
  const server = net.createServer((sock) => {
    sock.on("error", () => undefined);
    let taken = false;
    sock.on(
      "data",
      lineReader((line) => {
        // One request per connection: what follows its line is not read.
        if (taken) return;
        taken = true;
        sock.removeAllListeners("data");
        let req: Message;
        try {
          req = JSON.parse(line) as Message;
        } catch {
          sock.end(JSON.stringify({ vml: 1, err: "vml-agent daemon: a request is one JSON line\n" }) + "\n" + JSON.stringify({ vml: 1, exit: 2 }) + "\n");
          return;
        }
        queue = queue.then(() => handle(req, (m) => sock.write(JSON.stringify({ vml: 1, ...m }) + "\n")).finally(() => sock.end()));
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  fs.chmodSync(path, gid === undefined ? 0o600 : 0o660);
  if (gid !== undefined) fs.chownSync(path, 0, gid);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        fs.rmSync(path, { force: true });
      }).then(() => queue),
  };
}
