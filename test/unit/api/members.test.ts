/**
 * Runtime membership and move-leader through the API on a real single-member node: /v1 routes
 * (validation, status codes, member JSON) and etcd's gateway /v3/cluster/member/* and
 * /v3/maintenance/transfer-leadership (etcd 3.4.23 shapes, captured from a real etcd).
 * Only learners are added: a second voter that never starts would cost the node its quorum.
 * The tests run in order and share the node.
 */
import type { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type Json, json, post, useApi } from "./helpers.ts";

const api = useApi();

const SELF = "8e9e05c52164694d";
const CLUSTER = "cdf818194e3a8c32";
const SELF_PEER = "https://127.0.0.1:2380";
const dec = (hex: string): string => BigInt(`0x${hex}`).toString();

const self = {
  id: SELF,
  name: "default",
  peer_urls: [SELF_PEER],
  client_urls: ["http://127.0.0.1:2379"],
  is_learner: false,
  started: true,
};

function send(app: Hono, method: string, path: string, body?: unknown): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method,
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      headers: { "content-type": "application/json" },
    }),
  );
}

async function members(app: Hono): Promise<Json> {
  const res = await app.request("/v1/cluster/members");
  expect(res.status).toBe(200);
  return json(res);
}

/** Expects a /v1 error answer with `status` and `code`; returns its message. */
async function expectError(res: Response, status: number, code: string): Promise<string> {
  const body = await json(res);
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe("string");
  return body.error.message;
}

let learner = "";

describe("/v1 membership", () => {
  it("GET /v1/cluster/members marks the started member", async () => {
    expect(await members(api.app)).toEqual({ cluster_id: CLUSTER, members: [self] });
  });

  it("adds a learner: 201 with the member (unstarted, canonical URL) and the list", async () => {
    const res = await post(api.app, "/v1/cluster/members", {
      peer_urls: ["https://127.0.0.1:23811/"],
      is_learner: true,
    });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.member).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{16}$/),
      name: "",
      peer_urls: ["https://127.0.0.1:23811"],
      client_urls: [],
      is_learner: true,
      started: false,
    });
    learner = body.member.id;
    expect(body.cluster_id).toBe(CLUSTER);
    const expected = [self, body.member].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(body.members).toEqual(expected);
    expect((await members(api.app)).members).toEqual(expected);
  });

  it("refuses a peer URL another member uses: 409 member_exists, nothing added", async () => {
    const before = await members(api.app);
    for (const url of [SELF_PEER, "https://127.0.0.1:23811"]) {
      const res = await post(api.app, "/v1/cluster/members", { peer_urls: [url], is_learner: true });
      await expectError(res, 409, "member_exists");
    }
    expect(await members(api.app)).toEqual(before);
  });

  it("refuses bad input with 400 naming the problem, and changes nothing", async () => {
    const before = await members(api.app);
    const bad: [string, unknown, RegExp][] = [
      ["http scheme", { peer_urls: ["http://127.0.0.1:23820"] }, /peer_urls: .*must use https/],
      ["no port", { peer_urls: ["https://127.0.0.1"] }, /peer_urls: .*host and port required/],
      ["listen-only host", { peer_urls: ["https://0.0.0.0:23820"] }, /not reachable/],
      ["path", { peer_urls: ["https://127.0.0.1:23820/x"] }, /https:\/\/host:port/],
      ["not a URL", { peer_urls: ["127.0.0.1:23820"] }, /peer_urls/],
      ["empty list", { peer_urls: [] }, /at least one peer URL/],
      ["twice", { peer_urls: ["https://a:1", "https://A:1/"] }, /listed twice/],
      ["missing field", { is_learner: true }, /peer_urls/],
      ["camelCase field", { peerUrls: ["https://127.0.0.1:23820"] }, /peerUrls/],
      ["wrong type", { peer_urls: ["https://127.0.0.1:23820"], is_learner: "yes" }, /is_learner/],
      ["malformed JSON", '{"peer_urls": [', /not valid JSON/],
      ["empty body", "", /empty/],
    ];
    for (const [what, body, message] of bad) {
      const res = await post(api.app, "/v1/cluster/members", body);
      const text = await expectError(res, 400, "invalid_argument");
      expect(text, what).toMatch(message);
    }
    expect(await members(api.app)).toEqual(before);
  });

  it("updates the learner's peer URLs", async () => {
    const res = await send(api.app, "PUT", `/v1/cluster/members/${learner}`, {
      peer_urls: ["https://LOCALHOST:23812"],
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.cluster_id).toBe(CLUSTER);
    const updated = body.members.find((m: Json) => m.id === learner);
    expect(updated).toMatchObject({
      peer_urls: ["https://localhost:23812"],
      is_learner: true,
      started: false,
    });
    expect((await members(api.app)).members).toEqual(body.members);
  });

  it("update: 409 for a URL in use, 404 for an unknown id, 400 for a bad id or body", async () => {
    const before = await members(api.app);
    await expectError(
      await send(api.app, "PUT", `/v1/cluster/members/${learner}`, { peer_urls: [SELF_PEER] }),
      409,
      "member_exists",
    );
    await expectError(
      await send(api.app, "PUT", "/v1/cluster/members/00000000000000ab", { peer_urls: ["https://h:1"] }),
      404,
      "member_not_found",
    );
    for (const id of ["XYZ", "8E9E05C52164694D", "8e9e05c52164694", dec(SELF), "0000000000000000"]) {
      const res = await send(api.app, "PUT", `/v1/cluster/members/${id}`, { peer_urls: ["https://h:1"] });
      expect(await expectError(res, 400, "invalid_argument")).toMatch(/16 lowercase hex digits/);
    }
    await expectError(
      await send(api.app, "PUT", `/v1/cluster/members/${learner}`, { peer_urls: ["https://h:1"], x: 1 }),
      400,
      "invalid_argument",
    );
    expect(await members(api.app)).toEqual(before);
  });

  it("promote: a voter or a learner not caught up → 409 learner_not_ready; unknown → 404", async () => {
    const voter = await expectError(
      await send(api.app, "POST", `/v1/cluster/members/${SELF}/promote`),
      409,
      "learner_not_ready",
    );
    expect(voter).toMatch(/learner/);
    await expectError(
      await send(api.app, "POST", `/v1/cluster/members/${learner}/promote`),
      409,
      "learner_not_ready",
    );
    await expectError(
      await send(api.app, "POST", "/v1/cluster/members/00000000000000ab/promote"),
      404,
      "member_not_found",
    );
    await expectError(await send(api.app, "POST", "/v1/cluster/members/zz/promote"), 400, "invalid_argument");
    expect((await members(api.app)).members.find((m: Json) => m.id === learner).is_learner).toBe(true);
  });

  it("move-leader: to itself is a no-op; to an unknown member or a learner is refused", async () => {
    const res = await post(api.app, "/v1/cluster/move-leader", { target_id: SELF });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ leader: SELF, previous_leader: SELF });
    await expectError(
      await post(api.app, "/v1/cluster/move-leader", { target_id: "00000000000000ab" }),
      404,
      "member_not_found",
    );
    const toLearner = await post(api.app, "/v1/cluster/move-leader", { target_id: learner });
    expect(toLearner.status).toBe(400);
    expect((await json(toLearner)).error.code).toBe("invalid_argument");
    for (const body of [{ target_id: dec(SELF) }, {}, { target_id: SELF, force: true }, "nope"]) {
      await expectError(await post(api.app, "/v1/cluster/move-leader", body), 400, "invalid_argument");
    }
    expect((await json(await api.app.request("/v1/status"))).leader).toBe(SELF);
  });

  it("removes the learner; removing it again is 404", async () => {
    const res = await send(api.app, "DELETE", `/v1/cluster/members/${learner}`);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ cluster_id: CLUSTER, members: [self] });
    expect(await members(api.app)).toEqual({ cluster_id: CLUSTER, members: [self] });
    await expectError(
      await send(api.app, "DELETE", `/v1/cluster/members/${learner}`),
      404,
      "member_not_found",
    );
    await expectError(
      await send(api.app, "DELETE", "/v1/cluster/members/not-an-id"),
      400,
      "invalid_argument",
    );
  });
});

