/**
 * Configuration of `cairn serve`: flags with etcd's names and meaning
 * (https://etcd.io/docs/v3.5/op-guide/configuration/), each also settable by an environment
 * variable CAIRN_<FLAG_UPPER_SNAKE>. A flag wins over its variable (the shadowed variable is
 * reported in `warnings`). Flags follow Go's flag syntax as etcd does: `--name x`, `--name=x`,
 * `-name x`, `-name=x`; a repeated flag keeps its last value.
 *
 * The flag table {@link SERVE_FLAGS} is data, so `cairn serve --help` and the README's table come
 * from one source ({@link formatServeHelp}, {@link formatServeFlagsMarkdown}).
 */
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { assert } from "../util/assert.ts";
import {
  DEFAULT_ELECTION_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_REQUEST_BYTES,
  DEFAULT_SNAPSHOT_COUNT,
  SNAPSHOT_CATCH_UP_ENTRIES,
} from "../util/limits.ts";
import type { AutoCompaction } from "./compactor.ts";
import { clusterIdFor, memberIdFor } from "./ids.ts";

/** Largest --election-timeout in ms (etcd: maxElectionMs = 50000, server/embed/config.go). */
export const MAX_ELECTION_TIMEOUT_MS = 50_000;

/** --election-timeout must be at least this many heartbeat intervals (etcd Config.Validate). */
export const ELECTION_TIMEOUT_MIN_HEARTBEATS = 5;

/** Prefix of every Cairn environment variable. */
export const ENV_PREFIX = "CAIRN_";

/**
 * Environment variables of the `cairn` client commands (src/cli). `cairn serve` ignores them so
 * that a shell configured for the client can still start a member.
 */
export const CLIENT_ENV_VARS: ReadonlySet<string> = new Set(["CAIRN_ENDPOINTS", "CAIRN_COMMAND_TIMEOUT"]);

/** Log levels of --log-level, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One flag of `cairn serve`, as documented. */
export interface ServeFlag {
  /** Flag name without dashes, etcd's name (e.g. "initial-cluster-state"). */
  readonly name: string;
  /** Environment variable that sets it when the flag is absent (e.g. "CAIRN_INITIAL_CLUSTER_STATE"). */
  readonly env: string;
  /** Placeholder of the value in help text (e.g. "ms", "url[,url...]"). */
  readonly valueHint: string;
  /** Default as shown to people ("" when the flag is required). */
  readonly defaultText: string;
  /** One sentence: what it does, with its unit. */
  readonly description: string;
}

/** Environment variable of a flag: CAIRN_ + upper snake case (etcd pkg/flags FlagToEnv). */
export function envVarFor(flagName: string): string {
  return ENV_PREFIX + flagName.toUpperCase().replaceAll("-", "_");
}

function flag(name: string, valueHint: string, defaultText: string, description: string): ServeFlag {
  return { name, env: envVarFor(name), valueHint, defaultText, description };
}

