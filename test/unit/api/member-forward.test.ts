/**
 * Leader forwarding of membership changes and move-leader (src/api/forward.ts): an app whose
 * cluster.isLeader() is false sends the request to the leader's client URL and answers with the
 * leader's answer. The "leader" is either a real app over a real single-member node, served on a
 * loopback port, or a recording HTTP server that shows exactly what was forwarded.
 */
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import type { ApiDeps } from "../../../src/api/deps.ts";
import { errorResponse } from "../../../src/api/errors.ts";
import { FORWARDED_HEADER, onLeader } from "../../../src/api/forward.ts";
import type { ClusterService } from "../../../src/server/service.ts";
import {
  type Answer,
  closedPortUrl,
  type LocalServer,
  type SeenRequest,
  startServer,
} from "../cli/local-server.ts";
import { json, leaderFixture, post, TEST_MAX_REQUEST_BYTES } from "./helpers.ts";

const SELF = "8e9e05c52164694d";

const leader = leaderFixture();

const recorders: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(recorders.splice(0).map((s) => s.close()));
});

async function recorder(handler: (req: SeenRequest) => Answer): Promise<LocalServer> {
  const s = await startServer(handler);
  recorders.push(s);
  return s;
}

/** A ClusterService of a member that is not the leader: it must never run a change itself. */
function followerCluster(leaderUrls: () => string[]): ClusterService {
  const refuse = () =>
    Promise.reject(new Error("a follower ran a membership change instead of forwarding it"));
  return {
    isLeader: () => false,
    leaderClientUrls: leaderUrls,
    memberAdd: refuse,
    memberRemove: refuse,
    memberUpdate: refuse,
    memberPromote: refuse,
    moveLeader: refuse,
  };
}

function followerDeps(leaderUrls: () => string[]): ApiDeps {
  return {
    kv: leader.node.kv,
    cluster: followerCluster(leaderUrls),
    maxRequestBytes: TEST_MAX_REQUEST_BYTES,
    version: "test",
  };
}

function follower(leaderUrls: () => string[]): Hono {
  return createApp(followerDeps(leaderUrls));
}

describe("forwarding to a real leader", () => {
  it("adds, updates and removes a learner through a follower (/v1)", async () => {
    const app = follower(() => [leader.url]);
    const added = await post(app, "/v1/cluster/members", {
      peer_urls: ["https://127.0.0.1:23851"],
      is_learner: true,
    });
    expect(added.status).toBe(201);
    const body = await json(added);
    expect(body.member).toMatchObject({
      peer_urls: ["https://127.0.0.1:23851"],
      is_learner: true,
      started: false,
    });
    const id = body.member.id as string;
    const onLeader = await json(await leader.app.request("/v1/cluster/members"));
    expect(onLeader.members.map((m: { id: string }) => m.id)).toContain(id);

    const updated = await app.request(`/v1/cluster/members/${id}`, {
      method: "PUT",
      body: JSON.stringify({ peer_urls: ["https://127.0.0.1:23852"] }),
      headers: { "content-type": "application/json" },
    });
    expect(updated.status).toBe(200);
    expect((await json(updated)).members).toContainEqual(
      expect.objectContaining({ id, peer_urls: ["https://127.0.0.1:23852"] }),
    );

    const removed = await app.request(`/v1/cluster/members/${id}`, { method: "DELETE" });
    expect(removed.status).toBe(200);
    expect((await json(removed)).members.map((m: { id: string }) => m.id)).toEqual([SELF]);
  });

  it("returns the leader's errors as they are, on /v1 and /v3", async () => {
    const app = follower(() => [leader.url]);
    const bad = await post(app, "/v1/cluster/members", { peer_urls: ["http://x:1"] });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toMatchObject({ code: "invalid_argument" });
    const promote = await post(app, `/v1/cluster/members/${SELF}/promote`, {});
    expect(promote.status).toBe(409);
    expect((await json(promote)).error.code).toBe("learner_not_ready");
    const v3 = await post(app, "/v3/cluster/member/remove", { ID: "171" });
    expect(v3.status).toBe(404);
    expect(await json(v3)).toEqual({
      error: "etcdserver: member not found",
      code: 5,
      message: "etcdserver: member not found",
    });
  });

  it("forwards /v3 member/add and transfer-leadership, and move-leader on /v1", async () => {
    const app = follower(() => [leader.url]);
    const added = await post(app, "/v3/cluster/member/add", {
      peerURLs: ["https://127.0.0.1:23853"],
      isLearner: true,
    });
    expect(added.status).toBe(200);
    const out = await json(added);
    expect(out.member).toEqual({
      ID: expect.any(String),
      peerURLs: ["https://127.0.0.1:23853"],
      isLearner: true,
    });
    const removed = await post(app, "/v3/cluster/member/remove", { ID: out.member.ID });
    expect(removed.status).toBe(200);

    const tl = await post(app, "/v3/maintenance/transfer-leadership", {
      targetID: BigInt(`0x${SELF}`).toString(),
    });
    expect(tl.status).toBe(200);
    expect(await json(tl)).toEqual({});
    const ml = await post(app, "/v1/cluster/move-leader", { target_id: SELF });
    expect(ml.status).toBe(200);
    expect(await json(ml)).toEqual({ leader: SELF, previous_leader: SELF });
  });

  it("the leader serves a request that carries the forwarded header", async () => {
    const res = await leader.app.request(`/v1/cluster/members/${SELF}/promote`, {
      method: "POST",
      headers: { [FORWARDED_HEADER]: "1" },
    });
    expect(res.status).toBe(409);
    expect((await json(res)).error.code).toBe("learner_not_ready");
  });
});

