/**
 * GET /v1/watch as Server-Sent Events through app.request() (issue 4 §2): event per revision with
 * id = revision, /v1 JSON, Last-Event-ID resume, heartbeats, typed progress / compacted /
 * cancelled events, errors before the stream.
 */
import { describe, expect, it } from "vitest";
import { json, post, put, revision } from "./helpers.ts";
import { BodyReader, dataOf, hubApp, useNodeApp } from "./watch-helpers.ts";

const api = useNodeApp(50);

/** Opens an SSE watch and reads its created event. */
async function open(path: string, headers: Record<string, string> = {}) {
  const res = await api.app.request(path, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  // Connection-specific headers would make Node's HTTP/2 server throw (RFC 9113 §8.2.2).
  expect(res.headers.get("transfer-encoding")).toBeNull();
  expect(res.headers.get("connection")).toBeNull();
  const body = new BodyReader(res);
  const created = await body.event();
  expect(created?.event).toBe("created");
  return { body, created: dataOf(created), createdId: created!.id };
}

describe("GET /v1/watch (SSE)", () => {
  it("streams one event per revision with id = revision and /v1 JSON, prev_kv when asked", async () => {
    const { app } = api;
    const text = { "content-type": "text/plain" };
    await put(app, "sse/a", "one", text);
    const now = await revision(app);
    const { body, created, createdId } = await open("/v1/watch?key=sse/a&prev_kv=true");
    expect(created).toEqual({ revision: now, start_revision: now + 1 });
    expect(createdId).toBe(String(now));
    await put(app, "sse/a", "配置", text);
    await app.request("/v1/kv/sse/a", { method: "DELETE" });
    const first = await body.event();
    expect(first?.event).toBeUndefined(); // a plain "message" event
    expect(first?.id).toBe(String(now + 1));
    expect(dataOf(first)).toEqual({
      revision: now + 1,
      events: [
        {
          type: "PUT",
          kv: {
            key: "sse/a",
            value: "配置",
            content_type: "text/plain",
            create_revision: now,
            mod_revision: now + 1,
            version: 2,
            lease: 0,
          },
          prev_kv: {
            key: "sse/a",
            value: "one",
            content_type: "text/plain",
            create_revision: now,
            mod_revision: now,
            version: 1,
            lease: 0,
          },
        },
      ],
    });
    const second = await body.event();
    expect(second?.id).toBe(String(now + 2));
    expect(dataOf(second).events).toEqual([
      {
        type: "DELETE",
        kv: { key: "sse/a", create_revision: 0, mod_revision: now + 2, version: 0, lease: 0 },
        prev_kv: {
          key: "sse/a",
          value: "配置",
          content_type: "text/plain",
          create_revision: now,
          mod_revision: now + 1,
          version: 2,
          lease: 0,
        },
      },
    ]);
    await body.cancel();
  });

  it("keeps a txn's writes under a prefix in one event", async () => {
    const { app } = api;
    const { body } = await open("/v1/watch?key=sse/tx/&prefix=true");
    const res = await post(app, "/v1/txn", {
      success: [
        { put: { key: "sse/tx/b", value: "2" } },
        { put: { key: "sse/tx/a", value: "1" } },
        { put: { key: "sse/other", value: "x" } },
      ],
    });
    expect(res.status).toBe(200);
    const ev = dataOf(await body.event());
    expect(ev.events.map((e: { kv: { key: string } }) => e.kv.key)).toEqual(["sse/tx/a", "sse/tx/b"]);
    await body.cancel();
  });

  it("replays from start_revision, then goes on live", async () => {
    const { app } = api;
    const start = (await json(await put(app, "sse/r", "1"))).revision;
    await put(app, "sse/r", "2");
    const { body } = await open(`/v1/watch?key=sse/r&start_revision=${start}`);
    expect(dataOf(await body.event()).events[0].kv.value).toBe("1");
    expect(dataOf(await body.event()).events[0].kv.value).toBe("2");
    await put(app, "sse/r", "3");
    expect(dataOf(await body.event()).events[0].kv.value).toBe("3");
    await body.cancel();
  });

  it("resumes after Last-Event-ID exactly (the header wins over start_revision)", async () => {
    const { app } = api;
    const { body } = await open("/v1/watch?key=sse/resume/&prefix=true");
    for (let i = 0; i < 3; i++) await put(app, `sse/resume/${i}`, `v${i}`);
    await body.event();
    const second = await body.event();
    await body.cancel(); // the connection drops after the second event
    for (let i = 3; i < 5; i++) await put(app, `sse/resume/${i}`, `v${i}`);
    const again = await open("/v1/watch?key=sse/resume/&prefix=true&start_revision=1", {
      "last-event-id": second!.id!,
    });
    expect(again.created.start_revision).toBe(Number(second!.id) + 1);
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) keys.push(dataOf(await again.body.event()).events[0].kv.key);
    expect(keys).toEqual(["sse/resume/2", "sse/resume/3", "sse/resume/4"]);
    await again.body.cancel();
  });

  it("sends heartbeat comments on an idle stream", async () => {
    const { body } = await open("/v1/watch?key=sse/idle");
    const f = await body.frame(2_000);
    expect(f).toEqual({ comment: "heartbeat" });
    await body.cancel();
  });

  it("ends a compacted start with a typed compacted event carrying compact_revision", async () => {
    const { app } = api;
    await put(app, "sse/c", "1");
    const rev = (await json(await put(app, "sse/c", "2"))).revision;
    expect((await post(app, "/v3/kv/compaction", { revision: rev })).status).toBe(200);
    const { body } = await open("/v1/watch?key=sse/c&start_revision=1");
    const f = await body.event();
    expect(f?.event).toBe("compacted");
    expect(f?.id).toBeUndefined();
    expect(dataOf(f)).toEqual({
      compact_revision: rev,
      message: "mvcc: required revision has been compacted",
    });
    expect(await body.endsWithin()).toBe(true);
  });

  it("answers a bad request with a JSON error before any stream", async () => {
    const { app } = api;
    const cases: [string, Record<string, string>, RegExp][] = [
      ["/v1/watch", {}, /key/],
      ["/v1/watch?key=a&colour=red", {}, /colour/],
      ["/v1/watch?key=a&filters=noput,nosuch", {}, /noput, nodelete/],
      ["/v1/watch?key=a&prefix=true&range_end=b", {}, /not both/],
      ["/v1/watch?key=a&start_revision=-1", {}, /start_revision/],
      ["/v1/watch?key=a", { "last-event-id": "abc" }, /Last-Event-ID/],
    ];
    for (const [path, headers, message] of cases) {
      const res = await app.request(path, { headers });
      expect(res.status, path).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe("invalid_argument");
      expect(body.error.message).toMatch(message);
    }
  });
});

