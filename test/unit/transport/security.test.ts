import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessageType } from "../../../src/raft/types.ts";
import { type CertificateAndKey, generateCa, issueCertificate } from "../../../src/tls/certs.ts";
import { encodeMessages } from "../../../src/transport/codec.ts";
import { MAX_SNAPSHOT_MESSAGE_BYTES, MAX_STREAM_FRAME_BYTES } from "../../../src/transport/limits.ts";
import type { PeerTlsConfig } from "../../../src/transport/types.ts";
import { encodeFrame } from "../../../src/util/framing.ts";
import { startMember, type TestMember } from "./cluster.ts";
import { captureLogger, clusterTls, freePort, ID_A, ID_B, ID_C, message, sleep, waitFor } from "./helpers.ts";
import { type RawTls, rawRequest } from "./raw-client.ts";

let tls: PeerTlsConfig[];
let foreignCa: CertificateAndKey;
let foreignTls: PeerTlsConfig;
let b: TestMember;
const logLines: Record<string, unknown>[] = [];
let url: string;

beforeAll(async () => {
  tls = (await clusterTls(2)).members;
  foreignCa = await generateCa({ commonName: "other-ca" });
  const foreignCert = await issueCertificate(foreignCa, {
    commonName: "intruder",
    ipAddresses: ["127.0.0.1"],
    usages: ["server", "client"],
  });
  foreignTls = { certPem: foreignCert.certPem, keyPem: foreignCert.keyPem, caPem: foreignCa.certPem };
  b = await startMember(ID_B, tls[1]!, { logger: captureLogger(logLines) });
  url = b.transport.listenPeerUrl();
});

afterAll(async () => {
  await b?.transport.stop();
});

const member = (t: PeerTlsConfig): RawTls => ({ ca: t.caPem, cert: t.certPem, key: t.keyPem });
const raftHeaders = (clusterId = "cluster-1") => ({
  "x-cairn-cluster-id": clusterId,
  "x-cairn-member-id": ID_A,
});
const frameOf = (messages: Parameters<typeof encodeMessages>[0]) => encodeFrame(encodeMessages(messages));
const hb = (term: number, to = ID_B) => message({ type: MessageType.Heartbeat, from: ID_A, to, term });

