/**
 * `cairn member add|remove|update|promote|list` and `cairn move-leader` against a recording
 * local server with fixed /v1 answers: the requests sent, etcdctl's output lines, and exits.
 */
import { afterEach, describe, expect, it } from "vitest";
import { memoryIo } from "../../../src/cli/io.ts";
import { runCli } from "../../../src/cli/program.ts";
import { type Answer, errorAnswer, type LocalServer, type SeenRequest, startServer } from "./local-server.ts";

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(handler: (req: SeenRequest) => Answer): Promise<LocalServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

async function cli(args: string[], endpoints?: string) {
  const io = memoryIo("", {});
  const code = await runCli(endpoints === undefined ? args : ["--endpoints", endpoints, ...args], io);
  return { code, out: io.out(), err: io.err() };
}

const CLUSTER = "cdf818194e3a8c32";
const N1 = {
  id: "8e9e05c52164694d",
  name: "n1",
  peer_urls: ["https://10.0.0.1:2380", "https://10.1.0.1:2380"],
  client_urls: ["http://10.0.0.1:2379"],
  is_learner: false,
  started: true,
};
const UNSTARTED = {
  id: "1111111111111111",
  name: "",
  peer_urls: ["https://10.0.0.9:2380"],
  client_urls: [],
  is_learner: true,
  started: false,
};
const NEW = {
  id: "91bc3c398fb3c146",
  name: "",
  peer_urls: ["https://10.0.0.2:2380"],
  client_urls: [],
  is_learner: false,
  started: false,
};

const bodyOf = (req: SeenRequest): unknown => JSON.parse(req.body.toString());

describe("member add", () => {
  it("posts the peer URLs and prints etcdctl's lines with CAIRN_ settings", async () => {
    const s = await server(() => ({
      status: 201,
      json: { cluster_id: CLUSTER, member: NEW, members: [UNSTARTED, N1, NEW] },
    }));
    const r = await cli(["member", "add", "n2", "--peer-urls", "https://10.0.0.2:2380"], s.url);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `Member 91bc3c398fb3c146 added to cluster ${CLUSTER}\n` +
        "\n" +
        'CAIRN_NAME="n2"\n' +
        'CAIRN_INITIAL_CLUSTER="=https://10.0.0.9:2380,n1=https://10.0.0.1:2380,n1=https://10.1.0.1:2380,n2=https://10.0.0.2:2380"\n' +
        'CAIRN_INITIAL_ADVERTISE_PEER_URLS="https://10.0.0.2:2380"\n' +
        'CAIRN_INITIAL_CLUSTER_STATE="existing"\n',
    );
    const req = s.requests[0]!;
    expect(`${req.method} ${req.url}`).toBe("POST /v1/cluster/members");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(bodyOf(req)).toEqual({ peer_urls: ["https://10.0.0.2:2380"], is_learner: false });
  });

  it("--learner: asks for a learner and says 'added as learner'; the advertised URLs are the server's canonical ones", async () => {
    const learner = { ...NEW, is_learner: true, peer_urls: ["https://a:1", "https://b:2"] };
    const s = await server(() => ({
      status: 201,
      json: { cluster_id: CLUSTER, member: learner, members: [N1, learner] },
    }));
    const r = await cli(
      ["member", "add", "n3", "--learner", "--peer-urls", " https://A:1/ , https://b:2 "],
      s.url,
    );
    expect(r.code).toBe(0);
    expect(r.out.split("\n").slice(0, 5)).toEqual([
      `Member 91bc3c398fb3c146 added as learner to cluster ${CLUSTER}`,
      "",
      'CAIRN_NAME="n3"',
      'CAIRN_INITIAL_CLUSTER="n1=https://10.0.0.1:2380,n1=https://10.1.0.1:2380,n3=https://a:1,n3=https://b:2"',
      'CAIRN_INITIAL_ADVERTISE_PEER_URLS="https://a:1,https://b:2"',
    ]);
    expect(bodyOf(s.requests[0]!)).toEqual({ peer_urls: ["https://A:1/", "https://b:2"], is_learner: true });
  });

  it("-w json prints the API's answer", async () => {
    const answer = { cluster_id: CLUSTER, member: NEW, members: [N1, NEW] };
    const s = await server(() => ({ status: 201, json: answer }));
    const r = await cli(["-w", "json", "member", "add", "n2", "--peer-urls", "https://10.0.0.2:2380"], s.url);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(answer);
  });

  it("usage errors exit 2 without a request", async () => {
    const s = await server(() => ({ status: 500 }));
    const cases: [string[], RegExp][] = [
      [["member", "add", "n2"], /^Error: member peer urls not provided\n$/],
      [["member", "add", "n2", "--peer-urls", " , "], /^Error: member peer urls not provided\n$/],
      [["member", "add", "--peer-urls", "https://h:1"], /missing required argument 'name'/],
      [["member", "add", "a,b", "--peer-urls", "https://h:1"], /must not contain ','/],
      [["member", "add", "a=b", "--peer-urls", "https://h:1"], /must not contain/],
      [
        ["-w", "table", "member", "add", "n2", "--peer-urls", "https://h:1"],
        /member add supports simple, json/,
      ],
    ];
    for (const [args, err] of cases) {
      const r = await cli(args, s.url);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(err);
      expect(r.out).toBe("");
    }
    expect(s.requests).toHaveLength(0);
  });

  it("a refused change prints the server's message and exits 1", async () => {
    const s = await server(() =>
      errorAnswer(409, "member_exists", "etcdserver: peerURL exists: https://10.0.0.1:2380 is already used"),
    );
    const r = await cli(["member", "add", "n2", "--peer-urls", "https://10.0.0.1:2380"], s.url);
    expect(r).toEqual({
      code: 1,
      out: "",
      err: "Error: etcdserver: peerURL exists: https://10.0.0.1:2380 is already used\n",
    });
    expect(s.requests).toHaveLength(1);
  });

  it("moves to the next endpoint when the first has no leader (the change was not proposed)", async () => {
    const first = await server(() => errorAnswer(503, "no_leader", "no leader"));
    const second = await server(() => ({
      status: 201,
      json: { cluster_id: CLUSTER, member: NEW, members: [N1, NEW] },
    }));
    const r = await cli(
      ["member", "add", "n2", "--peer-urls", "https://10.0.0.2:2380"],
      `${first.url},${second.url}`,
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Member 91bc3c398fb3c146 added to cluster/);
    expect(first.requests).toHaveLength(1);
    expect(second.requests).toHaveLength(1);
  });
});