/** Every flag of `cairn serve`, in help order. */
export const SERVE_FLAGS: readonly ServeFlag[] = [
  flag("name", "string", "default", "Human-readable name of this member; must appear in --initial-cluster."),
  flag(
    "data-dir",
    "path",
    "<name>.cairn",
    "Directory of this member's write-ahead log, snapshots and metadata.",
  ),
  flag(
    "listen-client-urls",
    "url[,url...]",
    "http://localhost:2379",
    "URLs (http) to listen on for client traffic (HTTP/1.1 and HTTP/2).",
  ),
  flag(
    "advertise-client-urls",
    "url[,url...]",
    "<listen-client-urls>",
    "Client URLs of this member as published to the cluster and to clients.",
  ),
  flag(
    "listen-peer-urls",
    "url[,url...]",
    "https://localhost:2380",
    "URLs (https) to listen on for Raft traffic from peers (mutual TLS).",
  ),
  flag(
    "initial-advertise-peer-urls",
    "url[,url...]",
    "<listen-peer-urls>",
    "Peer URLs of this member as the other members reach it.",
  ),
  flag(
    "initial-cluster",
    "name=url[,name=url...]",
    "<name>=<initial-advertise-peer-urls>",
    "Initial members for bootstrapping; a name may appear several times for several peer URLs.",
  ),
  flag(
    "initial-cluster-state",
    "new|existing",
    "new",
    "'new' when every initial member starts together, 'existing' to join a running cluster.",
  ),
  flag(
    "initial-cluster-token",
    "string",
    "cairn-cluster",
    "Token that makes member and cluster ids unique to this cluster during bootstrap.",
  ),
  flag(
    "heartbeat-interval",
    "ms",
    String(DEFAULT_HEARTBEAT_INTERVAL_MS),
    "Time in milliseconds between leader heartbeats.",
  ),
  flag(
    "election-timeout",
    "ms",
    String(DEFAULT_ELECTION_TIMEOUT_MS),
    `Time in milliseconds a follower waits without a heartbeat before starting an election; at least ${ELECTION_TIMEOUT_MIN_HEARTBEATS} x --heartbeat-interval, at most ${MAX_ELECTION_TIMEOUT_MS}.`,
  ),
  flag(
    "snapshot-count",
    "count",
    String(DEFAULT_SNAPSHOT_COUNT),
    "Number of applied log entries between two snapshots (a member's first one is shifted by its rank, up to half of it, so that voters snapshot out of step).",
  ),
  flag(
    "snapshot-catchup-entries",
    "count",
    String(SNAPSHOT_CATCH_UP_ENTRIES),
    "Log entries kept after a snapshot so a slow follower catches up by appends rather than a snapshot (etcd 3.6 flag).",
  ),
  flag(
    "max-request-bytes",
    "bytes",
    String(DEFAULT_MAX_REQUEST_BYTES),
    "Largest client request body in bytes.",
  ),
  flag(
    "auto-compaction-mode",
    "periodic|revision",
    "periodic",
    "How --auto-compaction-retention is read: 'periodic' keeps a duration of history, 'revision' keeps a number of revisions.",
  ),
  flag(
    "auto-compaction-retention",
    "duration|count",
    "0",
    "History the leader keeps when compacting automatically; 0 turns it off. periodic: a Go duration ('30m', '1h30m') or a number of hours, compacting every min(retention, 1h); revision: revisions to keep, checked every 5 minutes.",
  ),
  flag("peer-cert-file", "path", "", "Certificate (PEM) this member presents to peers. Required."),
  flag("peer-key-file", "path", "", "Private key (PEM) of --peer-cert-file. Required."),
  flag("peer-trusted-ca-file", "path", "", "CA bundle (PEM) that peer certificates must chain to. Required."),
  flag("log-level", LOG_LEVELS.join("|"), "info", "Lowest level of log lines written."),
];

const FLAGS_BY_NAME: ReadonlyMap<string, ServeFlag> = new Map(SERVE_FLAGS.map((f) => [f.name, f]));
const FLAGS_BY_ENV: ReadonlyMap<string, ServeFlag> = new Map(SERVE_FLAGS.map((f) => [f.env, f]));

/** One member of the initial cluster with its derived id. */
export interface InitialMember {
  /** 16 hex digits, from {@link memberIdFor}. */
  id: string;
  name: string;
  /** Canonical peer URLs (`https://host:port`). */
  peerUrls: string[];
}

/**
 * The validated configuration of one member. URLs are canonical strings `scheme://host:port`
 * (lower-case host, explicit port, no trailing slash), the form member ids are derived from.
 */
export interface ServeConfig {
  name: string;
  dataDir: string;
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  /** --initial-cluster grouped by name, in order of first appearance. */
  initialCluster: { name: string; peerUrls: string[] }[];
  initialClusterState: "new" | "existing";
  initialClusterToken: string;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  snapshotCount: number;
  /** Entries kept in the log after a snapshot for slow followers (--snapshot-catchup-entries). */
  snapshotCatchUpEntries: number;
  maxRequestBytes: number;
  /** Automatic compaction from --auto-compaction-mode / --auto-compaction-retention; null when off (retention 0). */
  autoCompaction: AutoCompaction | null;
  peerCertFile: string;
  peerKeyFile: string;
  peerTrustedCaFile: string;
  logLevel: LogLevel;
  /**
   * Cluster id derived from the initial members (etcd genID). With --initial-cluster-state
   * existing the running cluster's id is authoritative; this value is then only provisional.
   */
  clusterId: string;
  /** This member's id, derived from its peer URLs and the token (etcd computeMemberId). */
  memberId: string;
  /** Initial members with ids, in --initial-cluster order. */
  members: InitialMember[];
  /** Non-fatal notes for the log, e.g. an environment variable shadowed by its flag. */
  warnings: string[];
}

