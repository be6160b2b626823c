/**
 * Output of the `cairn` client commands, in etcdctl's three formats
 * (etcd: etcdctl/ctlv3/command/printer_simple.go, printer_table.go, printer_json.go):
 * - simple: put → "OK"; get → key line, value line per KV; del → count; txn → SUCCESS/FAILURE
 *   then each response after a blank line; member list / endpoint status → one comma line per row;
 *   member add → "Member <id> added to cluster <cid>" and the CAIRN_* lines that start the member;
 *   member remove|update|promote, move-leader → etcdctl's one-line messages;
 * - table: ASCII table with etcdctl's upper-case headers, cells right-aligned;
 * - json: the API's JSON answer (snake_case) on one line.
 * Pure functions from data to text, so they are tested on fixed data.
 */
import Table from "cli-table3";
import type {
  DeleteJson,
  KvJson,
  MemberJson,
  MembersJson,
  PutJson,
  RangeJson,
  StatusJson,
  TxnJson,
} from "./api-schemas.ts";
import type { EndpointHealth } from "./kv-api.ts";

/** Output formats of -w / --write-out. */
export type OutputFormat = "simple" | "json" | "table";

/** The value bytes of a KV (base64-decoded when value_encoding is "base64"; empty when omitted). */
export function valueBytes(kv: KvJson): Buffer {
  if (kv.value === undefined) return Buffer.alloc(0);
  return kv.value_encoding === "base64" ? Buffer.from(kv.value, "base64") : Buffer.from(kv.value, "utf8");
}

/** etcdctl printKV: key line (unless valueOnly), then value line. Values are written as raw bytes. */
export function formatKvs(kvs: readonly KvJson[], valueOnly = false): Buffer {
  const parts: Buffer[] = [];
  for (const kv of kvs) {
    if (!valueOnly) parts.push(Buffer.from(`${kv.key}\n`, "utf8"));
    parts.push(valueBytes(kv), Buffer.from("\n"));
  }
  return Buffer.concat(parts);
}

/** `get` simple output. */
export function formatGetSimple(range: RangeJson, valueOnly = false): Buffer {
  return formatKvs(range.kvs, valueOnly);
}

/** `put` simple output: "OK", then the previous KV when asked for. */
export function formatPutSimple(put: PutJson, valueOnly = false): Buffer {
  return Buffer.concat([
    Buffer.from("OK\n"),
    put.prev_kv ? formatKvs([put.prev_kv], valueOnly) : Buffer.alloc(0),
  ]);
}

/** `del` simple output: the number of deleted keys, then the previous KVs when asked for. */
export function formatDeleteSimple(del: DeleteJson, valueOnly = false): Buffer {
  return Buffer.concat([Buffer.from(`${del.deleted}\n`), formatKvs(del.prev_kvs ?? [], valueOnly)]);
}

/** `txn` simple output: SUCCESS or FAILURE, then each response after an empty line. */
export function formatTxnSimple(txn: TxnJson): Buffer {
  const parts: Buffer[] = [Buffer.from(txn.succeeded ? "SUCCESS\n" : "FAILURE\n")];
  for (const r of txn.responses) {
    parts.push(Buffer.from("\n"));
    if (r.put) {
      parts.push(formatPutSimple({ revision: r.put.revision ?? txn.revision, prev_kv: r.put.prev_kv }));
    } else if (r.get) {
      parts.push(formatKvs(r.get.kvs));
    } else if (r.delete) {
      const del = r.delete;
      parts.push(
        formatDeleteSimple({ revision: txn.revision, deleted: del.deleted, prev_kvs: del.prev_kvs }),
      );
    }
  }
  return Buffer.concat(parts);
}

/** -w json: one line of JSON. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/**
 * Renders an etcdctl-style ASCII table (tablewriter look: '+', '-', '|', centered upper-case
 * headers, right-aligned cells, no lines between rows).
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = new Table({
    // cli-table3 accepts cell objects in `head` at run time; its typings say string[].
    head: headers.map((h) => ({ content: h.toUpperCase(), hAlign: "center" })) as unknown as string[],
    chars: {
      top: "-",
      "top-mid": "+",
      "top-left": "+",
      "top-right": "+",
      bottom: "-",
      "bottom-mid": "+",
      "bottom-left": "+",
      "bottom-right": "+",
      left: "|",
      "left-mid": "+",
      mid: "-",
      "mid-mid": "+",
      right: "|",
      "right-mid": "+",
      middle: "|",
    },
    style: { head: [], border: [], compact: true },
    colAligns: headers.map(() => "right" as const),
  });
  for (const row of rows) table.push([...row]);
  return `${table.toString()}\n`;
}

/** Rows as etcdctl's simple printer writes them: cells joined by ", ". */
export function formatCommaRows(rows: readonly (readonly string[])[]): string {
  return rows.map((r) => `${r.join(", ")}\n`).join("");
}

/** Headers of `member list` (etcdctl makeMemberListTable). */
export const MEMBER_LIST_HEADERS = [
  "ID",
  "Status",
  "Name",
  "Peer Addrs",
  "Client Addrs",
  "Is Learner",
] as const;

