/**
 * Lease requests on a member that is not the leader (issue 4 §3: "only the leader renews;
 * followers forward"): time-to-live and one-shot keep-alive are forwarded whole (forward.ts), the
 * streaming keep-alives (/v1 and /v3) forward each ping (lease-keepalive.ts). The follower here is
 * an app whose cluster says it does not lead and whose node refuses to serve keep-alive and
 * time-to-live itself; the leader is a real app over a real node on a loopback port.
 */
import type { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import { FORWARDED_HEADER } from "../../../src/api/forward.ts";
import type { ClusterService, KvService } from "../../../src/server/service.ts";
import { BodyReader } from "../../helpers/body-reader.ts";
import { json, leaderFixture, post, TEST_MAX_REQUEST_BYTES } from "./helpers.ts";

const leader = leaderFixture();

/** The follower's view of the node: everything but the leader-only lease calls. */
function followerKv(): KvService {
  const refuse = () => Promise.reject(new Error("a follower served a leader-only lease request"));
  return new Proxy(leader.node.kv, {
    get(target, prop, receiver) {
      if (prop === "leaseKeepAlive" || prop === "leaseTimeToLive") return refuse;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

function follower(leaderUrls: () => string[]): Hono {
  const cluster = {
    isLeader: () => false,
    leaderClientUrls: leaderUrls,
  } as Partial<ClusterService> as ClusterService;
  return createApp({ kv: followerKv(), cluster, maxRequestBytes: TEST_MAX_REQUEST_BYTES, version: "t" });
}

function requestStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return {
    body,
    write: (t: string) => controller.enqueue(new TextEncoder().encode(t)),
    end: () => controller.close(),
  };
}

async function grant(app: Hono, ttl: number): Promise<number> {
  return (await json(await post(app, "/v1/leases", { ttl }))).id;
}

describe("lease requests on a follower", () => {
  it("grant and revoke are served by any member (through Raft); time-to-live and keep-alive are forwarded", async () => {
    const app = follower(() => [leader.url]);
    const id = await grant(app, 30);
    expect(await json(await app.request(`/v1/leases/${id}`))).toMatchObject({ id, granted_ttl: 30 });
    expect(await json(await app.request(`/v1/leases/${id}/keepalive`, { method: "POST" }))).toEqual({
      id,
      ttl: 30,
    });
    const ttl = await json(await post(app, "/v3/lease/timetolive", { ID: id }));
    expect(ttl).toMatchObject({ ID: String(id), grantedTTL: "30" });
    expect(await json(await post(app, "/v3/lease/timetolive", { ID: 1 }))).toMatchObject({ TTL: "-1" });
    expect((await app.request(`/v1/leases/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await app.request(`/v1/leases/${id}`)).status).toBe(404);
  });

  it("the /v1 streaming keep-alive forwards every ping to the leader", async () => {
    const app = follower(() => [leader.url]);
    const id = await grant(app, 12);
    const req = requestStream();
    const res = await app.request(`/v1/leases/${id}/keepalive?stream=true`, {
      method: "POST",
      body: req.body,
      duplex: "half",
    } as RequestInit);
    const out = new BodyReader(res);
    req.write("\n\n");
    expect(await out.line()).toEqual({ id, ttl: 12 });
    expect(await out.line()).toEqual({ id, ttl: 12 });
    await leader.app.request(`/v1/leases/${id}`, { method: "DELETE" });
    req.write("\n");
    expect((await out.line()).error.code).toBe("lease_not_found");
    expect(await out.endsWithin()).toBe(true);
  });

  it("the /v3 streaming keep-alive forwards every request and answers with the follower's header", async () => {
    const app = follower(() => [leader.url]);
    const id = await grant(app, 14);
    const res = await app.request("/v3/lease/keepalive", {
      method: "POST",
      body: `{"ID":${id}}{"ID":99}`,
    });
    const out = new BodyReader(res);
    expect((await out.line()).result).toMatchObject({ ID: String(id), TTL: "14" });
    expect((await out.line()).result).toEqual({ header: expect.any(Object), ID: "99" });
    expect(await out.endsWithin()).toBe(true);
  });

  it("without a known leader a streamed ping gets a retryable error line and the stream goes on", async () => {
    let urls: string[] = [];
    const app = follower(() => urls);
    const id = await grant(app, 16);
    const req = requestStream();
    const res = await app.request(`/v1/leases/${id}/keepalive?stream=true`, {
      method: "POST",
      body: req.body,
      duplex: "half",
    } as RequestInit);
    const out = new BodyReader(res);
    req.write("\n");
    expect((await out.line()).error.code).toBe("no_leader");
    urls = [leader.url];
    req.write("\n");
    expect(await out.line()).toEqual({ id, ttl: 16 });
    req.end();
    expect(await out.endsWithin()).toBe(true);
  });

  it("a request forwarded once is not forwarded again (503 leader_changed)", async () => {
    const app = follower(() => [leader.url]);
    const res = await app.request("/v1/leases/5/keepalive", {
      method: "POST",
      headers: { [FORWARDED_HEADER]: "1" },
    });
    expect(res.status).toBe(503);
    expect((await json(res)).error.code).toBe("leader_changed");
  });
});