/** Invalid `cairn serve` configuration. The message names the flag (and variable) at fault. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** True when the arguments ask for help (-h / --help) rather than being wrong. */
  readonly helpRequested: boolean;
  constructor(message: string, options?: { helpRequested?: boolean }) {
    super(message);
    this.helpRequested = options?.helpRequested ?? false;
  }
}

/** True when `argv` asks for `cairn serve` help (-h, --help, -help). */
export function isServeHelpRequest(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (arg === "-h" || arg === "--help" || arg === "-help") return true;
  }
  return false;
}

/** Raw value of one flag and where it came from. */
interface RawValue {
  value: string;
  /** Label for messages: "--name" or "--name (from CAIRN_NAME)". */
  label: string;
}

/**
 * Splits argv into flag values (Go flag syntax, as etcd). Last occurrence wins.
 * @throws ConfigError on an unknown flag, a missing value, or a positional argument
 */
function tokenize(argv: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      const rest = argv[i + 1];
      if (rest !== undefined)
        throw new ConfigError(`unexpected argument '${rest}' (cairn serve takes only flags)`);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      throw new ConfigError(`unexpected argument '${arg}' (cairn serve takes only flags)`);
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    if (name === "h" || name === "help") throw new ConfigError("help requested", { helpRequested: true });
    if (!FLAGS_BY_NAME.has(name)) throw new ConfigError(`unknown flag --${name}`);
    let value: string;
    if (eq !== -1) {
      value = body.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`--${name}: missing value (expected ${hint(name)})`);
      value = next;
      i++;
    }
    values.set(name, value);
  }
  return values;
}

function hint(name: string): string {
  return FLAGS_BY_NAME.get(name)?.valueHint ?? "a value";
}

/**
 * Merges flags with environment variables. A flag wins over its variable; empty variables are
 * ignored (etcd pkg/flags setFlagFromEnv).
 * @throws ConfigError on a CAIRN_* variable that is no flag of `cairn serve` (nor of the client)
 */
function mergeEnv(
  fromFlags: Map<string, string>,
  env: Record<string, string | undefined>,
  warnings: string[],
): Map<string, RawValue> {
  const merged = new Map<string, RawValue>();
  for (const [name, value] of fromFlags) merged.set(name, { value, label: `--${name}` });
  for (const key of Object.keys(env).sort()) {
    if (!key.startsWith(ENV_PREFIX)) continue;
    const value = env[key];
    if (value === undefined || value === "") continue;
    const spec = FLAGS_BY_ENV.get(key);
    if (!spec) {
      if (CLIENT_ENV_VARS.has(key)) continue;
      throw new ConfigError(
        `unrecognized environment variable ${key} (no flag --${key.slice(ENV_PREFIX.length).toLowerCase().replaceAll("_", "-")})`,
      );
    }
    if (fromFlags.has(spec.name)) {
      warnings.push(`environment variable ${key} is shadowed by the flag --${spec.name}`);
      continue;
    }
    merged.set(spec.name, { value, label: `--${spec.name} (from ${key})` });
  }
  return merged;
}

/** Kinds of URL list, with the rules each follows. */
interface UrlRules {
  schemes: readonly ("http" | "https")[];
  /** Advertised URLs must be reachable: no 0.0.0.0 / [::], no port 0. */
  advertised: boolean;
  /** Why only these schemes, shown in the error. */
  why?: string;
}

// Client TLS (https listeners) arrives with a later issue; until then a listener is plain http.
const CLIENT_LISTEN: UrlRules = {
  schemes: ["http"],
  advertised: false,
  why: "TLS for clients is not supported yet",
};
const CLIENT_ADVERTISE: UrlRules = { schemes: ["http", "https"], advertised: true };
const PEER_LISTEN: UrlRules = { schemes: ["https"], advertised: false, why: "peers always use mutual TLS" };
const PEER_ADVERTISE: UrlRules = { schemes: ["https"], advertised: true, why: "peers always use mutual TLS" };