describe("what is forwarded", () => {
  it("sends method, path with query, body and content type, marked as forwarded; answers with the leader's answer", async () => {
    const leader = await recorder(() => ({
      status: 207,
      body: '{"from":"leader"}',
      headers: { "content-type": "application/json; charset=utf-8", "x-extra": "kept", "retry-after": "3" },
    }));
    const app = follower(() => [leader.url]);
    const body = '{"peer_urls":["https://127.0.0.1:23860"],  "is_learner":true}';
    const res = await app.request("/v1/cluster/members?x=1&y=%2F", {
      method: "POST",
      body,
      headers: { "content-type": "text/plain", "x-not-forwarded": "1" },
    });
    expect(res.status).toBe(207);
    expect(await res.text()).toBe('{"from":"leader"}');
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("x-extra")).toBe("kept");
    expect(res.headers.get("retry-after")).toBe("3");
    expect(leader.requests).toHaveLength(1);
    const seen = leader.requests[0]!;
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/v1/cluster/members?x=1&y=%2F");
    expect(seen.body.toString()).toBe(body);
    expect(seen.headers["content-type"]).toBe("text/plain");
    expect(seen.headers[FORWARDED_HEADER]).toBe("1");
    expect(seen.headers["x-not-forwarded"]).toBeUndefined();
  });

  it("forwards DELETE without a body, and every membership route", async () => {
    const leader = await recorder(() => ({ status: 200, json: { ok: true } }));
    const app = follower(() => [leader.url]);
    const routes: [string, string][] = [
      ["DELETE", `/v1/cluster/members/${SELF}`],
      ["PUT", `/v1/cluster/members/${SELF}`],
      ["POST", `/v1/cluster/members/${SELF}/promote`],
      ["POST", "/v1/cluster/move-leader"],
      ["POST", "/v3/cluster/member/add"],
      ["POST", "/v3/cluster/member/remove"],
      ["POST", "/v3/cluster/member/update"],
      ["POST", "/v3/cluster/member/promote"],
      ["POST", "/v3/maintenance/transfer-leadership"],
    ];
    for (const [method, path] of routes) {
      const res = await app.request(path, { method, ...(method === "DELETE" ? {} : { body: "{}" }) });
      expect(res.status, `${method} ${path}`).toBe(200);
    }
    expect(leader.requests.map((r) => `${r.method} ${r.url}`)).toEqual(routes.map(([m, p]) => `${m} ${p}`));
    expect(leader.requests[0]!.body.length).toBe(0);
  });

  it("serves reads (member lists) locally", async () => {
    const leader = await recorder(() => ({ status: 500 }));
    const app = follower(() => [leader.url]);
    expect((await app.request("/v1/cluster/members")).status).toBe(200);
    expect((await post(app, "/v3/cluster/member/list", {})).status).toBe(200);
    expect(leader.requests).toHaveLength(0);
  });
});

