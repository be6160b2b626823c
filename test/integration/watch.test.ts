/**
 * A watch across a leader crash (issue 4, Tests): three real `cairn serve` processes; an SSE
 * watcher on a follower; the leader is killed -9 while writes go on; the watch connection is
 * dropped, more writes happen, and it is resumed on the other follower with Last-Event-ID = the
 * last revision seen (history replay, then live); every write is seen exactly once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BodyReader, dataOf } from "../helpers/body-reader.ts";
import { TestCluster, type TestMember } from "../helpers/cluster.ts";

const PREFIX = "it/watch/";
const WRITES = 40;
const KILL_AFTER = 10;
/** The watch connection drops here and is resumed at RESUME_AFTER: the writes in between are replayed. */
const DROP_AFTER = 20;
const RESUME_AFTER = 25;

interface Seen {
  revision: number;
  key: string;
  value: string;
}

/** An SSE watch that records every event until closed. */
class Follower {
  lastId: string | undefined;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  private constructor(
    private readonly body: BodyReader,
    private readonly seen: Seen[],
  ) {}

  static async open(m: TestMember, seen: Seen[], lastId?: string): Promise<Follower> {
    const url = `${m.clientUrl}/v1/watch?key=${encodeURIComponent(PREFIX)}&prefix=true`;
    const res = await fetch(url, { headers: lastId === undefined ? {} : { "last-event-id": lastId } });
    if (res.status !== 200) throw new Error(`watch on ${m.name}: ${res.status} ${await res.text()}`);
    const f = new Follower(new BodyReader(res), seen);
    const created = await f.body.event(5_000);
    if (created?.event !== "created") throw new Error(`no created event: ${JSON.stringify(created)}`);
    f.lastId = created.id;
    f.loop = f.run();
    return f;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const frame = await this.body.event(60_000).catch(() => undefined);
      if (frame === undefined || this.stopped) return;
      if (frame.event !== undefined && frame.event !== "progress") {
        throw new Error(`watch ended: ${frame.event} ${frame.data}`);
      }
      if (frame.event === undefined) {
        const data = dataOf(frame);
        for (const e of data.events)
          this.seen.push({ revision: data.revision, key: e.kv.key, value: e.kv.value });
      }
      this.lastId = frame.id;
    }
  }

  /** Drops the connection (as a network failure would) and waits for the reader to stop. */
  async drop(): Promise<void> {
    this.stopped = true;
    await this.body.cancel().catch(() => {});
    await this.loop;
  }
}

/** Creates `key` = `value` once (If-None-Match: *), retrying through the leader change. @returns its revision */
async function createOnce(m: TestMember, key: string, value: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const r = await fetch(`${m.clientUrl}/v1/kv/${encodeURIComponent(key)}`, {
        method: "PUT",
        body: value,
        headers: { "if-none-match": "*" },
        signal: AbortSignal.timeout(3_000),
      });
      if (r.ok) return ((await r.json()) as { revision: number }).revision;
      if (r.status === 412) {
        // An earlier attempt was applied after all: its revision is the key's mod revision.
        const meta = await fetch(`${m.clientUrl}/v1/kv/${encodeURIComponent(key)}?meta=true`);
        return ((await meta.json()) as { kv: { mod_revision: number } }).kv.mod_revision;
      }
      if (r.status < 500) throw new Error(`PUT ${key}: ${r.status} ${await r.text()}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("PUT ")) throw err;
    }
    if (Date.now() > deadline) throw new Error(`PUT ${key} did not succeed within 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("watch across a leader crash (three real processes)", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.create(3);
    await cluster.startAll();
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("resumes from the last seen revision on another member and sees every write exactly once", async () => {
    const leader = await cluster.waitForLeader();
    const [watchOn, writeTo] = cluster.members.filter((m) => m !== leader) as [TestMember, TestMember];
    const seen: Seen[] = [];
    let follower = await Follower.open(watchOn, seen);
    const written = new Map<string, { value: string; revision: number }>();
    for (let i = 0; i < WRITES; i++) {
      if (i === KILL_AFTER) await cluster.kill(leader);
      if (i === DROP_AFTER) await follower.drop();
      if (i === RESUME_AFTER) follower = await Follower.open(writeTo, seen, follower.lastId);
      const key = `${PREFIX}${String(i).padStart(3, "0")}`;
      written.set(key, { value: `v${i}`, revision: await createOnce(writeTo, key, `v${i}`) });
    }
    const last = Math.max(...[...written.values()].map((w) => w.revision));
    const deadline = Date.now() + 10_000;
    while (!seen.some((s) => s.revision >= last)) {
      if (Date.now() > deadline)
        throw new Error(`events up to ${last} not seen; have ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await follower.drop();

    const revisions = seen.map((s) => s.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length); // one event per write, no duplicates
    expect(seen.map((s) => s.key)).toEqual([...written.keys()]); // every write, in order
    for (const s of seen) expect(written.get(s.key)).toEqual({ value: s.value, revision: s.revision });
  }, 30_000);
});