const AUTHORITY_PORT = /^(?:\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/;
const UNSPECIFIED_HOSTS = new Set(["0.0.0.0", "[::]"]);

/**
 * Validates one URL and returns its canonical form `scheme://host:port`. Rules follow etcd's
 * types.NewURLs: allowed scheme, "host:port" with an explicit port, no path, query or user info.
 * @throws ConfigError naming `label`
 */
function canonicalUrl(label: string, raw: string, rules: UrlRules): string {
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(
      `${label}: '${raw}' is not a URL (expected ${rules.schemes.join(" or ")}://host:port)`,
    );
  }
  const scheme = url.protocol.slice(0, -1);
  if (!(rules.schemes as readonly string[]).includes(scheme)) {
    const why = rules.why ? ` (${rules.why})` : "";
    throw new ConfigError(`${label}: '${raw}' must use ${rules.schemes.join(" or ")}${why}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new ConfigError(`${label}: '${raw}' must not contain user info`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    throw new ConfigError(`${label}: '${raw}' must not contain a path, query or fragment`);
  }
  const authority = text.slice(text.indexOf("//") + 2).split(/[/?#]/)[0] ?? "";
  const portMatch = AUTHORITY_PORT.exec(authority);
  if (url.hostname === "" || !portMatch) {
    throw new ConfigError(
      `${label}: '${raw}' must have the form ${scheme}://host:port (host and port required)`,
    );
  }
  const port = Number(portMatch[1]);
  if (port > 65_535 || (rules.advertised && port === 0)) {
    throw new ConfigError(`${label}: '${raw}' has an invalid port ${portMatch[1]}`);
  }
  if (rules.advertised && UNSPECIFIED_HOSTS.has(url.hostname)) {
    throw new ConfigError(
      `${label}: '${raw}' is not reachable by others (${url.hostname} is a listen-only address); advertise a routable host`,
    );
  }
  return `${scheme}://${url.hostname}:${port}`;
}

/** Splits a comma list of URLs and canonicalizes each. @throws ConfigError */
function urlList(label: string, raw: string, rules: UrlRules): string[] {
  const items = raw.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) {
    throw new ConfigError(`${label}: expected a comma-separated list of URLs, got '${raw}'`);
  }
  const urls = items.map((s) => canonicalUrl(label, s, rules));
  const seen = new Set<string>();
  for (const u of urls) {
    if (seen.has(u)) throw new ConfigError(`${label}: URL ${u} is listed twice`);
    seen.add(u);
  }
  return urls;
}

/** Parses a positive decimal integer. @throws ConfigError naming `label` */
function positiveInt(label: string, raw: string, unit: string): number {
  const text = raw.trim();
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigError(`${label}: expected a positive integer (${unit}), got '${raw}'`);
  }
  return n;
}

/** Checks that a required file exists and is readable. @throws ConfigError naming `label` and the path */
function requiredFile(label: string, raw: RawValue | undefined, flagName: string, why: string): string {
  const path = raw?.value.trim() ?? "";
  if (path === "")
    throw new ConfigError(`${label}: required (${why}); set --${flagName} or ${envVarFor(flagName)}`);
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new ConfigError(`${label}: file not found: ${path}`);
  }
  if (!isFile) throw new ConfigError(`${label}: not a regular file: ${path}`);
  try {
    accessSync(path, fsConstants.R_OK);
  } catch {
    throw new ConfigError(`${label}: file not readable: ${path}`);
  }
  return path;
}

/** A member name usable in --initial-cluster. @throws ConfigError */
function memberName(label: string, raw: string): string {
  if (raw === "") throw new ConfigError(`${label}: must not be empty`);
  if (/[,=\s]/.test(raw)) {
    throw new ConfigError(
      `${label}: '${raw}' must not contain ',', '=' or whitespace (it is used in --initial-cluster)`,
    );
  }
  return raw;
}

/**
 * Parses --initial-cluster "name=url,name=url,..." into members grouped by name (etcd
 * types.NewURLsMap). A peer URL may belong to one member only.
 * @throws ConfigError
 */