describe("when forwarding is not possible", () => {
  it("never forwards a forwarded request: 503 leader_changed (no loops)", async () => {
    const leader = await recorder(() => ({ status: 200, json: {} }));
    const app = follower(() => [leader.url]);
    const res = await app.request("/v1/cluster/members", {
      method: "POST",
      body: JSON.stringify({ peer_urls: ["https://127.0.0.1:23861"] }),
      headers: { "content-type": "application/json", [FORWARDED_HEADER]: "1" },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await json(res)).error.code).toBe("leader_changed");
    expect(leader.requests).toHaveLength(0);

    // Two followers that each think the other leads: the request stops after one hop.
    let bUrl = "";
    const a = follower(() => [bUrl]);
    const aServer = await new Promise<{ server: ServerType; url: string }>((resolve) => {
      const server = serve({ fetch: a.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) =>
        resolve({ server, url: `http://127.0.0.1:${info.port}` }),
      );
    });
    const b = follower(() => [aServer.url]);
    const bServer = await new Promise<{ server: ServerType; url: string }>((resolve) => {
      const server = serve({ fetch: b.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) =>
        resolve({ server, url: `http://127.0.0.1:${info.port}` }),
      );
    });
    bUrl = bServer.url;
    try {
      const looped = await post(a, "/v1/cluster/move-leader", { target_id: SELF });
      expect(looped.status).toBe(503);
      expect((await json(looped)).error.code).toBe("leader_changed");
    } finally {
      await new Promise<void>((r) => aServer.server.close(() => r()));
      await new Promise<void>((r) => bServer.server.close(() => r()));
    }
  });

  it("no leader known: 503 no_leader on /v1, etcd's shape on /v3", async () => {
    const app = follower(() => []);
    const v1 = await post(app, "/v1/cluster/move-leader", { target_id: SELF });
    expect(v1.status).toBe(503);
    expect(v1.headers.get("retry-after")).toBe("1");
    expect((await json(v1)).error.code).toBe("no_leader");
    const v3 = await post(app, "/v3/cluster/member/add", { peerURLs: ["https://127.0.0.1:23862"] });
    expect(v3.status).toBe(503);
    expect(await json(v3)).toEqual({
      error: "etcdserver: no leader",
      code: 14,
      message: "etcdserver: no leader",
    });
  });

  it("tries the leader's next client URL when one refuses connections; none answering is no_leader", async () => {
    const closed = await closedPortUrl();
    const leader = await recorder(() => ({ status: 200, json: { via: "second" } }));
    const ok = await post(
      follower(() => [closed, leader.url]),
      "/v1/cluster/move-leader",
      { target_id: SELF },
    );
    expect(ok.status).toBe(200);
    expect(await json(ok)).toEqual({ via: "second" });

    const none = await post(
      follower(() => [closed]),
      "/v1/cluster/move-leader",
      { target_id: SELF },
    );
    expect(none.status).toBe(503);
    const err = (await json(none)).error;
    expect(err.code).toBe("no_leader");
    expect(err.message).toContain(closed);
  });

  it("a leader that does not answer in time: 503 timeout (the change may have applied)", async () => {
    const leader = await recorder(() => "hang");
    const deps = followerDeps(() => [leader.url]);
    const app = new Hono();
    app.post(
      "/v1/cluster/move-leader",
      onLeader(deps, () => Promise.reject(new Error("not here")), { timeoutMs: 150 }),
    );
    app.onError((err, c) => errorResponse(err, c));
    const res = await post(app, "/v1/cluster/move-leader", { target_id: SELF });
    expect(res.status).toBe(503);
    const err = (await json(res)).error;
    expect(err.code).toBe("timeout");
    expect(err.message).toMatch(/within 150ms; it may or may not have been applied/);
  });

  it("a body over --max-request-bytes is refused before forwarding (413)", async () => {
    const leader = await recorder(() => ({ status: 200, json: {} }));
    const app = follower(() => [leader.url]);
    const res = await post(
      app,
      "/v1/cluster/members",
      `{"peer_urls":["${"a".repeat(TEST_MAX_REQUEST_BYTES)}"]}`,
    );
    expect(res.status).toBe(413);
    expect(leader.requests).toHaveLength(0);
  });
});
