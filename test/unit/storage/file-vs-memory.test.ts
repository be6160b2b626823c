/**
 * Differential test: random Raft-like call sequences (appends with suffix overwrites, term changes,
 * local and received snapshots, compactions, restarts, some invalid calls) go to the memory
 * storage and to the file storage with tiny WAL segments; both must accept or refuse the same
 * calls and load the same state. Pinned seeds; a failure names its seed.
 */
import { describe, expect, it } from "vitest";
import type { Entry, HardState, Snapshot } from "../../../src/raft/types.ts";
import type { FileStorage } from "../../../src/storage/file/index.ts";
import { MemoryStorage } from "../../../src/storage/memory.ts";
import type { PersistedState, RaftStorage } from "../../../src/storage/types.ts";
import { seededRandom as prng } from "../../../src/util/random.ts";
import { entry, TempDataDir } from "./helpers.ts";

function comparable(s: PersistedState) {
  return {
    hardState: s.hardState,
    snapshot: s.snapshot && { metadata: s.snapshot.metadata, data: Array.from(s.snapshot.data) },
    entries: s.entries.map((e) => [e.index, e.term, e.type, Array.from(e.data)]),
  };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return (err as Error).name;
  }
}

const STEPS = 120;
const SEEDS = Array.from({ length: 12 }, (_, k) => 1000 + k);

async function run(seed: number): Promise<void> {
  const rand = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const d = await TempDataDir.create();
  try {
    const segmentBytes = int(80, 600);
    let mem = new MemoryStorage();
    let file: FileStorage = await d.open({ segmentBytes });
    let term = 1;
    let vote = "";
    let commit = 0;
    let dataSeq = 0;

    async function both(label: string, f: (s: RaftStorage) => Promise<unknown>): Promise<void> {
      const a = await outcome(f(mem));
      const b = await outcome(f(file));
      expect(b, `${label}: memory ${a}, file ${b}`).toBe(a);
    }

    for (let step = 0; step < STEPS; step++) {
      const st = await mem.load();
      const snapIndex = st.snapshot?.metadata.index ?? 0;
      const snapTerm = st.snapshot?.metadata.term ?? 0;
      const last = Math.max(st.entries.at(-1)?.index ?? 0, snapIndex);
      const termAt = (i: number) =>
        i === snapIndex ? snapTerm : st.entries.find((e) => e.index === i)?.term;
      const r = rand();
      if (r < 0.55) {
        if (rand() < 0.2) {
          term++;
          vote = rand() < 0.5 ? "" : "aaaaaaaaaaaaaaaa";
        } else if (vote === "" && rand() < 0.1) {
          vote = "bbbbbbbbbbbbbbbb";
        }
        const first = int(Math.max(snapIndex, commit) + 1, last + 1);
        const count = int(0, 4);
        const es: Entry[] = [];
        for (let k = 0; k < count; k++) es.push(entry(first + k, term, int(0, 90) + (dataSeq++ % 3)));
        const newLast = count > 0 ? first + count - 1 : last;
        if (rand() < 0.5) commit = int(commit, Math.max(commit, newLast));
        const h: HardState | null = rand() < 0.8 || count === 0 ? { term, vote, commit } : null;
        await both(`step ${step} append ${first}+${count}`, (s) => s.append(h, es));
      } else if (r < 0.65 && commit > snapIndex) {
        const index = int(snapIndex + 1, commit);
        const snap = makeSnapshot(index, termAt(index) ?? term, int(0, 200));
        await both(`step ${step} local snapshot ${index}`, (s) => s.saveSnapshot(snap));
      } else if (r < 0.7) {
        const index = int(commit + 1, last + 3);
        const snap = makeSnapshot(index, term, int(0, 200));
        await both(`step ${step} received snapshot ${index}`, (s) => s.saveSnapshot(snap));
        commit = Math.max(commit, index);
        const h = { term, vote, commit };
        await both(`step ${step} hard state after snapshot`, (s) => s.append(h, []));
      } else if (r < 0.8) {
        const index = rand() < 0.5 ? snapIndex : int(0, snapIndex); // the server compacts at the snapshot index
        await both(`step ${step} compact ${index}`, (s) => s.compact(index));
      } else if (r < 0.9) {
        mem = mem.reopen();
        await file.close();
        file = await d.open({ segmentBytes });
      } else {
        // Invalid calls: both must refuse them.
        const gap = [entry(last + 2, term)];
        await both(`step ${step} gap append`, (s) => s.append(null, gap));
        await both(`step ${step} compact beyond snapshot`, (s) => s.compact(snapIndex + 1));
      }
      expect(comparable(await file.load()), `step ${step}`).toEqual(comparable(await mem.load()));
    }
    expect(file.walSegmentCount).toBeGreaterThan(0);
  } finally {
    await d.cleanup();
  }
}

function makeSnapshot(index: number, term: number, size: number): Snapshot {
  return {
    metadata: { index, term, confState: { voters: ["aaaaaaaaaaaaaaaa"], learners: [] } },
    data: new Uint8Array(size).fill(index & 0xff),
  };
}

describe("file storage behaves like memory storage on random call sequences", () => {
  it.each(SEEDS)("seed %i", async (seed) => {
    try {
      await run(seed);
    } catch (err) {
      throw new Error(`storage differential failed with seed ${seed}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  });
});
