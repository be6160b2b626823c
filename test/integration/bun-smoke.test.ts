/**
 * Smoke test: `cairn serve` runs under Bun (installed from npm as a devDependency): a single
 * member starts, takes a put and serves the get.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { getKey, putKey, TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create(1, { runtime: "bun" });
  await cluster.startAll();
}, 60_000);

afterAll(async () => {
  await cluster?.destroy();
});

it("a member under Bun takes a put and serves the get", async () => {
  const m = cluster.members[0]!;
  await putKey(m.clientUrl, "bun-key", "from bun");
  expect(await getKey(m.clientUrl, "bun-key")).toBe("from bun");
});