function parseInitialCluster(label: string, raw: string): { name: string; peerUrls: string[] }[] {
  const byName = new Map<string, string[]>();
  const owner = new Map<string, string>();
  for (const item of raw.split(",")) {
    const entry = item.trim();
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new ConfigError(`${label}: entry '${entry}' is not name=url (in '${raw}')`);
    const name = memberName(label, entry.slice(0, eq).trim());
    const url = canonicalUrl(label, entry.slice(eq + 1), PEER_ADVERTISE);
    const prev = owner.get(url);
    if (prev !== undefined) {
      throw new ConfigError(
        prev === name
          ? `${label}: peer URL ${url} is listed twice for '${name}'`
          : `${label}: peer URL ${url} is given to both '${prev}' and '${name}'`,
      );
    }
    owner.set(url, name);
    const urls = byName.get(name);
    if (urls) urls.push(url);
    else byName.set(name, [url]);
  }
  return [...byName].map(([name, peerUrls]) => ({ name, peerUrls }));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((v, i) => v === sb[i]);
}

/**
 * Parses and validates the configuration of `cairn serve`.
 *
 * Rules (etcd's, see https://etcd.io/docs/v3.5/op-guide/configuration/ and embed.Config.Validate):
 * - every flag has a variable CAIRN_<FLAG_UPPER_SNAKE>; a flag wins over its variable; a CAIRN_*
 *   variable that is no flag is an error (client variables {@link CLIENT_ENV_VARS} are ignored);
 * - --heartbeat-interval and --election-timeout are positive integers in ms, and
 *   election timeout >= 5 x heartbeat interval, <= 50000 ms;
 * - client URLs are http(s), peer URLs https only (peers always use mutual TLS), all with an
 *   explicit host and port; advertised URLs must not be 0.0.0.0 / [::];
 * - --name must appear in --initial-cluster with exactly the URLs of --initial-advertise-peer-urls;
 * - the three --peer-*-file flags are required and must name readable files.
 *
 * @param argv the arguments after `serve` (flags only)
 * @param env the process environment (only CAIRN_* keys are read)
 * @returns the configuration with derived member and cluster ids
 * @throws ConfigError whose message names the flag (and variable) at fault; `helpRequested` is
 *   set for -h/--help
 */
