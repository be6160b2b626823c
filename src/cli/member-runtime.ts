/**
 * How a member process is started. Every launcher uses these: `cairn dev` for each member it
 * spawns, bin/cairn.mjs (its shebang line carries the same flag), and the tests and benchmarks
 * that start real members (test/helpers/cluster.ts).
 *
 * `--single-threaded-gc`: V8 collects garbage on the member's own thread only, without the
 * parallel and concurrent helper threads it starts by default. A member is a latency-sensitive
 * server whose heap holds the Raft log and the MVCC history; the helper threads compete for the
 * CPUs with the member's event loop and with the other processes on the machine, which in a
 * three-member cluster on one small machine (the benchmark's: 2 cores for three members and
 * the load generator) stretched other members' commits. Measured on that machine, five
 * alternating pairs of 6-second put runs of the same build (3 members, 64 clients): p99 19–26 ms
 * with the flag against 24–35 ms without, throughput unchanged (three more pairs later: the same).
 * At one client it costs a little: scavenges take longer without helpers, and a request that
 * meets one waits for it (three 12-second pairs: p99 3.9–4.3 ms with, 3.1–4.0 ms without). On a
 * dedicated machine with many cores the default parallel collector may give shorter pauses: run
 * `node bin/cairn.mjs serve ...` to use it. The flag cannot be set once the process runs (V8 refuses it at runtime and in
 * NODE_OPTIONS), hence the launchers.
 *
 * `--heap-growing-percent=100`: after a full (mark-compact) collection V8 lets the old generation
 * grow to twice the live heap before the next one, as Go's default GOGC=100 does for etcd. A
 * member's old generation grows with every write (Raft log entries until the next snapshot, the
 * MVCC history until compaction). With V8's default heap growing, members at one client ran a
 * full collection every 8–12 s; with the single-threaded collector its marking steps and final
 * pause (14–24 ms) fall on the event loop. In a 32-second trace at one client, the two 2-second
 * windows with the worst put p99 (3.7–3.8 ms; the others 1.9–3.3 ms) held or followed one, though
 * other windows holding one did not stand out. Measured on the benchmark machine, interleaved
 * rounds of the same build, latencies pooled: at one client (8 rounds of 8 s) throughput +3.9%,
 * p50 1.17 -> 1.12 ms, p99 2.44 -> 2.37 ms, p99.9 4.63 -> 3.88 ms; at 64 clients (4 rounds of
 * 6 s) throughput +6.9%, p99 24.54 -> 19.92 ms. The cost is memory: the heap may reach twice what
 * is live.
 */

/** Node.js flags of a member process (none apply to Bun, which runs JavaScriptCore). */
export const MEMBER_NODE_FLAGS: readonly string[] = Object.freeze([
  "--single-threaded-gc",
  "--heap-growing-percent=100",
]);

/**
 * `execArgv` (this process's Node.js flags) with MEMBER_NODE_FLAGS added once each: the flags a
 * member child process is started with.
 */
export function memberExecArgv(execArgv: readonly string[]): string[] {
  return [...execArgv, ...MEMBER_NODE_FLAGS.filter((f) => !execArgv.includes(f))];
}
