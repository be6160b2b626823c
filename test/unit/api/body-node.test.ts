/**
 * Request bodies read from Node's own request stream (src/api/body.ts readIncoming), as the real
 * client listener serves them: a body in one chunk and in many, over HTTP/1.1 and cleartext
 * HTTP/2, a body over the limit, and a client that goes away mid-body (the body read fails,
 * nothing is written, and the server keeps serving).
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBodyBytes } from "../../../src/api/body.ts";
import { type ClientListener, listenClient } from "../../../src/server/client-listener.ts";
import { b64, TEST_MAX_REQUEST_BYTES, unb64, useApi } from "./helpers.ts";

const api = useApi();
let listener: ClientListener;
/** A second listener whose only route reads the body and records how the read ended. */
let probe: ClientListener;
const probeOutcomes: (Uint8Array | Error)[] = [];
beforeAll(async () => {
  listener = await listenClient(api.app, "http://127.0.0.1:0");
  const app = new Hono();
  app.post("/read", async (c) => {
    try {
      probeOutcomes.push(await readBodyBytes(c, 1000));
    } catch (err) {
      probeOutcomes.push(err as Error);
    }
    return c.text("done");
  });
  probe = await listenClient(app, "http://127.0.0.1:0");
});
afterAll(async () => {
  await listener.close();
  await probe.close();
});

/** Sends headers announcing `length` body bytes and only `sent` of them, then closes the connection. */
async function sendPartialAndLeave(port: number, path: string, body: string, sent: number): Promise<void> {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((r) => socket.once("connect", r));
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, sent)}`,
  );
  await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
}

/** An HTTP/1.1 POST whose body is written in `parts` (each its own write, with a pause between). */
function post1(path: string, parts: string[], length = parts.join("").length) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: listener.port,
      path,
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json", "content-length": String(length) },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    (async () => {
      for (const part of parts) {
        req.write(part);
        await new Promise((r) => setTimeout(r, 20));
      }
      req.end();
    })();
  });
}

async function get(key: string): Promise<string | undefined> {
  const res = await post1("/v3/kv/range", [JSON.stringify({ key: b64(key) })]);
  const kvs = JSON.parse(res.body).kvs as { value: string }[] | undefined;
  return kvs?.[0] ? unb64(kvs[0].value) : undefined;
}

describe("request bodies read from Node's request stream", () => {
  it("reads a body that arrives in one chunk and one that arrives in many", async () => {
    const one = await post1("/v3/kv/put", [JSON.stringify({ key: b64("one"), value: b64("v1") })]);
    expect(one.status).toBe(200);
    const body = JSON.stringify({ key: b64("many"), value: b64("x".repeat(3000)) });
    const parts = [body.slice(0, 5), body.slice(5, 1000), body.slice(1000)];
    const many = await post1("/v3/kv/put", parts);
    expect(many.status).toBe(200);
    expect(await get("one")).toBe("v1");
    expect(await get("many")).toBe("x".repeat(3000));
  });

  it("reads a body over cleartext HTTP/2", async () => {
    const session = http2.connect(`http://127.0.0.1:${listener.port}`);
    try {
      const body = JSON.stringify({ key: b64("h2"), value: b64("over h2") });
      const stream = session.request({
        ":method": "POST",
        ":path": "/v3/kv/put",
        "content-type": "application/json",
        "content-length": String(body.length),
      });
      stream.end(body);
      const status = await new Promise<number>((resolve) =>
        stream.on("response", (h) => resolve(Number(h[":status"]))),
      );
      stream.resume();
      await new Promise((r) => stream.on("end", r));
      expect(status).toBe(200);
      expect(await get("h2")).toBe("over h2");
    } finally {
      session.close();
    }
  });

  it("refuses a body over the limit as etcd's gateway does and writes nothing", async () => {
    const body = JSON.stringify({ key: b64("big"), value: b64("y".repeat(TEST_MAX_REQUEST_BYTES)) });
    const res = await post1("/v3/kv/put", [body]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toBe("etcdserver: request is too large");
    expect(await get("big")).toBeUndefined();
  });

  it("fails the body read of a client that goes away mid-body", async () => {
    await sendPartialAndLeave(probe.port, "/read", "x".repeat(100), 10);
    for (let i = 0; i < 100 && probeOutcomes.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(probeOutcomes).toHaveLength(1);
    expect(probeOutcomes[0]).toBeInstanceOf(Error);
  });

  it("writes nothing for a client that goes away mid-body, and keeps serving", async () => {
    const body = JSON.stringify({ key: b64("gone"), value: b64("never") });
    await sendPartialAndLeave(listener.port, "/v3/kv/put", body, 10);
    await new Promise((r) => setTimeout(r, 50));
    expect(await get("gone")).toBeUndefined();
    const after = await post1("/v3/kv/put", [JSON.stringify({ key: b64("after"), value: b64("ok") })]);
    expect(after.status).toBe(200);
    expect(await get("after")).toBe("ok");
  });
});
