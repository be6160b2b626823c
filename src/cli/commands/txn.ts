/**
 * `cairn txn [FILE]`: sends a POST /v1/txn request written as the contract's JSON
 * ({"compare":[...],"success":[...],"failure":[...]}) from FILE, or from stdin when FILE is
 * absent or "-". etcdctl's txn reads an interactive mini-language; Cairn takes the API's JSON
 * so that the same request works with curl.
 */
import { readFile } from "node:fs/promises";
import { UsageError } from "../errors.ts";
import { formatJson, formatTxnSimple } from "../format.ts";
import { txn } from "../kv-api.ts";
import { type CommandContext, requireFormat } from "./context.ts";

/**
 * Reads and parses the request.
 * @throws UsageError when the file cannot be read or is not a JSON object
 */
export async function readTxnRequest(
  ctx: CommandContext,
  file: string | undefined,
): Promise<Record<string, unknown>> {
  let bytes: Uint8Array;
  const source = file === undefined || file === "-" ? "stdin" : file;
  if (source === "stdin") {
    bytes = await ctx.io.readStdin();
  } else {
    try {
      bytes = await readFile(source);
    } catch (e) {
      throw new UsageError(`cannot read ${source}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    throw new UsageError(`txn request from ${source} is not valid JSON: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError(
      `txn request from ${source} must be a JSON object with compare, success and failure`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** Runs `txn`. */
export async function runTxn(ctx: CommandContext, file: string | undefined): Promise<void> {
  const format = requireFormat(ctx, "txn", ["simple", "json"]);
  const request = await readTxnRequest(ctx, file);
  const res = await txn(ctx.client, request);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatTxnSimple(res));
}