describe("GET /v1/watch over a hub the test drives", () => {
  it("sends progress notifications as typed events with id = revision", async () => {
    const h = hubApp({ progressIntervalMs: 1_000 });
    h.hub.tick(0);
    const res = await h.app.request("/v1/watch?key=a&progress_notify=true");
    const body = new BodyReader(res);
    expect((await body.event())?.event).toBe("created");
    h.put("b", "1");
    h.hub.tick(1_000);
    const f = await body.event();
    expect(f).toEqual({ event: "progress", id: "2", data: '{"revision":2}' });
    await body.cancel();
  });

  it("ends a slow stream with a typed cancelled event naming the revision to resume from", async () => {
    const h = hubApp({ maxBufferBytes: 2_000 });
    const res = await h.app.request("/v1/watch?key=k");
    const body = new BodyReader(res);
    expect((await body.event())?.event).toBe("created");
    // The client reads nothing while 100 revisions arrive.
    for (let i = 0; i < 100; i++) h.put("k", "v".repeat(200));
    expect(h.hub.watcherCount).toBe(0); // cancelled: the hub holds nothing for it any more
    const ids: number[] = [];
    let f = await body.event();
    while (f?.event === undefined) {
      ids.push(Number(f!.id));
      f = await body.event();
    }
    expect(f.event).toBe("cancelled");
    const data = dataOf(f);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 2));
    expect(data.resume_revision).toBe(ids.length + 2);
    expect(data.reason).toMatch(new RegExp(`resume from revision ${data.resume_revision}$`));
    expect(await body.endsWithin()).toBe(true);
  });

  it("closes the watcher when the client goes away", async () => {
    const h = hubApp();
    const res = await h.app.request("/v1/watch?key=a");
    const body = new BodyReader(res);
    await body.event();
    expect(h.hub.watcherCount).toBe(1);
    await body.cancel();
    await new Promise((r) => setTimeout(r, 10));
    expect(h.hub.watcherCount).toBe(0);
  });
});
