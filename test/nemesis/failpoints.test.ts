/**
 * Test failpoints of the peer transport (src/transport/failpoints.ts): parsing of the file, polling
 * (missing, malformed and oversized files, close), the environment switch, and two real HTTP/2
 * transports that drop messages in one direction, the other, both, then heal.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MessageType, type NodeId } from "../../src/raft/types.ts";
import {
  FAILPOINTS_FILE_ENV,
  FAILPOINTS_MAX_BYTES,
  failpointsFromEnv,
  PeerFailpoints,
  parseFailpoints,
} from "../../src/transport/failpoints.ts";
import { connectAll, memberFixture, startMember, type TestMember } from "../unit/transport/cluster.ts";
import { ID_A, ID_B, ID_C, message, sleep, waitFor } from "../unit/transport/helpers.ts";

let dir: string;
let n = 0;
/** A fresh file path in the test's temp dir (not created). */
const freshFile = () => path.join(dir, `fp-${++n}.json`);

/** Replaces `file` atomically with `content` (what the nemesis does). */
function writeAtomically(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "cairn-fp-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("parseFailpoints", () => {
  it("reads dropTo and dropFrom; both optional; blank text drops nothing", () => {
    const r = parseFailpoints(`{"dropTo":["${ID_A}"],"dropFrom":["${ID_B}","${ID_C}"]}`);
    expect([...r.dropTo]).toStrictEqual([ID_A]);
    expect([...r.dropFrom]).toStrictEqual([ID_B, ID_C]);
    for (const text of ["", "  \n", "{}"]) {
      const e = parseFailpoints(text);
      expect(e.dropTo.size + e.dropFrom.size).toBe(0);
    }
    expect([...parseFailpoints(`{"dropFrom":["${ID_A}"]}`).dropFrom]).toStrictEqual([ID_A]);
  });

  it("refuses what is not the documented shape", () => {
    expect(() => parseFailpoints("{")).toThrow(SyntaxError);
    expect(() => parseFailpoints("[]")).toThrow(/JSON object/);
    expect(() => parseFailpoints("null")).toThrow(/JSON object/);
    expect(() => parseFailpoints(`{"dropto":[]}`)).toThrow(/unknown failpoints field "dropto"/);
    expect(() => parseFailpoints(`{"dropTo":"${ID_A}"}`)).toThrow(/array/);
    expect(() => parseFailpoints(`{"dropFrom":[1]}`)).toThrow(/array/);
  });
});

describe("PeerFailpoints", () => {
  const open: PeerFailpoints[] = [];
  afterEach(() => {
    for (const fp of open.splice(0)) fp.close();
  });
  const make = (file: string, warnings: string[] = []) => {
    const fp = new PeerFailpoints(file, {
      pollMs: 10,
      logger: { warn: ((_: unknown, msg?: string) => warnings.push(msg ?? "")) as never },
    });
    open.push(fp);
    return fp;
  };

  it("drops nothing while the file is missing, then follows its rules and counts drops", async () => {
    const file = freshFile();
    const fp = make(file);
    await fp.start();
    expect(fp.dropsTo(ID_A)).toBe(false);
    writeAtomically(file, JSON.stringify({ dropTo: [ID_A], dropFrom: [ID_B] }));
    await fp.refresh();
    expect(fp.dropsTo(ID_A)).toBe(true);
    expect(fp.dropsTo(ID_B)).toBe(false);
    expect(fp.dropsFrom(ID_B)).toBe(true);
    expect(fp.dropsFrom(ID_A)).toBe(false);
    expect(fp.stats()).toStrictEqual({ droppedTo: 1, droppedFrom: 1, badReads: 0 });
    rmSync(file);
    await fp.refresh();
    expect(fp.dropsTo(ID_A)).toBe(false);
  });

  it("picks up a change by polling within a few intervals", async () => {
    const file = freshFile();
    const fp = make(file);
    await fp.start();
    writeAtomically(file, JSON.stringify({ dropFrom: [ID_C] }));
    await waitFor(() => fp.current().dropFrom.has(ID_C), "the poll to see the new rules", 2_000);
  });

  it("keeps the previous rules on a malformed or oversized file, warning once per problem", async () => {
    const file = freshFile();
    const warnings: string[] = [];
    const fp = make(file, warnings);
    writeAtomically(file, JSON.stringify({ dropTo: [ID_A] }));
    await fp.refresh();
    writeAtomically(file, `{"dropTo": [`);
    await fp.refresh();
    await fp.refresh();
    expect(fp.current().dropTo.has(ID_A)).toBe(true);
    expect(fp.stats().badReads).toBe(2);
    expect(warnings.filter((w) => w.startsWith("malformed failpoints file"))).toHaveLength(1);
    writeAtomically(file, JSON.stringify({ dropTo: [ID_B], pad: "x".repeat(FAILPOINTS_MAX_BYTES) }));
    await fp.refresh();
    expect(fp.current().dropTo.has(ID_A)).toBe(true);
    expect(warnings.some((w) => w.includes(`larger than ${FAILPOINTS_MAX_BYTES} bytes`))).toBe(true);
    writeAtomically(file, JSON.stringify({ dropTo: [ID_B] }));
    await fp.refresh();
    expect([...fp.current().dropTo]).toStrictEqual([ID_B]);
    expect(warnings.filter((w) => w.startsWith("test failpoints changed"))).toHaveLength(2);
  });

  it("stops following the file once closed", async () => {
    const file = freshFile();
    const fp = make(file);
    await fp.start();
    fp.close();
    writeAtomically(file, JSON.stringify({ dropTo: [ID_A] }));
    await sleep(60);
    await fp.refresh();
    expect(fp.dropsTo(ID_A)).toBe(false);
  });

  it("refuses a poll interval that is not a positive integer", () => {
    expect(() => new PeerFailpoints(freshFile(), { pollMs: 0 })).toThrow(RangeError);
  });
});

