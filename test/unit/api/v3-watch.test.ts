/**
 * etcd's gateway POST /v3/watch through app.request() (issue 4 §2): newline-delimited
 * `{"result":WatchResponse}` in etcd 3.4's shape (checked against etcd 3.4.23's output),
 * requests read from the body as they arrive (progress_request, cancel_request, several watches).
 */
import { describe, expect, it } from "vitest";
import { b64, json, post, put, revision } from "./helpers.ts";
import { BodyReader, useNodeApp } from "./watch-helpers.ts";

const api = useNodeApp();

/** The header every response of the single test node carries (ids as etcd's decimal strings). */
function header(rev?: number) {
  return {
    cluster_id: BigInt("0xcdf818194e3a8c32").toString(),
    member_id: BigInt("0x8e9e05c52164694d").toString(),
    ...(rev === undefined ? {} : { revision: String(rev) }),
    raft_term: expect.stringMatching(/^[1-9][0-9]*$/),
  };
}

/** A request body the test keeps writing to (a bidirectional stream). */
function requestStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return {
    body,
    send: (obj: unknown) => controller.enqueue(new TextEncoder().encode(JSON.stringify(obj))),
    end: () => controller.close(),
  };
}

function openWatch(body: ReadableStream<Uint8Array> | string) {
  return api.app.request("/v3/watch", { method: "POST", body, duplex: "half" } as RequestInit);
}

describe("POST /v3/watch", () => {
  it("streams created, then one result per revision, in etcd 3.4's JSON", async () => {
    const { app } = api;
    const key = b64("gw/foo");
    await post(app, "/v3/kv/put", { key, value: b64("bar") });
    const now = await revision(app);
    const res = await openWatch(JSON.stringify({ create_request: { key, prev_kv: true } }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const out = new BodyReader(res);
    expect(await out.line()).toEqual({ result: { header: header(now), created: true } });
    await post(app, "/v3/kv/put", { key, value: b64("baz") });
    await post(app, "/v3/kv/deleterange", { key });
    expect(await out.line()).toEqual({
      result: {
        header: header(now + 1),
        events: [
          {
            kv: {
              key,
              create_revision: String(now),
              mod_revision: String(now + 1),
              version: "2",
              value: b64("baz"),
            },
            prev_kv: {
              key,
              create_revision: String(now),
              mod_revision: String(now),
              version: "1",
              value: b64("bar"),
            },
          },
        ],
      },
    });
    expect(await out.line()).toEqual({
      result: {
        header: header(now + 2),
        events: [
          {
            type: "DELETE",
            kv: { key, mod_revision: String(now + 2) },
            prev_kv: {
              key,
              create_revision: String(now),
              mod_revision: String(now + 1),
              version: "2",
              value: b64("baz"),
            },
          },
        ],
      },
    });
    await out.cancel();
  });

  it("replays from start_revision and ends a compacted start like etcd (canceled, compact_revision)", async () => {
    const { app } = api;
    const key = b64("gw/r");
    const first = Number(
      (await json(await post(app, "/v3/kv/put", { key, value: b64("1") }))).header.revision,
    );
    const replay = new BodyReader(
      await openWatch(JSON.stringify({ create_request: { key, start_revision: String(first) } })),
    );
    expect((await replay.line()).result.created).toBe(true);
    expect((await replay.line()).result.events[0].kv.value).toBe(b64("1"));
    await replay.cancel();

    await post(app, "/v3/kv/put", { key, value: b64("2") });
    const rev = await revision(app);
    await post(app, "/v3/kv/compaction", { revision: rev });
    const out = new BodyReader(
      await openWatch(JSON.stringify({ create_request: { key, start_revision: String(first) } })),
    );
    expect((await out.line()).result).toEqual({ header: header(rev), created: true });
    expect(await out.line()).toEqual({
      result: { header: header(), canceled: true, compact_revision: String(rev) },
    });
    expect(await out.endsWithin()).toBe(true); // the body has ended and no watch is left
  });

  it("answers a progress_request sent later on the same stream with watch_id -1", async () => {
    const { app } = api;
    const req = requestStream();
    const pending = openWatch(req.body);
    req.send({ create_request: { key: b64("gw/p"), filters: ["NOPUT"] } });
    const out = new BodyReader(await pending);
    expect((await out.line()).result.created).toBe(true);
    await put(app, "gw/p", "filtered out");
    const now = await revision(app);
    req.send({ progress_request: {} });
    expect(await out.line()).toEqual({ result: { header: header(now), watch_id: "-1" } });
    req.end();
    await out.cancel();
  });

  it("multiplexes watches with their ids and cancels one on cancel_request", async () => {
    const { app } = api;
    const req = requestStream();
    const pending = openWatch(req.body);
    req.send({ create_request: { key: b64("gw/m0") } });
    const out = new BodyReader(await pending);
    expect((await out.line()).result.watch_id).toBeUndefined(); // id 0 is omitted, as etcd does
    req.send({ create_request: { key: b64("gw/m1") } });
    expect((await out.line()).result).toMatchObject({ watch_id: "1", created: true });
    await put(app, "gw/m1", "x");
    expect((await out.line()).result).toMatchObject({
      watch_id: "1",
      events: [{ kv: { key: b64("gw/m1") } }],
    });
    req.send({ cancel_request: { watch_id: "1" } });
    expect((await out.line()).result).toMatchObject({ watch_id: "1", canceled: true });
    await put(app, "gw/m1", "y");
    await put(app, "gw/m0", "z");
    const next = (await out.line()).result;
    expect(next.watch_id).toBeUndefined();
    expect(next.events[0].kv.key).toBe(b64("gw/m0"));
    req.end();
    await out.cancel();
  });

  it("answers an invalid first request with the gateway's error shape", async () => {
    for (const body of [
      "notjson",
      '{"cancel_request":{}}',
      '{"create_request":{"key":"@@"}}',
      '{"create_request":{}}',
    ]) {
      const res = await openWatch(body);
      expect(res.status, body).toBe(400);
      const err = await json(res);
      expect(err).toEqual({ error: err.message, code: 3, message: expect.any(String) });
    }
  });

  it("writes a stream error line when a later request is not JSON", async () => {
    const req = requestStream();
    const pending = openWatch(req.body);
    req.send({ create_request: { key: b64("gw/e") } });
    const out = new BodyReader(await pending);
    expect((await out.line()).result.created).toBe(true);
    req.send("oops" as unknown as object);
    const line = await out.line();
    expect(line.error).toMatchObject({ grpc_code: 3, http_code: 400, http_status: "Bad Request" });
    expect(await out.endsWithin()).toBe(true);
  });
});