describe("/v3 etcd gateway", () => {
  let header: Json;
  const selfV3 = {
    ID: dec(SELF),
    name: "default",
    peerURLs: [SELF_PEER],
    clientURLs: ["http://127.0.0.1:2379"],
  };

  /** etcd gateway error: FAILED_PRECONDITION is 400 in Cairn's mapper (etcd 3.4.23 itself answers 412). */
  async function expectV3Error(res: Response, code: number, message: string | RegExp): Promise<void> {
    const body = await json(res);
    expect(body.code).toBe(code);
    expect(body.error).toBe(body.message);
    if (typeof message === "string") expect(body.message).toBe(message);
    else expect(body.message).toMatch(message);
    const status = { 3: [400], 5: [404], 9: [400, 412], 14: [503] }[code as 3 | 5 | 9 | 14];
    expect(status).toContain(res.status);
  }

  it("member/list: header without revision, members with decimal IDs and defaults omitted", async () => {
    for (const body of [{}, ""]) {
      const res = await post(api.app, "/v3/cluster/member/list", body);
      expect(res.status).toBe(200);
      const out = await json(res);
      header = out.header;
      expect(Object.keys(out)).toEqual(["header", "members"]);
      expect(out.header).toEqual({
        cluster_id: dec(CLUSTER),
        member_id: dec(SELF),
        raft_term: expect.stringMatching(/^[1-9][0-9]*$/),
      });
      expect(out.members).toEqual([selfV3]);
    }
  });

  let learnerDec = "";
  it("member/add of a learner: header, member, members", async () => {
    const res = await post(api.app, "/v3/cluster/member/add", {
      peerURLs: ["https://127.0.0.1:23831"],
      isLearner: true,
      unknownField: 1,
    });
    expect(res.status).toBe(200);
    const out = await json(res);
    expect(Object.keys(out)).toEqual(["header", "member", "members"]);
    expect(out.header).toEqual(header);
    expect(out.member).toEqual({
      ID: expect.stringMatching(/^[0-9]+$/),
      peerURLs: ["https://127.0.0.1:23831"],
      isLearner: true,
    });
    learnerDec = out.member.ID;
    const byNumber = (a: Json, b: Json) => (BigInt(a.ID) < BigInt(b.ID) ? -1 : 1);
    expect(out.members).toEqual([selfV3, out.member].sort(byNumber));
    const list = await json(await post(api.app, "/v3/cluster/member/list", {}));
    expect(list.members).toEqual(out.members);
  });

  it("member/add errors: bad URLs (code 3), URL in use (code 9)", async () => {
    const before = await members(api.app);
    for (const body of [
      { peerURLs: ["http://127.0.0.1:23832"] },
      { peerURLs: [] },
      {},
      { peerURLs: ["https://0.0.0.0:1"] },
    ]) {
      await expectV3Error(
        await post(api.app, "/v3/cluster/member/add", body),
        3,
        /^etcdserver: given member URLs are invalid/,
      );
    }
    await expectV3Error(await post(api.app, "/v3/cluster/member/add", { peerURLs: "x" }), 3, /peerURLs/);
    await expectV3Error(await post(api.app, "/v3/cluster/member/add", "{bad"), 3, /not valid JSON/);
    await expectV3Error(
      await post(api.app, "/v3/cluster/member/add", { peerURLs: [SELF_PEER], isLearner: true }),
      9,
      /peerURL exists/,
    );
    expect(await members(api.app)).toEqual(before);
  });

  it("member/update: {header, members} with the new URLs; ID as a decimal string", async () => {
    const res = await post(api.app, "/v3/cluster/member/update", {
      ID: learnerDec,
      peerURLs: ["https://127.0.0.1:23833"],
    });
    expect(res.status).toBe(200);
    const out = await json(res);
    expect(Object.keys(out)).toEqual(["header", "members"]);
    expect(out.members).toContainEqual({
      ID: learnerDec,
      peerURLs: ["https://127.0.0.1:23833"],
      isLearner: true,
    });
    expect(out.members).toContainEqual(selfV3);
  });

  it("bad and unknown IDs: 400 code 3, 404 code 5 'etcdserver: member not found'", async () => {
    const before = await members(api.app);
    for (const path of ["remove", "promote", "update"]) {
      const url = `/v3/cluster/member/${path}`;
      const urls = path === "update" ? { peerURLs: ["https://127.0.0.1:23834"] } : {};
      await expectV3Error(await post(api.app, url, { ID: "abc", ...urls }), 3, /^ID: /);
      await expectV3Error(await post(api.app, url, { ID: "18446744073709551616", ...urls }), 3, /^ID: /);
      const unsafeNumber = `{"ID":13668033151171901709${path === "update" ? ',"peerURLs":["https://127.0.0.1:23834"]' : ""}}`;
      await expectV3Error(await post(api.app, url, unsafeNumber), 3, /2\^53/);
      for (const ID of ["171", 171]) {
        await expectV3Error(await post(api.app, url, { ID, ...urls }), 5, "etcdserver: member not found");
      }
      await expectV3Error(await post(api.app, url, { ...urls }), 5, "etcdserver: member not found");
    }
    expect(await members(api.app)).toEqual(before);
  });

  it("member/promote of a voter or an unready learner: code 9", async () => {
    await expectV3Error(await post(api.app, "/v3/cluster/member/promote", { ID: dec(SELF) }), 9, /learner/);
    await expectV3Error(await post(api.app, "/v3/cluster/member/promote", { ID: learnerDec }), 9, /in sync/);
  });

  it("transfer-leadership: to itself answers {} (as etcd 3.4); unknown member code 5", async () => {
    const res = await post(api.app, "/v3/maintenance/transfer-leadership", { targetID: dec(SELF) });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({});
    await expectV3Error(
      await post(api.app, "/v3/maintenance/transfer-leadership", { targetID: "171" }),
      5,
      "etcdserver: member not found",
    );
    await expectV3Error(
      await post(api.app, "/v3/maintenance/transfer-leadership", { targetID: "x" }),
      3,
      /targetID/,
    );
  });

  it("member/remove: {header, members}; again → code 5", async () => {
    const res = await post(api.app, "/v3/cluster/member/remove", { ID: learnerDec });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ header, members: [selfV3] });
    await expectV3Error(
      await post(api.app, "/v3/cluster/member/remove", { ID: learnerDec }),
      5,
      "etcdserver: member not found",
    );
  });
});