describe("failpointsFromEnv", () => {
  it("is off unless CAIRN_TEST_FAILPOINTS_FILE names a file", () => {
    expect(failpointsFromEnv(undefined, {})).toBeNull();
    expect(failpointsFromEnv(undefined, { [FAILPOINTS_FILE_ENV]: "" })).toBeNull();
    expect(process.env[FAILPOINTS_FILE_ENV]).toBeUndefined();
    expect(failpointsFromEnv()).toBeNull();
    const fp = failpointsFromEnv(undefined, { [FAILPOINTS_FILE_ENV]: freshFile() });
    expect(fp).toBeInstanceOf(PeerFailpoints);
    fp?.close();
  });
});

describe("the HTTP/2 transport with failpoints", () => {
  const { tls, running } = memberFixture(2);
  afterEach(() => {
    delete process.env[FAILPOINTS_FILE_ENV];
  });

  const hb = (from: NodeId, to: NodeId, term: number) =>
    message({ type: MessageType.Heartbeat, from, to, term });

  /** Sends one heartbeat each way with `term` and waits `ms`; returns whether each arrived. */
  async function exchange(a: TestMember, b: TestMember, term: number, ms = 300) {
    a.transport.send([hb(ID_A, ID_B, term)]);
    b.transport.send([hb(ID_B, ID_A, term)]);
    await sleep(ms);
    return {
      aToB: b.received.some((m) => m.term === term),
      bToA: a.received.some((m) => m.term === term),
    };
  }

  it("drops to / from the listed peers only, in the directions listed, and heals", async () => {
    // Both transports of this process read the same file; each applies the rules to its own peers.
    const file = freshFile();
    writeAtomically(file, "{}");
    process.env[FAILPOINTS_FILE_ENV] = file;
    const a = await startMember(ID_A, tls[0]!);
    const b = await startMember(ID_B, tls[1]!);
    running.push(a, b);
    connectAll([a, b]);
    const settle = () => sleep(200); // > several polls of 50 ms

    expect(await exchange(a, b, 1)).toStrictEqual({ aToB: true, bToA: true });

    writeAtomically(file, JSON.stringify({ dropTo: [ID_B] })); // A cannot send to B
    await settle();
    expect(await exchange(a, b, 2)).toStrictEqual({ aToB: false, bToA: true });

    writeAtomically(file, JSON.stringify({ dropFrom: [ID_B] })); // A does not hear B
    await settle();
    expect(await exchange(a, b, 3)).toStrictEqual({ aToB: true, bToA: false });

    writeAtomically(file, JSON.stringify({ dropTo: [ID_B], dropFrom: [ID_B] })); // symmetric
    await settle();
    expect(await exchange(a, b, 4)).toStrictEqual({ aToB: false, bToA: false });
    const snap = message({
      type: MessageType.Snap,
      from: ID_A,
      to: ID_B,
      snapshot: {
        metadata: { index: 1, term: 1, confState: { voters: [ID_A], learners: [] } },
        data: new Uint8Array(5),
      },
    });
    a.transport.send([snap]);
    await waitFor(() => a.snapshotsSent.length === 1, "snapshot outcome");
    expect(a.snapshotsSent).toStrictEqual([{ peer: ID_B, ok: false }]);

    writeAtomically(file, "{}");
    await settle();
    expect(await exchange(a, b, 5)).toStrictEqual({ aToB: true, bToA: true });
    // A snapshot refused by the receiver's failpoint fails at the sender.
    writeAtomically(file, JSON.stringify({ dropFrom: [ID_A] })); // B does not hear A
    await settle();
    a.transport.send([{ ...snap, term: 2 }]);
    await waitFor(() => a.snapshotsSent.length === 2, "second snapshot outcome");
    expect(a.snapshotsSent[1]).toStrictEqual({ peer: ID_B, ok: false });
    expect(b.received.some((m) => m.type === MessageType.Snap)).toBe(false);
  });

  it("drops nothing when the variable is unset", async () => {
    const a = await startMember(ID_A, tls[0]!);
    const b = await startMember(ID_B, tls[1]!);
    running.push(a, b);
    connectAll([a, b]);
    expect(await exchange(a, b, 1)).toStrictEqual({ aToB: true, bToA: true });
  });
});