export function parseServeConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): ServeConfig {
  const warnings: string[] = [];
  const raw = mergeEnv(tokenize(argv), env, warnings);
  const get = (name: string): RawValue | undefined => {
    assert(FLAGS_BY_NAME.has(name), "parseServeConfig: no flag --%s", name);
    return raw.get(name);
  };
  const label = (name: string): string => get(name)?.label ?? `--${name}`;

  const name = memberName(label("name"), get("name")?.value ?? "default");
  const dataDirRaw = get("data-dir")?.value.trim() ?? `${name}.cairn`;
  if (dataDirRaw === "") throw new ConfigError(`${label("data-dir")}: must not be empty`);

  const listenClientUrls = urlList(
    label("listen-client-urls"),
    get("listen-client-urls")?.value ?? "http://localhost:2379",
    CLIENT_LISTEN,
  );
  const advertiseClient = get("advertise-client-urls");
  const advertiseClientUrls = advertiseClient
    ? urlList(advertiseClient.label, advertiseClient.value, CLIENT_ADVERTISE)
    : defaultAdvertised("advertise-client-urls", "listen-client-urls", listenClientUrls, CLIENT_ADVERTISE);

  const listenPeerUrls = urlList(
    label("listen-peer-urls"),
    get("listen-peer-urls")?.value ?? "https://localhost:2380",
    PEER_LISTEN,
  );
  const advertisePeer = get("initial-advertise-peer-urls");
  const initialAdvertisePeerUrls = advertisePeer
    ? urlList(advertisePeer.label, advertisePeer.value, PEER_ADVERTISE)
    : defaultAdvertised("initial-advertise-peer-urls", "listen-peer-urls", listenPeerUrls, PEER_ADVERTISE);

  const clusterLabel = label("initial-cluster");
  const initialCluster = parseInitialCluster(
    clusterLabel,
    get("initial-cluster")?.value ?? initialAdvertisePeerUrls.map((u) => `${name}=${u}`).join(","),
  );
  const self = initialCluster.find((m) => m.name === name);
  if (!self) {
    throw new ConfigError(
      `${clusterLabel}: this member's name '${name}' (--name) is not in --initial-cluster; add ${initialAdvertisePeerUrls
        .map((u) => `${name}=${u}`)
        .join(",")}`,
    );
  }
  if (!sameSet(self.peerUrls, initialAdvertisePeerUrls)) {
    throw new ConfigError(
      `${clusterLabel}: peer URLs of '${name}' (${self.peerUrls.join(",")}) do not match --initial-advertise-peer-urls (${initialAdvertisePeerUrls.join(",")})`,
    );
  }

  const state = get("initial-cluster-state")?.value.trim() ?? "new";
  if (state !== "new" && state !== "existing") {
    throw new ConfigError(`${label("initial-cluster-state")}: expected 'new' or 'existing', got '${state}'`);
  }
  const initialClusterToken = get("initial-cluster-token")?.value ?? "cairn-cluster";
  if (initialClusterToken === "")
    throw new ConfigError(`${label("initial-cluster-token")}: must not be empty`);

  const heartbeatIntervalMs = intFlag("heartbeat-interval", DEFAULT_HEARTBEAT_INTERVAL_MS, "ms");
  const electionTimeoutMs = intFlag("election-timeout", DEFAULT_ELECTION_TIMEOUT_MS, "ms");
  if (electionTimeoutMs < ELECTION_TIMEOUT_MIN_HEARTBEATS * heartbeatIntervalMs) {
    throw new ConfigError(
      `${label("election-timeout")}: ${electionTimeoutMs}ms should be at least ${ELECTION_TIMEOUT_MIN_HEARTBEATS} times --heartbeat-interval (${heartbeatIntervalMs}ms), i.e. >= ${ELECTION_TIMEOUT_MIN_HEARTBEATS * heartbeatIntervalMs}ms`,
    );
  }
  if (electionTimeoutMs > MAX_ELECTION_TIMEOUT_MS) {
    throw new ConfigError(
      `${label("election-timeout")}: ${electionTimeoutMs}ms is too long; it must be at most ${MAX_ELECTION_TIMEOUT_MS}ms`,
    );
  }
  const snapshotCount = intFlag("snapshot-count", DEFAULT_SNAPSHOT_COUNT, "entries");
  const snapshotCatchUpEntries = intFlag("snapshot-catchup-entries", SNAPSHOT_CATCH_UP_ENTRIES, "entries");
  const maxRequestBytes = intFlag("max-request-bytes", DEFAULT_MAX_REQUEST_BYTES, "bytes");
  const autoCompaction = parseAutoCompaction(
    label("auto-compaction-mode"),
    get("auto-compaction-mode")?.value ?? "periodic",
    label("auto-compaction-retention"),
    get("auto-compaction-retention")?.value ?? "0",
  );

  const tlsWhy = "peers always use mutual TLS";
  const peerCertFile = requiredFile(label("peer-cert-file"), get("peer-cert-file"), "peer-cert-file", tlsWhy);
  const peerKeyFile = requiredFile(label("peer-key-file"), get("peer-key-file"), "peer-key-file", tlsWhy);
  const peerTrustedCaFile = requiredFile(
    label("peer-trusted-ca-file"),
    get("peer-trusted-ca-file"),
    "peer-trusted-ca-file",
    tlsWhy,
  );

  const level = get("log-level")?.value.trim() ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`${label("log-level")}: expected one of ${LOG_LEVELS.join(", ")}, got '${level}'`);
  }

  const members: InitialMember[] = initialCluster.map((m) => ({
    id: memberIdFor(m.peerUrls, initialClusterToken),
    name: m.name,
    peerUrls: [...m.peerUrls],
  }));
  const ids = new Set(members.map((m) => m.id));
  assert(ids.size === members.length, "parseServeConfig: two initial members derived the same id");
  const memberId = memberIdFor(initialAdvertisePeerUrls, initialClusterToken);
  assert(ids.has(memberId), "parseServeConfig: this member's id is not among the initial members");

  return {
    name,
    dataDir: dataDirRaw,
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: state,
    initialClusterToken,
    heartbeatIntervalMs,
    electionTimeoutMs,
    snapshotCount,
    snapshotCatchUpEntries,
    maxRequestBytes,
    autoCompaction,
    peerCertFile,
    peerKeyFile,
    peerTrustedCaFile,
    logLevel: level as LogLevel,
    clusterId: clusterIdFor(members.map((m) => m.id)),
    memberId,
    members,
    warnings,
  };

  function intFlag(flagName: string, fallback: number, unit: string): number {
    const v = get(flagName);
    return v ? positiveInt(v.label, v.value, unit) : fallback;
  }

  /** Default of an advertised list: the listen list, which must then be reachable. */
  function defaultAdvertised(
    advName: string,
    listenName: string,
    listen: string[],
    rules: UrlRules,
  ): string[] {
    try {
      return listen.map((u) => canonicalUrl(`--${advName}`, u, rules));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const detail = e.message.slice(`--${advName}: `.length);
      throw new ConfigError(
        `--${advName}: required because ${label(listenName)} cannot be advertised as is (${detail})`,
      );
    }
  }
}