describe("member remove, update, promote", () => {
  const after = { cluster_id: CLUSTER, members: [N1] };

  it("remove: DELETE and etcdctl's line; ids in any case, leading zeros optional", async () => {
    const s = await server(() => ({ status: 200, json: after }));
    expect(await cli(["member", "remove", "91bc3c398fb3c146"], s.url)).toEqual({
      code: 0,
      out: `Member 91bc3c398fb3c146 removed from cluster ${CLUSTER}\n`,
      err: "",
    });
    expect((await cli(["member", "remove", "ABC"], s.url)).out).toBe(
      `Member 0000000000000abc removed from cluster ${CLUSTER}\n`,
    );
    expect(s.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "DELETE /v1/cluster/members/91bc3c398fb3c146",
      "DELETE /v1/cluster/members/0000000000000abc",
    ]);
  });

  it("update: PUT with the new peer URLs", async () => {
    const s = await server(() => ({ status: 200, json: after }));
    const r = await cli(
      ["member", "update", "8e9e05c52164694d", "--peer-urls", "https://10.0.0.5:2380,https://10.1.0.5:2380"],
      s.url,
    );
    expect(r).toEqual({ code: 0, out: `Member 8e9e05c52164694d updated in cluster ${CLUSTER}\n`, err: "" });
    const req = s.requests[0]!;
    expect(`${req.method} ${req.url}`).toBe("PUT /v1/cluster/members/8e9e05c52164694d");
    expect(bodyOf(req)).toEqual({ peer_urls: ["https://10.0.0.5:2380", "https://10.1.0.5:2380"] });
  });

  it("promote: POST .../promote", async () => {
    const s = await server(() => ({ status: 200, json: after }));
    const r = await cli(["member", "promote", "1111111111111111"], s.url);
    expect(r).toEqual({ code: 0, out: `Member 1111111111111111 promoted in cluster ${CLUSTER}\n`, err: "" });
    expect(`${s.requests[0]!.method} ${s.requests[0]!.url}`).toBe(
      "POST /v1/cluster/members/1111111111111111/promote",
    );
  });

  it("-w json prints the member list after the change", async () => {
    const s = await server(() => ({ status: 200, json: after }));
    const r = await cli(["-w", "json", "member", "remove", "91bc3c398fb3c146"], s.url);
    expect(JSON.parse(r.out)).toEqual(after);
  });

  it("server errors exit 1 with the message; bad ids and missing flags exit 2 without a request", async () => {
    const s = await server((req) =>
      req.url.endsWith("/promote")
        ? errorAnswer(
            409,
            "learner_not_ready",
            "etcdserver: can only promote a learner member which is in sync with leader",
          )
        : errorAnswer(404, "member_not_found", "etcdserver: member not found: 00000000000000ab"),
    );
    expect(await cli(["member", "promote", "1111111111111111"], s.url)).toEqual({
      code: 1,
      out: "",
      err: "Error: etcdserver: can only promote a learner member which is in sync with leader\n",
    });
    expect(await cli(["member", "remove", "ab"], s.url)).toEqual({
      code: 1,
      out: "",
      err: "Error: etcdserver: member not found: 00000000000000ab\n",
    });
    expect(s.requests).toHaveLength(2);
    const usage: [string[], RegExp][] = [
      [["member", "remove", "zz"], /bad member ID arg 'zz', expecting ID in Hex/],
      [["member", "remove", "0"], /bad member ID arg/],
      [["member", "remove", "12345678901234567"], /bad member ID arg/],
      [["member", "promote"], /missing required argument 'id'/],
      [["member", "update", "8e9e05c52164694d"], /member peer urls not provided/],
    ];
    for (const [args, err] of usage) {
      const r = await cli(args, s.url);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(err);
    }
    expect(s.requests).toHaveLength(2);
  });
});