/** True when the member has started: the server's `started`, or (when absent) etcdctl's rule "has a name". */
export function memberStarted(m: MemberJson): boolean {
  return m.started ?? m.name !== "";
}

/**
 * Rows of `member list`: id, started|unstarted, name, peer urls, client urls, is learner
 * (etcdctl 3.4 makeMemberListTable).
 */
export function memberListRows(members: readonly MemberJson[]): string[][] {
  return members.map((m) => [
    m.id,
    memberStarted(m) ? "started" : "unstarted",
    m.name,
    m.peer_urls.join(","),
    m.client_urls.join(","),
    String(m.is_learner),
  ]);
}

/** A value quoted as Go's %q does for printable text (etcdctl prints the member add lines so). */
function goQuote(text: string): string {
  return JSON.stringify(text);
}

/**
 * `member add` simple output (etcdctl 3.4 member add): the confirmation line, a blank line, then
 * the settings that start the new member, e.g.
 * ```
 * Member 91bc3c398fb3c146 added to cluster cdf818194e3a8c32
 *
 * CAIRN_NAME="n2"
 * CAIRN_INITIAL_CLUSTER="n1=https://10.0.0.1:2380,n2=https://10.0.0.2:2380"
 * CAIRN_INITIAL_ADVERTISE_PEER_URLS="https://10.0.0.2:2380"
 * CAIRN_INITIAL_CLUSTER_STATE="existing"
 * ```
 * CAIRN_INITIAL_CLUSTER has one `name=url` per peer URL of every member in the answer's order,
 * the new member under `name`; other unstarted members have no name yet and appear as `=url`,
 * as etcdctl prints them.
 * @param name the new member's name (`member add NAME`)
 * @param res the answer of POST /v1/cluster/members (with `member`)
 * @throws Error when the answer has no `member`
 */
export function formatMemberAdd(name: string, res: MembersJson): string {
  const added = res.member;
  if (!added) throw new Error("unexpected answer to POST /v1/cluster/members: no member");
  const cluster: string[] = [];
  for (const m of res.members) {
    for (const url of m.peer_urls) cluster.push(`${m.id === added.id ? name : m.name}=${url}`);
  }
  const as = added.is_learner ? " as learner " : " ";
  return (
    `Member ${added.id} added${as}to cluster ${res.cluster_id}\n\n` +
    `CAIRN_NAME=${goQuote(name)}\n` +
    `CAIRN_INITIAL_CLUSTER=${goQuote(cluster.join(","))}\n` +
    `CAIRN_INITIAL_ADVERTISE_PEER_URLS=${goQuote(added.peer_urls.join(","))}\n` +
    `CAIRN_INITIAL_CLUSTER_STATE="existing"\n`
  );
}

/** `member remove|update|promote` simple output (etcdctl): "Member <id> removed from cluster <cluster id>". */
export function formatMemberChange(
  verb: "removed from" | "updated in" | "promoted in",
  id: string,
  clusterId: string,
): string {
  return `Member ${id} ${verb} cluster ${clusterId}\n`;
}

/** `move-leader` simple output (etcdctl): "Leadership transferred from <old> to <new>". */
export function formatMoveLeader(previous: string, leader: string): string {
  return `Leadership transferred from ${previous} to ${leader}\n`;
}

/** Headers of `endpoint status -w table` (etcdctl 3.5 makeEndpointStatusTable). */
export const ENDPOINT_STATUS_HEADERS = [
  "Endpoint",
  "ID",
  "Version",
  "DB Size",
  "Is Leader",
  "Is Learner",
  "Raft Term",
  "Raft Index",
  "Raft Applied Index",
  "Errors",
] as const;

/** The status of one endpoint, as `endpoint status` collects it. */
export interface EndpointStatusRow {
  endpoint: string;
  status: StatusJson;
}

/** Rows of `endpoint status`. */
export function endpointStatusRows(list: readonly EndpointStatusRow[]): string[][] {
  return list.map(({ endpoint, status }) => [
    endpoint,
    status.member_id,
    status.version,
    formatBytesSI(status.db_size),
    String(status.is_leader),
    String(status.is_learner),
    String(status.raft_term),
    String(status.raft_index),
    String(status.applied_index),
    status.errors.join(", "),
  ]);
}

/** Headers of `endpoint health -w table` (etcdctl makeEndpointHealthTable). */
export const ENDPOINT_HEALTH_HEADERS = ["Endpoint", "Health", "Took", "Error"] as const;

/** Rows of `endpoint health`. */
export function endpointHealthRows(list: readonly EndpointHealth[]): string[][] {
  return list.map((h) => [h.endpoint, String(h.health), formatDurationGo(h.tookMs), h.error]);
}

/** JSON of `endpoint health` (etcdctl epHealth: endpoint, health, took, error). */
export function endpointHealthJson(list: readonly EndpointHealth[]): unknown[] {
  return list.map((h) => ({
    endpoint: h.endpoint,
    health: h.health,
    took: formatDurationGo(h.tookMs),
    ...(h.error === "" ? {} : { error: h.error }),
  }));
}