const GO_DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration (time.ParseDuration: "300ms", "1.5h", "1h30m", "0"), as etcd's flags take them.
 * @returns milliseconds, or undefined when `text` is not a non-negative Go duration
 */
export function parseGoDurationMs(text: string): number | undefined {
  const t = text.trim();
  if (t === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < t.length) {
    re.lastIndex = at;
    const m = re.exec(t);
    if (!m) return undefined;
    ms += Number(m[1]) * GO_DURATION_UNITS_MS[m[2]!]!;
    at = re.lastIndex;
  }
  return at > 0 && Number.isFinite(ms) ? ms : undefined;
}

/**
 * --auto-compaction-mode and --auto-compaction-retention as etcd reads them (embed
 * parseCompactionRetention): a plain non-negative integer is hours (periodic) or revisions
 * (revision); otherwise a Go duration, which only periodic mode accepts. 0 turns compaction off.
 * @throws ConfigError naming the flag
 */
export function parseAutoCompaction(
  modeLabel: string,
  modeRaw: string,
  retentionLabel: string,
  retentionRaw: string,
): AutoCompaction | null {
  const mode = modeRaw.trim();
  if (mode !== "periodic" && mode !== "revision") {
    throw new ConfigError(`${modeLabel}: expected 'periodic' or 'revision', got '${modeRaw}'`);
  }
  const text = retentionRaw.trim();
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new ConfigError(`${retentionLabel}: '${retentionRaw}' is too large`);
    if (n === 0) return null;
    return mode === "revision" ? { mode, retention: n } : { mode, retentionMs: n * 3_600_000 };
  }
  if (mode === "revision") {
    throw new ConfigError(
      `${retentionLabel}: with --auto-compaction-mode revision, expected a number of revisions, got '${retentionRaw}'`,
    );
  }
  const ms = parseGoDurationMs(text);
  if (ms === undefined) {
    throw new ConfigError(
      `${retentionLabel}: expected a number of hours or a duration such as '30m' or '1h30m', got '${retentionRaw}'`,
    );
  }
  if (ms === 0) return null;
  if (ms < 1) throw new ConfigError(`${retentionLabel}: '${retentionRaw}' is shorter than 1ms`);
  return { mode, retentionMs: Math.round(ms) };
}

/** Text of `cairn serve --help`, from {@link SERVE_FLAGS}. */
export function formatServeHelp(): string {
  const lines = [
    "Usage: cairn serve [flags]",
    "",
    "Runs one member of a Cairn cluster. Every flag can also be set by the environment variable",
    "shown next to it; a flag given on the command line wins over its variable.",
    "",
    "Flags:",
  ];
  for (const f of SERVE_FLAGS) {
    lines.push(`  --${f.name} <${f.valueHint}>`);
    lines.push(`        ${f.description}`);
    const dflt = f.defaultText === "" ? "required" : `default: ${f.defaultText}`;
    lines.push(`        (${dflt}; env ${f.env})`);
  }
  return `${lines.join("\n")}\n`;
}

/** Markdown table of the flags for the README, from {@link SERVE_FLAGS}. */
export function formatServeFlagsMarkdown(): string {
  const esc = (s: string): string => s.replaceAll("|", "\\|");
  const rows = SERVE_FLAGS.map(
    (f) =>
      `| \`--${f.name}\` | \`${f.env}\` | ${f.defaultText === "" ? "required" : `\`${esc(f.defaultText)}\``} | ${esc(f.description)} |`,
  );
  return ["| Flag | Environment variable | Default | Meaning |", "|---|---|---|---|", ...rows, ""].join("\n");
}
