/**
 * Flow control of pipelined appends to one follower (etcd-io/raft tracker/inflights.go): the last
 * index of every MsgApp sent and not yet acknowledged, oldest first, at most `capacity` of them.
 */
import { assert } from "../util/assert.ts";

/** A bounded FIFO of the last indexes of in-flight MsgApp messages (a ring buffer). */
export class Inflights {
  private readonly buffer: number[];
  private start = 0;
  private size = 0;

  /** @param capacity most MsgApp in flight (>= 1) */
  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, "inflights: bad capacity %s", capacity);
    this.buffer = new Array<number>(capacity).fill(0);
  }

  /** Number of MsgApp in flight. */
  count(): number {
    return this.size;
  }

  /** True when no more MsgApp may be sent until some are acknowledged. */
  full(): boolean {
    return this.size === this.capacity;
  }

  /**
   * Records a MsgApp whose last entry is `lastIndex`.
   * @throws AssertionError when full or when `lastIndex` is not above the newest in flight
   */
  add(lastIndex: number): void {
    assert(!this.full(), "inflights: add when full");
    if (this.size > 0) {
      const newest = this.buffer[(this.start + this.size - 1) % this.capacity]!;
      assert(lastIndex > newest, "inflights: index %s not above newest %s", lastIndex, newest);
    }
    this.buffer[(this.start + this.size) % this.capacity] = lastIndex;
    this.size++;
  }

  /** Forgets every MsgApp whose last index is <= `index` (acknowledged by the follower). */
  freeLE(index: number): void {
    while (this.size > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
  }

  /** Forgets the oldest MsgApp (a heartbeat response shows the follower is alive; etcd 3.5 FreeFirstOne). */
  freeFirstOne(): void {
    if (this.size === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.size--;
  }

  /** Forgets everything. */
  reset(): void {
    this.start = 0;
    this.size = 0;
  }
}
