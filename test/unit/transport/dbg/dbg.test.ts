import { it, expect } from "vitest";
import { MessageType } from "../../../../src/raft/types.ts";
import { startMember, connectAll } from "../cluster.ts";
import { clusterTls, entry, message, waitFor, captureLogger, tcpProxy, ID_A, ID_B, ID_C } from "../helpers.ts";
const hb = (from, to, term) => message({ type: MessageType.Heartbeat, from, to, term });
it("dbg", async () => {
  const tls = (await clusterTls(3)).members;
  const lines: Record<string, unknown>[] = [];
    const a = await startMember(ID_A, tls[0]!, { maxQueueMessages: 100, pingIntervalMs: 100, dialTimeoutMs: 300 , logger: captureLogger(lines) });
    const b = await startMember(ID_B, tls[1]!);
    const c = await startMember(ID_C, tls[2]!);
    const proxy = await tcpProxy(Number(new URL(b.transport.listenPeerUrl()).port));
    a.transport.setPeers(
      new Map([
        [ID_B, [`https://127.0.0.1:${proxy.port}`]],
        [ID_C, [c.transport.listenPeerUrl()]],
      ]),
    );
    a.transport.send([hb(ID_A, ID_B, 0), hb(ID_A, ID_C, 0)]);
    await waitFor(() => b.received.length === 1 && c.received.length === 1, "first heartbeats");
    console.log("frozen");
    proxy.freeze();
    const big = (i: number) =>
      message({ type: MessageType.App, from: ID_A, to: ID_B, index: i, entries: [entry(i, 64 * 1024)] });
  try {
    for (let round = 1; round <= 20; round++) {
      a.transport.send([...Array.from({length: 20}, (_, i) => big(round * 20 + i)), hb(ID_A, ID_C, round)]);
      await waitFor(() => c.received.length === round + 1, `round ${round} at the live peer`, 3000);
    }
    await waitFor(() => a.unreachable.includes(ID_B), "frozen peer reported unreachable", 3000);
  } finally {
  console.log(c.received.length, a.unreachable, a.transport.peerStats(), lines.map(l => JSON.stringify(l)).join("\n"));
  }
  console.log("stopping");
  await a.transport.stop(); console.log("a stopped"); await b.transport.stop(); console.log("b stopped"); await c.transport.stop();
  console.log("c stopped");
  await proxy.close();
  console.log("proxy closed");
});
