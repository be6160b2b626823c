/**
 * The streamed snapshot format (src/mvcc/snapshot.ts): bounded frames, a frozen view while the
 * store goes on applying, deferred compaction, and refusal of cut or damaged streams.
 */
import { describe, expect, it } from "vitest";
import { ReplicatedState } from "../../../src/server/state-machine.ts";
import { FRAME_HEADER_BYTES } from "../../../src/util/framing.ts";
import { b, del, errorCode, get, newStore, put } from "./helpers.ts";

/** Splits `data` into pieces of the given sizes, cycling through them. */
function pieces(data: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

function filled(store: ReturnType<typeof newStore>, keys: number, valueBytes: number): void {
  for (let i = 0; i < keys; i++) put(store, `k/${String(i).padStart(5, "0")}`, "v".repeat(valueBytes));
}

describe("streamed snapshot", () => {
  it("cuts the state into frames of about the target size, and restores it exactly", () => {
    const src = newStore();
    filled(src, 300, 1000);
    // One key with a long history: it must be split across frames too.
    for (let i = 0; i < 50; i++) put(src, "hot", "x".repeat(2000));
    const target = 16 * 1024;
    const frames = [...src.snapshotReader(target).frames];
    expect(frames.length).toBeGreaterThan(20);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(target + 2000 + 200 + FRAME_HEADER_BYTES);
    const dst = newStore();
    dst.restore(Buffer.concat(frames));
    expect(dst.snapshot()).toEqual(src.snapshot());
    expect(dst.revision).toBe(src.revision);
    expect(get(dst, "hot", undefined, { revision: 321 }).kvs[0]?.version).toBe(20);
  });

  it("a reader sees the state of its creation while puts, deletes and compactions go on", () => {
    const s = newStore();
    filled(s, 200, 100);
    for (let i = 0; i < 10; i++) put(s, "k/00001", `old-${i}`);
    const expected = s.snapshot();
    const reader = s.snapshotReader(2048);
    const first = reader.frames.next();
    expect(first.done).toBe(false);
    const frames = [first.value as Uint8Array];
    // Changes after the reader was made: new keys before and after the cursor, deletes, a compaction.
    put(s, "a-new-first-key", "1");
    put(s, "k/00150", "changed");
    del(s, "k/00100", "k/00120");
    put(s, "z-new-last-key", "2");
    s.apply({ op: "compact", req: { revision: s.revision - 1 } });
    const entriesWhileOpen = s.historyEntries;
    for (const f of reader.frames) frames.push(f);
    // The compaction waited for the reader: history is trimmed once it is closed (read to the end).
    expect(s.historyEntries).toBeLessThan(entriesWhileOpen);
    const restored = newStore();
    restored.restore(Buffer.concat(frames));
    expect(restored.snapshot()).toEqual(expected);
    expect(get(restored, "k/00001").kvs[0]?.value).toEqual(b("old-9"));
    expect(get(restored, "a-new-first-key").count).toBe(0);
  });

  it("a compaction while a reader is open changes no read result, and equal states still give equal bytes", () => {
    const a = newStore();
    const c = newStore();
    for (const s of [a, c]) {
      for (let i = 0; i < 30; i++) put(s, `key${i % 5}`, `v${i}`);
      del(s, "key3");
    }
    const reader = a.snapshotReader();
    for (const s of [a, c]) s.apply({ op: "compact", req: { revision: 25 } });
    expect(get(a, "key", "kez", { revision: 25 })).toEqual(get(c, "key", "kez", { revision: 25 }));
    expect(errorCode(() => get(a, "key0", undefined, { revision: 24 }))).toBe("compacted");
    expect(a.snapshot()).toEqual(c.snapshot());
    reader.close();
    expect(a.historyEntries).toBe(c.historyEntries);
    expect(a.snapshot()).toEqual(c.snapshot());
  });

  it("refuses a stream cut at a frame boundary or inside a frame, and keeps the state", () => {
    const src = newStore();
    filled(src, 100, 100);
    const frames = [...src.snapshotReader(1024).frames];
    const s = newStore();
    put(s, "mine", "1");
    const before = s.snapshot();
    const whole = Buffer.concat(frames);
    for (const cut of [
      Buffer.concat(frames.slice(0, -1)),
      whole.subarray(0, whole.length - 5),
      whole.subarray(0, 3),
    ]) {
      expect(errorCode(() => s.restore(cut))).toBe("invalid_argument");
    }
    // A frame dropped from the middle: the end frame's counts disagree.
    expect(errorCode(() => s.restore(Buffer.concat([...frames.slice(0, 2), ...frames.slice(3)])))).toBe(
      "invalid_argument",
    );
    expect(s.snapshot()).toEqual(before);
  });

  it("the replicated state restores from chunks of any size, and refuses a truncated stream", async () => {
    const src = new ReplicatedState();
    for (let i = 0; i < 500; i++)
      src.kv.apply({ op: "put", req: { key: b(`key-${i}`), value: b("x".repeat(i)) } });
    const data = src.snapshot();
    const dst = new ReplicatedState();
    await dst.restoreFrom(pieces(data, [1, 7, 4096, 3, 65536]));
    expect(dst.snapshot()).toEqual(data);
    async function* truncated() {
      yield data.subarray(0, data.length - 100);
    }
    const other = new ReplicatedState();
    await expect(other.restoreFrom(truncated())).rejects.toMatchObject({ code: "invalid_argument" });
    expect(other.kv.revision).toBe(1);
  });
});
