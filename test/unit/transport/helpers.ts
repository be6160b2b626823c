/** Shared fixtures of the transport tests: certificates, messages, bounded waits, a freezable TCP proxy. */
import net from "node:net";
import { Writable } from "node:stream";
import { type Logger, pino } from "pino";
import { makeMessage } from "../../../src/raft/message.ts";
import { type Entry, type Message, MessageType } from "../../../src/raft/types.ts";
import { type CertificateAndKey, generateCa, issueCertificate } from "../../../src/tls/certs.ts";
import type { PeerTlsConfig } from "../../../src/transport/types.ts";

/** Member ids (16 lowercase hex digits). */
export const ID_A = "000000000000000a";
export const ID_B = "000000000000000b";
export const ID_C = "000000000000000c";

/** A cluster CA and TLS material for `count` members signed by it. */
export async function clusterTls(
  count: number,
): Promise<{ ca: CertificateAndKey; members: PeerTlsConfig[] }> {
  const ca = await generateCa({ commonName: "test-ca" });
  const members: PeerTlsConfig[] = [];
  for (let i = 0; i < count; i++) {
    const cert = await issueCertificate(ca, {
      commonName: `member-${i}`,
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1", "::1"],
      usages: ["server", "client"],
    });
    members.push({ certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem });
  }
  return { ca, members };
}

/** A message with zero values except the given fields. */
export function message(fields: Partial<Message> & Pick<Message, "from" | "to">): Message {
  return makeMessage({ type: MessageType.Heartbeat, ...fields });
}

/**
 * A copy of `messages` with every byte field replaced by its base64 text, for fast deep equality
 * (vitest compares typed arrays element by element, which takes seconds for megabytes).
 */
export function comparable(messages: Message[]): unknown[] {
  const b64 = (bytes: Uint8Array) => `${bytes.constructor.name}:${Buffer.from(bytes).toString("base64")}`;
  return messages.map((m) => ({
    ...m,
    entries: m.entries.map((e) => ({ ...e, data: b64(e.data) })),
    ...(m.snapshot ? { snapshot: { ...m.snapshot, data: b64(m.snapshot.data) } } : {}),
    ...(m.context ? { context: b64(m.context) } : {}),
  }));
}

/** An entry whose data is `bytes` bytes derived from `index`. */
export function entry(index: number, bytes = 8): Entry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 31 + i) & 0xff;
  return { term: 1, index, type: 0, data };
}

/**
 * Polls `condition` every 10 ms until it holds; rejects after `timeoutMs` (a bound, not a timing
 * target: it only stops a broken test from hanging).
 */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits `ms` milliseconds (to let something that must NOT happen have its chance). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A pino logger writing JSON lines into `lines`. */
export function captureLogger(lines: Record<string, unknown>[]): Logger {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line.trim() !== "") lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: "debug" }, sink);
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== "object") throw new Error("no port");
  return address.port;
}

/**
 * A TCP proxy to 127.0.0.1:targetPort on an ephemeral port. freeze() stops reading in both
 * directions (now and on later connections) without closing anything: to the sender the peer looks alive but silent (a hung
 * process or a partition that keeps TCP open).
 */
export async function tcpProxy(
  targetPort: number,
): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d) => client.write(d));
    if (frozen) {
      client.pause();
      upstream.pause();
    }
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address !== "object") throw new Error("no port");
  return {
    port: address.port,
    freeze() {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
