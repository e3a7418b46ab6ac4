// A unix socket speaking one JSON object per line, both ways (docs/FORMAT.md, "Control socket").
import * as net from "node:net";
import * as fs from "node:fs";

export type Message = Record<string, unknown>;

/**
 * Sends `request` and hands every reply line to `onReply` until the server closes. Undefined when
 * nobody listens there (no daemon): the caller then works on its own.
 */
export function ask(path: string, request: Message, onReply: (m: Message) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(path);
    let buf = "";
    let connected = false;
    sock.on("connect", () => {
      connected = true;
      sock.write(JSON.stringify(request) + "\n");
    });
    sock.on("data", (d) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) if (l) onReply(JSON.parse(l) as Message);
    });
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
    let buf = "";
    sock.on("error", () => undefined);
    sock.on("data", (d) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      let req: Message;
      try {
        req = JSON.parse(buf.slice(0, nl)) as Message;
      } catch {
        sock.end(JSON.stringify({ vml: 1, err: "vml-agent daemon: a request is one JSON line\n" }) + "\n" + JSON.stringify({ vml: 1, exit: 2 }) + "\n");
        return;
      }
      sock.removeAllListeners("data");
      queue = queue.then(() => handle(req, (m) => sock.write(JSON.stringify({ vml: 1, ...m }) + "\n")).finally(() => sock.end()));
    });
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