describe("member list STATUS", () => {
  const list = {
    cluster_id: CLUSTER,
    members: [
      N1,
      UNSTARTED,
      // `started` wins over the name when the server reports it.
      { ...NEW, name: "n2", started: false },
      // An older server without `started`: a name means started (etcdctl's rule).
      { id: "2222222222222222", name: "n4", peer_urls: ["https://d:1"], client_urls: [], is_learner: false },
    ],
  };

  it("simple: started / unstarted after the id", async () => {
    const s = await server(() => ({ status: 200, json: list }));
    expect((await cli(["member", "list"], s.url)).out).toBe(
      "8e9e05c52164694d, started, n1, https://10.0.0.1:2380,https://10.1.0.1:2380, http://10.0.0.1:2379, false\n" +
        "1111111111111111, unstarted, , https://10.0.0.9:2380, , true\n" +
        "91bc3c398fb3c146, unstarted, n2, https://10.0.0.2:2380, , false\n" +
        "2222222222222222, started, n4, https://d:1, , false\n",
    );
  });

  it("table: etcdctl 3.4's columns with STATUS", async () => {
    const s = await server(() => ({ status: 200, json: list }));
    const lines = (await cli(["-w", "table", "member", "list"], s.url)).out.trimEnd().split("\n");
    expect(lines[1]).toMatch(
      /^\|\s+ID\s+\|\s+STATUS\s+\|\s+NAME\s+\|\s+PEER ADDRS\s+\|\s+CLIENT ADDRS\s+\|\s+IS LEARNER\s+\|$/,
    );
    expect(lines[4]).toMatch(/^\| 1111111111111111 \| unstarted \|\s+\|\s+https:\/\/10\.0\.0\.9:2380 \|/);
    expect(lines[3]).toMatch(/^\| 8e9e05c52164694d \| {3}started \|/);
  });
});

describe("move-leader", () => {
  it("posts the target and prints etcdctl's line", async () => {
    const s = await server(() => ({
      status: 200,
      json: { leader: "91bc3c398fb3c146", previous_leader: "8e9e05c52164694d" },
    }));
    expect(await cli(["move-leader", "91BC3C398FB3C146"], s.url)).toEqual({
      code: 0,
      out: "Leadership transferred from 8e9e05c52164694d to 91bc3c398fb3c146\n",
      err: "",
    });
    const req = s.requests[0]!;
    expect(`${req.method} ${req.url}`).toBe("POST /v1/cluster/move-leader");
    expect(bodyOf(req)).toEqual({ target_id: "91bc3c398fb3c146" });
  });

  it("errors: refused target exits 1, timeout exits 1, bad or missing id exits 2", async () => {
    const s = await server((req) =>
      bodyOf(req) && (bodyOf(req) as { target_id: string }).target_id === "00000000000000ab"
        ? errorAnswer(404, "member_not_found", "etcdserver: member not found: 00000000000000ab")
        : errorAnswer(503, "timeout", "etcdserver: request timed out, leader transfer took too long"),
    );
    expect(await cli(["move-leader", "ab"], s.url)).toEqual({
      code: 1,
      out: "",
      err: "Error: etcdserver: member not found: 00000000000000ab\n",
    });
    const timedOut = await cli(["move-leader", "91bc3c398fb3c146"], s.url);
    expect(timedOut.code).toBe(1);
    expect(timedOut.err).toBe("Error: etcdserver: request timed out, leader transfer took too long\n");
    // A write that timed out is not retried elsewhere: one request per command.
    expect(s.requests).toHaveLength(2);
    expect((await cli(["move-leader"], s.url)).code).toBe(2);
    const bad = await cli(["move-leader", "leader"], s.url);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/bad member ID arg 'leader'/);
    expect(s.requests).toHaveLength(2);
  });
});
