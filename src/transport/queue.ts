/**
 * Bounded FIFO of outgoing messages to one peer. When full, new messages are refused (the caller
 * drops them and reports the peer unreachable; Raft retransmits), as etcd rafthttp's streamBufSize.
 */
import type { Message } from "../raft/types.ts";
import { assert } from "../util/assert.ts";
import { estimateEncodedBytes } from "./codec.ts";

/** A FIFO of at most `capacity` messages with O(1) push and amortised O(1) removal from the head. */
export class BoundedMessageQueue {
  private items: Message[] = [];
  private head = 0;

  /** @param capacity most messages held, ≥ 1 */
  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, "queue capacity must be a positive integer");
  }

  /** Messages held. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends `message`; returns false (and keeps nothing) when the queue is full. */
  push(message: Message): boolean {
    if (this.length >= this.capacity) return false;
    this.items.push(message);
    return true;
  }

  /**
   * Removes and returns the oldest messages: at least one (if any), then more while the batch stays
   * within `maxMessages` and the estimated encoded size within `targetBytes`.
   */
  takeBatch(maxMessages: number, targetBytes: number): Message[] {
    const batch: Message[] = [];
    let bytes = 0;
    while (this.head < this.items.length && batch.length < maxMessages) {
      const next = this.items[this.head]!;
      const size = estimateEncodedBytes(next);
      if (batch.length > 0 && bytes + size > targetBytes) break;
      batch.push(next);
      bytes += size;
      this.head++;
    }
    this.compact();
    return batch;
  }

  /** Removes every message. */
  clear(): void {
    this.items = [];
    this.head = 0;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
