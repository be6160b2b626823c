/**
 * The member commands against the real API over a real single-member node (served on a loopback
 * port): checks that what the CLI sends and parses matches what the API answers. Only a learner
 * is added (a second voter that never starts would cost the node its quorum).
 */
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import { memoryIo } from "../../../src/cli/io.ts";
import { runCli } from "../../../src/cli/program.ts";
import { startSingleNode } from "../../helpers/single-node.ts";

const SELF = "8e9e05c52164694d";
const CLUSTER = "cdf818194e3a8c32";

let node: Awaited<ReturnType<typeof startSingleNode>>;
let server: ServerType;
let endpoint = "";

beforeAll(async () => {
  node = await startSingleNode();
  const app = createApp({ kv: node.kv, cluster: node.node, maxRequestBytes: 64 * 1024, version: "test" });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) =>
      resolve(info.port),
    );
  });
  endpoint = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await node.stop();
});

async function cli(...args: string[]) {
  const io = memoryIo("", {});
  const code = await runCli(["--endpoints", endpoint, ...args], io);
  return { code, out: io.out(), err: io.err() };
}

describe("member commands on a real node", () => {
  let id = "";

  it("member add --learner prints the lines that start the new member", async () => {
    const r = await cli("member", "add", "n2", "--learner", "--peer-urls", "https://127.0.0.1:23871/");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    const first = /^Member ([0-9a-f]{16}) added as learner to cluster ([0-9a-f]{16})$/.exec(lines[0]!);
    expect(first?.[2]).toBe(CLUSTER);
    id = first![1]!;
    const entries = [`default=https://127.0.0.1:2380`, `n2=https://127.0.0.1:23871`];
    if (id < SELF) entries.reverse();
    expect(lines.slice(1)).toEqual([
      "",
      'CAIRN_NAME="n2"',
      `CAIRN_INITIAL_CLUSTER="${entries.join(",")}"`,
      'CAIRN_INITIAL_ADVERTISE_PEER_URLS="https://127.0.0.1:23871"',
      'CAIRN_INITIAL_CLUSTER_STATE="existing"',
      "",
    ]);
  });

  it("member list shows it unstarted", async () => {
    const r = await cli("member", "list");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${id}, unstarted, , https://127.0.0.1:23871, , true\n`);
    expect(r.out).toContain(
      `${SELF}, started, default, https://127.0.0.1:2380, http://127.0.0.1:2379, false\n`,
    );
  });

  it("member update, promote (refused: not caught up), move-leader, remove", async () => {
    expect(await cli("member", "update", id, "--peer-urls", "https://127.0.0.1:23872")).toEqual({
      code: 0,
      out: `Member ${id} updated in cluster ${CLUSTER}\n`,
      err: "",
    });
    expect((await cli("member", "list")).out).toContain(
      `${id}, unstarted, , https://127.0.0.1:23872, , true\n`,
    );

    const promote = await cli("member", "promote", id);
    expect(promote.code).toBe(1);
    expect(promote.err).toMatch(
      /^Error: etcdserver: can only promote a learner member which is in sync with leader/,
    );

    expect(await cli("move-leader", SELF)).toEqual({
      code: 0,
      out: `Leadership transferred from ${SELF} to ${SELF}\n`,
      err: "",
    });
    const toLearner = await cli("move-leader", id);
    expect(toLearner.code).toBe(1);
    expect(toLearner.err).toMatch(/^Error: .*learner/);

    expect(await cli("member", "remove", id)).toEqual({
      code: 0,
      out: `Member ${id} removed from cluster ${CLUSTER}\n`,
      err: "",
    });
    const again = await cli("member", "remove", id);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/member not found/);
    expect((await cli("member", "list")).out).toBe(
      `${SELF}, started, default, https://127.0.0.1:2380, http://127.0.0.1:2379, false\n`,
    );
  });

  it("a bad peer URL is refused by the server with its reason (exit 1)", async () => {
    const r = await cli("member", "add", "n3", "--peer-urls", "http://127.0.0.1:23873");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^Error: peer_urls: peer URL "http:\/\/127\.0\.0\.1:23873" must use https/);
  });
});
