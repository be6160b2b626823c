/**
 * GET /v1/watch served by the real client listener (src/server/client-listener.ts), where the SSE
 * writer (src/api/sse-watch.ts) writes straight to the Node response: the exact bytes on
 * HTTP/1.1, the same events over cleartext HTTP/2 (no connection-specific headers: Node's http2
 * throws on them), backpressure from a client that stops reading (events stay in the watcher's
 * bounded buffer, then one "cancelled" with the revision to resume from), and the watcher freed
 * when the client goes away.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sseWatchStreamsStarted } from "../../../src/api/sse-watch.ts";
import { type ClientListener, listenClient } from "../../../src/server/client-listener.ts";
import { hubApp } from "./watch-helpers.ts";

let listener: ClientListener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

/** A hub app on a real listener. */
async function serve(opts: Parameters<typeof hubApp>[0] = {}, heartbeatMs = 60_000) {
  const h = hubApp(opts, heartbeatMs);
  listener = await listenClient(h.app, "http://127.0.0.1:0");
  return { ...h, port: listener.port };
}

/** An HTTP/1.1 GET whose body is collected as text; `until` decides when enough has arrived. */
function get(port: number, path: string) {
  let text = "";
  let waiters: (() => void)[] = [];
  let res: http.IncomingMessage | undefined;
  let ended = false;
  const req = http.get({ host: "127.0.0.1", port, path, agent: false });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on("response", (r) => {
      res = r;
      r.setEncoding("utf8");
      r.on("data", (c: string) => {
        text += c;
        for (const w of waiters) w();
      });
      r.on("end", () => {
        ended = true;
        for (const w of waiters) w();
      });
      resolve(r);
    });
    req.on("error", reject);
  });
  return {
    response,
    get text() {
      return text;
    },
    get ended() {
      return ended;
    },
    get res() {
      return res;
    },
    /** Waits until `test(text)` holds (bounded). */
    async until(test: (t: string) => boolean, timeoutMs = 5_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!test(text)) {
        if (ended) throw new Error(`stream ended; have ${JSON.stringify(text)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out; have ${JSON.stringify(text.slice(-500))}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
        waiters = [];
      }
      return text;
    },
    close: () => req.destroy(),
  };
}

describe("GET /v1/watch on the Node listener", () => {
  it("writes the exact SSE bytes over HTTP/1.1 (created, events, heartbeat, progress)", async () => {
    const h = await serve({ progressIntervalMs: 1_000 }, 100);
    h.hub.tick(0);
    const before = { ...sseWatchStreamsStarted };
    const c = get(h.port, "/v1/watch?key=k&progress_notify=true");
    const res = await c.response;
    // Written straight to the Node response, not through a web stream.
    expect(sseWatchStreamsStarted).toEqual({ node: before.node + 1, web: before.web });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream");
    expect(res.headers["cache-control"]).toBe("no-cache");
    await c.until((t) => t.includes("\n\n"));
    expect(c.text).toBe('event: created\ndata: {"revision":1,"start_revision":2}\nid: 1\n\n');
    h.put("k", "v1");
    h.put("other", "x");
    h.put("k", "v2");
    await c.until((t) => t.includes("id: 4\n\n"));
    const kv = (value: string, rev: number, version: number) =>
      `{"key":"k","value":"${value}","create_revision":2,"mod_revision":${rev},"version":${version},"lease":0}`;
    expect(c.text.slice(c.text.indexOf("id: 1\n\n") + 7)).toBe(
      `data: {"revision":2,"events":[{"type":"PUT","kv":${kv("v1", 2, 1)}}]}\nid: 2\n\n` +
        `data: {"revision":4,"events":[{"type":"PUT","kv":${kv("v2", 4, 2)}}]}\nid: 4\n\n`,
    );
    await c.until((t) => t.endsWith(": heartbeat\n\n"));
    h.hub.tick(5_000);
    await c.until((t) => t.includes("event: progress\n"));
    expect(c.text).toContain('event: progress\ndata: {"revision":4}\nid: 4\n\n');
    c.close();
  });

  it("streams over cleartext HTTP/2 without connection-specific headers", async () => {
    const h = await serve();
    const before = sseWatchStreamsStarted.node;
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    try {
      const stream = session.request({ ":path": "/v1/watch?key=h2/&prefix=true", ":method": "GET" });
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.on("response", resolve);
        stream.on("error", reject);
      });
      expect(headers[":status"]).toBe(200);
      expect(sseWatchStreamsStarted.node).toBe(before + 1);
      expect(headers["content-type"]).toBe("text/event-stream");
      expect(headers.connection).toBeUndefined();
      expect(headers["transfer-encoding"]).toBeUndefined();
      let text = "";
      stream.setEncoding("utf8");
      const got = new Promise<void>((resolve) => {
        stream.on("data", (c: string) => {
          text += c;
          if (text.includes("id: 3\n\n")) resolve();
        });
      });
      h.put("h2/a", "1");
      h.put("h2/b", "2");
      await got;
      expect(text).toMatch(/^event: created\ndata: \{"revision":1,"start_revision":2\}\nid: 1\n\n/);
      expect(text).toContain('data: {"revision":2,"events":[{"type":"PUT","kv":{"key":"h2/a"');
      expect(text).toContain("\nid: 3\n\n");
      stream.close();
      await new Promise((r) => setTimeout(r, 50));
      expect(h.hub.watcherCount).toBe(0);
    } finally {
      session.close();
    }
  });

  it("stops taking events from a client that does not read; it gets them in order, then cancelled", async () => {
    const h = await serve(); // default 1 MiB watcher buffer
    const c = get(h.port, "/v1/watch?key=big");
    const res = await c.response;
    await c.until((t) => t.includes("\n\n"));
    res.pause(); // the client stops reading: the socket fills, then the watcher's buffer
    const value = "v".repeat(256 * 1024);
    let puts = 0;
    while (h.hub.watcherCount > 0 && puts < 400) {
      h.put("big", value);
      puts++;
      await new Promise((r) => setImmediate(r)); // let the session write what it can
    }
    expect(h.hub.watcherCount).toBe(0); // cancelled as slow: the hub holds nothing for it
    expect(puts).toBeGreaterThan(4); // the socket took some before the watcher's buffer filled
    res.resume();
    await c.until((t) => t.includes("event: cancelled\n"), 20_000);
    const ids = [...c.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids[0]).toBe(1); // created
    const events = ids.slice(1);
    expect(events.length).toBeGreaterThan(0);
    expect(events).toEqual(Array.from({ length: events.length }, (_, i) => i + 2));
    const cancelled = JSON.parse(/event: cancelled\ndata: (.*)\n/.exec(c.text)![1]!);
    expect(cancelled.resume_revision).toBe(events.at(-1)! + 1);
    await c.until(() => c.ended, 5_000).catch(() => {});
    expect(c.ended).toBe(true);
  });

  it("frees the watcher when the client goes away", async () => {
    const h = await serve();
    const c = get(h.port, "/v1/watch?key=a");
    await c.response;
    await c.until((t) => t.includes("\n\n"));
    expect(h.hub.watcherCount).toBe(1);
    c.close();
    const deadline = Date.now() + 2_000;
    while (h.hub.watcherCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(h.hub.watcherCount).toBe(0);
  });

  it("leaves the keep-alive connection usable after a stream ends (valid chunked framing)", async () => {
    const h = await serve();
    h.put("c", "1");
    h.put("c", "2");
    h.store.applyWithEvents({ op: "compact", req: { revision: 3 } });
    const sock = net.connect(h.port, "127.0.0.1");
    let raw = "";
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      raw += d;
    });
    const until = async (test: () => boolean) => {
      const deadline = Date.now() + 5_000;
      while (!test()) {
        if (Date.now() > deadline) throw new Error(`timed out; have ${JSON.stringify(raw)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    sock.write("GET /v1/watch?key=c&start_revision=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => raw.includes("\r\n0\r\n\r\n"));
    const [head, body] = raw.split("\r\n\r\n", 2) as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head.toLowerCase()).toContain("transfer-encoding: chunked");
    // De-chunk the body and compare the SSE bytes.
    let rest = raw.slice(head.length + 4);
    let sse = "";
    for (;;) {
      const eol = rest.indexOf("\r\n");
      const len = Number.parseInt(rest.slice(0, eol), 16);
      if (len === 0) break;
      sse += rest.slice(eol + 2, eol + 2 + len);
      rest = rest.slice(eol + 2 + len + 2);
    }
    expect(body.length).toBeGreaterThan(0);
    expect(sse).toBe(
      'event: created\ndata: {"revision":3,"start_revision":1}\nid: 0\n\n' +
        'event: compacted\ndata: {"compact_revision":3,"message":"mvcc: required revision has been compacted"}\n\n',
    );
    // The same connection answers the next request.
    raw = "";
    sock.write("GET /v1/watch?key=c HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => raw.includes("event: created"));
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    sock.destroy();
  });

  it("serves an HTTP/1.0 client without chunked framing", async () => {
    const h = await serve();
    const sock = net.connect(h.port, "127.0.0.1");
    let raw = "";
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      raw += d;
    });
    sock.write("GET /v1/watch?key=old HTTP/1.0\r\nHost: x\r\n\r\n");
    const deadline = Date.now() + 5_000;
    while (!raw.includes("id: 1\n\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    h.put("old", "v");
    while (!raw.includes("id: 2\n\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const [head, body] = raw.split("\r\n\r\n", 2) as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head.toLowerCase()).not.toContain("transfer-encoding");
    expect(body).toMatch(
      /^event: created\ndata: \{"revision":1,"start_revision":2\}\nid: 1\n\ndata: \{"revision":2,/,
    );
    sock.destroy();
  });

  it("answers a bad query with the JSON error, not a stream", async () => {
    const h = await serve();
    const c = get(h.port, "/v1/watch?key=a&colour=red");
    const res = await c.response;
    expect(res.statusCode).toBe(400);
    await c.until(() => c.ended).catch(() => {});
    expect(JSON.parse(c.text).error.code).toBe("invalid_argument");
  });
});
