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
 */

/** Node.js flags of a member process (none apply to Bun, which runs JavaScriptCore). */
export const MEMBER_NODE_FLAGS: readonly string[] = Object.freeze(["--single-threaded-gc"]);

/**
 * `execArgv` (this process's Node.js flags) with MEMBER_NODE_FLAGS added once each: the flags a
 * member child process is started with.
 */
export function memberExecArgv(execArgv: readonly string[]): string[] {
  return [...execArgv, ...MEMBER_NODE_FLAGS.filter((f) => !execArgv.includes(f))];
}