/**
 * `endpoint health` simple output (etcdctl): healthy lines go to stdout,
 * unhealthy lines to stderr.
 */
export function formatEndpointHealthSimple(list: readonly EndpointHealth[]): {
  stdout: string;
  stderr: string;
} {
  let stdout = "";
  let stderr = "";
  for (const h of list) {
    if (h.health) {
      stdout += `${h.endpoint} is healthy: successfully committed proposal: took = ${formatDurationGo(h.tookMs)}\n`;
    } else {
      stderr += `${h.endpoint} is unhealthy: failed to commit proposal: ${h.error}\n`;
    }
  }
  return { stdout, stderr };
}

const SI_SIZES = ["B", "kB", "MB", "GB", "TB", "PB", "EB"] as const;

/** Rounds x.5 to the even neighbour, as Go's %.0f does for exact halves. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (Math.abs(diff - 0.5) < 1e-9) return floor % 2 === 0 ? floor : floor + 1;
  return Math.round(x);
}

/**
 * Bytes in SI units as etcdctl shows DB size (go-humanize Bytes): "9 B", "1.5 kB", "20 kB", "1.6 MB".
 * @param bytes a non-negative integer
 */
export function formatBytesSI(bytes: number): string {
  if (bytes < 10) return `${bytes} B`;
  const e = Math.min(Math.floor(Math.log(bytes) / Math.log(1000)), SI_SIZES.length - 1);
  const val = Math.floor((bytes / 1000 ** e) * 10 + 0.5) / 10;
  const text = val < 10 ? val.toFixed(1) : String(roundHalfEven(val));
  return `${text} ${SI_SIZES[e]}`;
}

/** `whole.frac` with the fraction of `digits` digits, trailing zeros removed (Go Duration style). */
function decimal(whole: number, frac: number, digits: number): string {
  const f = String(frac).padStart(digits, "0").replace(/0+$/, "");
  return f === "" ? String(whole) : `${whole}.${f}`;
}

/**
 * A duration in Go's time.Duration.String() form, as etcdctl prints "took":
 * "850ns", "12.5µs", "2.1ms", "1.5s", "1m2.5s". Rounded to the nanosecond.
 * @param ms duration in milliseconds (may be fractional)
 */
export function formatDurationGo(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${decimal(Math.floor(ns / 1_000), ns % 1_000, 3)}µs`;
  if (ns < 1_000_000_000) return `${decimal(Math.floor(ns / 1_000_000), ns % 1_000_000, 6)}ms`;
  const totalSeconds = Math.floor(ns / 1_000_000_000);
  const seconds = decimal(totalSeconds % 60, ns % 1_000_000_000, 9);
  const minutes = Math.floor(totalSeconds / 60) % 60;
  const hours = Math.floor(totalSeconds / 3600);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

/** A lease id as etcdctl prints it: 16 hex digits (%016x). */
export function leaseHex(id: number): string {
  return id.toString(16).padStart(16, "0");
}

/** `lease grant` simple output (etcdctl): "lease <id> granted with TTL(<ttl>s)". */
export function formatLeaseGrant(id: number, ttl: number): string {
  return `lease ${leaseHex(id)} granted with TTL(${ttl}s)\n`;
}

/** `lease revoke` simple output (etcdctl): "lease <id> revoked". */
export function formatLeaseRevoke(id: number): string {
  return `lease ${leaseHex(id)} revoked\n`;
}

/** One `lease keep-alive` answer (etcdctl): "lease <id> keepalived with TTL(<ttl>)". */
export function formatKeepAlive(id: number, ttl: number): string {
  return `lease ${leaseHex(id)} keepalived with TTL(${ttl})\n`;
}

/** `lease keep-alive` once the lease is gone (etcdctl): "lease <id> expired or revoked.". */
export function formatKeepAliveEnded(id: number): string {
  return `lease ${leaseHex(id)} expired or revoked.\n`;
}

/**
 * `lease timetolive [--keys]` simple output (etcdctl printer_simple TimeToLive):
 * "lease <id> granted with TTL(<g>s), remaining(<r>s)[, attached keys([k1 k2])]", or
 * "lease <id> already expired" when it does not exist.
 * @param keys the attached keys as text, when asked for
 */
export function formatTimeToLive(
  id: number,
  r: { ttl: number; granted_ttl: number } | undefined,
  keys?: readonly string[],
): string {
  if (r === undefined) return `lease ${leaseHex(id)} already expired\n`;
  const base = `lease ${leaseHex(id)} granted with TTL(${r.granted_ttl}s), remaining(${r.ttl}s)`;
  return keys === undefined ? `${base}\n` : `${base}, attached keys([${keys.join(" ")}])\n`;
}

/** `lease list` simple output (etcdctl): "found N leases", then one id per line. */
export function formatLeaseList(ids: readonly number[]): string {
  return `found ${ids.length} leases\n${ids.map((id) => `${leaseHex(id)}\n`).join("")}`;
}

/** `compaction` output (etcdctl): "compacted revision N". */
export function formatCompaction(revision: number): string {
  return `compacted revision ${revision}\n`;
}
