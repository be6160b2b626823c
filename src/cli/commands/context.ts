/**
 * What every client command gets: the parsed global flags (--endpoints, --command-timeout,
 * -w/--write-out), the I/O of the run and a {@link FailoverClient}. Global flags take their
 * defaults from CAIRN_ENDPOINTS / CAIRN_COMMAND_TIMEOUT; a flag wins over its variable.
 */
import { UsageError } from "../errors.ts";
import type { OutputFormat } from "../format.ts";
import { FailoverClient } from "../http-client.ts";
import type { CliIo } from "../io.ts";

/** Default endpoint list (etcdctl's default is 127.0.0.1:2379). */
export const DEFAULT_ENDPOINTS = "http://127.0.0.1:2379";

/** Default --command-timeout in ms (etcdctl: 5s). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;

/** Parsed global flags. */
export interface GlobalOptions {
  endpoints: string[];
  commandTimeoutMs: number;
  writeOut: OutputFormat;
}

/** Everything a command needs. */
export interface CommandContext {
  io: CliIo;
  globals: GlobalOptions;
  client: FailoverClient;
}

/** Global flags as commander hands them over (strings, possibly absent). */
export interface RawGlobalOptions {
  endpoints?: string;
  commandTimeout?: string;
  writeOut?: string;
}

/**
 * Parses a duration in ms: "1500" (ms), or with a unit "1500ms", "5s", "1m" (etcdctl takes Go
 * durations such as "5s").
 * @throws UsageError naming `label`
 */
export function parseDurationMs(label: string, raw: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(raw.trim());
  const factor = m?.[2] === "s" ? 1_000 : m?.[2] === "m" ? 60_000 : 1;
  const ms = m ? Number(m[1]) * factor : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new UsageError(
      `${label}: expected a positive duration in ms (or with unit ms, s, m), got '${raw}'`,
    );
  }
  return ms;
}

/**
 * Resolves the global flags against the environment.
 * @throws UsageError on an empty endpoint list, a bad timeout or an unknown output format
 */
export function resolveGlobals(
  raw: RawGlobalOptions,
  env: Record<string, string | undefined>,
): GlobalOptions {
  const endpointsText = raw.endpoints ?? (env.CAIRN_ENDPOINTS || DEFAULT_ENDPOINTS);
  const endpoints = endpointsText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const endpointsLabel = raw.endpoints !== undefined ? "--endpoints" : "--endpoints (from CAIRN_ENDPOINTS)";
  if (endpoints.length === 0) throw new UsageError(`${endpointsLabel}: no endpoint given`);

  const timeoutRaw = raw.commandTimeout ?? env.CAIRN_COMMAND_TIMEOUT;
  const timeoutLabel =
    raw.commandTimeout !== undefined ? "--command-timeout" : "--command-timeout (from CAIRN_COMMAND_TIMEOUT)";
  const commandTimeoutMs =
    timeoutRaw === undefined || timeoutRaw === ""
      ? DEFAULT_COMMAND_TIMEOUT_MS
      : parseDurationMs(timeoutLabel, timeoutRaw);

  const writeOut = raw.writeOut ?? "simple";
  if (writeOut !== "simple" && writeOut !== "json" && writeOut !== "table") {
    throw new UsageError(`--write-out: expected simple, json or table, got '${writeOut}'`);
  }
  return { endpoints, commandTimeoutMs, writeOut };
}

/** @throws UsageError when the command does not support the chosen output format */
export function requireFormat(
  ctx: CommandContext,
  command: string,
  allowed: readonly OutputFormat[],
): OutputFormat {
  const f = ctx.globals.writeOut;
  if (!allowed.includes(f)) {
    throw new UsageError(`--write-out: ${command} supports ${allowed.join(", ")}, not ${f}`);
  }
  return f;
}

/**
 * Parses a non-negative integer option.
 * @throws UsageError naming `label`
 */
export function parseCount(label: string, raw: string): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new UsageError(`${label}: expected a non-negative integer, got '${raw}'`);
  return n;
}

/** Builds the context of one command run. @throws UsageError on bad globals or endpoints */
export function createContext(io: CliIo, raw: RawGlobalOptions): CommandContext {
  const globals = resolveGlobals(raw, io.env);
  let client: FailoverClient;
  try {
    client = new FailoverClient({ endpoints: globals.endpoints, commandTimeoutMs: globals.commandTimeoutMs });
  } catch (e) {
    throw new UsageError(`--endpoints: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { io, globals, client };
}