describe("peer listener security", () => {
  it("answers a member holding a certificate of the cluster CA", async () => {
    const out = await rawRequest(url, member(tls[0]!), { method: "GET", path: "/cairn/cluster" });
    expect(out.status).toBe(200);
    expect(JSON.parse(out.body)).toStrictEqual({ clusterId: "cluster-1", memberId: ID_B, members: [] });
  });

  it("refuses a client without a certificate", async () => {
    const out = await rawRequest(url, { ca: tls[0]!.caPem }, { method: "GET", path: "/cairn/cluster" });
    expect(out.status).toBeUndefined();
    expect(out.error).toBeDefined();
  });

  it("refuses a client whose certificate another CA signed", async () => {
    const out = await rawRequest(
      url,
      { ca: tls[0]!.caPem, cert: foreignTls.certPem, key: foreignTls.keyPem },
      { method: "GET", path: "/cairn/cluster" },
    );
    expect(out.status).toBeUndefined();
    expect(out.error).toBeDefined();
    await waitFor(
      () => logLines.some((l) => l.msg === "peer refused at the TLS handshake"),
      "handshake refusal log",
    );
  });

  it("refuses a request of another cluster with 412, logs it, and delivers nothing", async () => {
    const before = b.received.length;
    const out = await rawRequest(url, member(tls[0]!), {
      method: "POST",
      path: "/cairn/raft/stream",
      headers: raftHeaders("cluster-2"),
      body: frameOf([hb(1)]),
    });
    expect(out.status).toBe(412);
    expect(out.body).toContain("request cluster ID mismatch");
    expect(
      logLines.some(
        (l) =>
          l.msg === "request cluster ID mismatch" &&
          l.remoteClusterId === "cluster-2" &&
          l.remoteMemberId === ID_A,
      ),
    ).toBe(true);
    await sleep(50);
    expect(b.received.length).toBe(before);
  });

  it("refuses a request without a cluster id with 412", async () => {
    const out = await rawRequest(url, member(tls[0]!), {
      method: "POST",
      path: "/cairn/raft/snapshot",
      headers: { "x-cairn-member-id": ID_A },
      body: frameOf([hb(1)]),
    });
    expect(out.status).toBe(412);
  });

  it("delivers the frames of a stream request in order, split or batched", async () => {
    const before = b.received.length;
    const body = Buffer.concat([frameOf([hb(1), hb(2)]), frameOf([hb(3)]), frameOf([])]);
    const out = await rawRequest(url, member(tls[0]!), {
      method: "POST",
      path: "/cairn/raft/stream",
      headers: raftHeaders(),
      body,
    });
    expect(out.status).toBe(200);
    expect(b.received.slice(before).map((m) => m.term)).toStrictEqual([1, 2, 3]);
  });

  it("closes a stream announcing a frame over the limit, delivering the frames before it", async () => {
    const before = b.received.length;
    const tooLong = Buffer.alloc(4);
    tooLong.writeUInt32BE(MAX_STREAM_FRAME_BYTES + 1);
    const out = await rawRequest(url, member(tls[0]!), {
      method: "POST",
      path: "/cairn/raft/stream",
      headers: raftHeaders(),
      body: Buffer.concat([frameOf([hb(7)]), tooLong, Buffer.alloc(1000)]),
      keepOpen: true,
    });
    expect(out.rstCode).toBe(1); // NGHTTP2_PROTOCOL_ERROR
    expect(b.received.slice(before).map((m) => m.term)).toStrictEqual([7]);
  });

  it("closes a stream carrying a frame that is not a message batch", async () => {
    const before = b.received.length;
    const out = await rawRequest(url, member(tls[0]!), {
      method: "POST",
      path: "/cairn/raft/stream",
      headers: raftHeaders(),
      body: Buffer.concat([encodeFrame(new Uint8Array([0x92, 1, 2])), frameOf([hb(8)])]),
      keepOpen: true,
    });
    expect(out.rstCode).toBe(1);
    expect(b.received.length).toBe(before);
  });

  it("drops messages whose sender or receiver does not match the request", async () => {
    const before = b.received.length;
    const out = await rawRequest(url, member(tls[0]!), {
      method: "POST",
      path: "/cairn/raft/stream",
      headers: raftHeaders(),
      body: Buffer.concat([
        frameOf([hb(1, ID_C)]),
        frameOf([message({ type: MessageType.Heartbeat, from: ID_C, to: ID_B, term: 2 })]),
        frameOf([hb(3)]),
      ]),
    });
    expect(out.status).toBe(200);
    expect(b.received.slice(before).map((m) => m.term)).toStrictEqual([3]);
  });

  it("refuses a snapshot request announcing a message over the limit with 413", async () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(2 * MAX_SNAPSHOT_MESSAGE_BYTES);
    const out = await rawRequest(url, member(tls[0]!), {
      method: "POST",
      path: "/cairn/raft/snapshot",
      headers: raftHeaders(),
      body: header,
    });
    expect(out.status).toBe(413);
  });

  it("refuses a snapshot request that holds no MsgSnap with 400", async () => {
    const before = b.received.length;
    const out = await rawRequest(url, member(tls[0]!), {
      method: "POST",
      path: "/cairn/raft/snapshot",
      headers: raftHeaders(),
      body: frameOf([hb(1)]),
    });
    expect(out.status).toBe(400);
    expect(b.received.length).toBe(before);
  });

  it("answers 404 and 405 on unknown paths and methods", async () => {
    const t = member(tls[0]!);
    expect((await rawRequest(url, t, { method: "GET", path: "/nope" })).status).toBe(404);
    expect((await rawRequest(url, t, { method: "GET", path: "/cairn/raft/stream" })).status).toBe(405);
    expect((await rawRequest(url, t, { method: "POST", path: "/cairn/cluster" })).status).toBe(405);
  });
});

describe("dialling side", () => {
  it("does not talk to a listener whose certificate another CA signed", async () => {
    const intruder = await startMember(ID_C, foreignTls);
    const a = await startMember(ID_A, tls[0]!);
    try {
      a.transport.setPeers(new Map([[ID_C, [intruder.transport.listenPeerUrl()]]]));
      a.transport.send([hb(1, ID_C)]);
      await waitFor(() => a.unreachable.includes(ID_C), "intruder reported unreachable");
      expect(intruder.received).toStrictEqual([]);
      expect(await a.transport.probeClusterId(intruder.transport.listenPeerUrl())).toBeNull();
    } finally {
      await Promise.all([a.transport.stop(), intruder.transport.stop()]);
    }
  });
});

describe("probeClusterId", () => {
  let a: TestMember;
  beforeAll(async () => {
    a = await startMember(ID_A, tls[0]!, { clusterId: "cluster-x" });
  });
  afterAll(async () => {
    await a.transport.stop();
  });

  it("returns the cluster id of a reachable member, even of another cluster", async () => {
    expect(await a.transport.probeClusterId(url)).toBe("cluster-1");
  });

  it("returns null when nothing listens", async () => {
    expect(await a.transport.probeClusterId(`https://127.0.0.1:${await freePort()}`)).toBeNull();
  });

  it("returns null when the peer accepts TCP but never answers", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      expect(await a.transport.probeClusterId(`https://127.0.0.1:${port}`)).toBeNull();
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it("rejects a URL that is not https://host:port", async () => {
    await expect(async () => a.transport.probeClusterId("http://127.0.0.1:1")).rejects.toThrow(/https/);
  });
});
