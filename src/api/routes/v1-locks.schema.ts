/**
 * zod schemas of the /v1 lock and election bodies (routes/v1-locks.ts, routes/v1-elections.ts),
 * strict objects (an unknown or misspelt field is an error naming it), and the wait timeout of
 * the `timeout_ms` query parameter.
 */
import { z } from "zod";
import { invalidArgument } from "../../util/errors.ts";
import { DEFAULT_LOCK_WAIT_MS, MAX_LOCK_WAIT_MS } from "../../util/limits.ts";
import { fromBase64, utf8 } from "../bytes.ts";
import { intParam } from "../query.ts";

/** A lease id in JSON: 1 ..= 2^53-1, as POST /v1/leases returns it. */
const leaseId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** A revision in JSON. */
const revision = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** POST /v1/locks/{name}: `{"lease": N}` (the lock key is attached to it). */
export const lockBodySchema = z.strictObject({ lease: leaseId });

/** A value as text, or base64 with `value_encoding: "base64"`. */
const valueFields = {
  value: z.string().optional(),
  value_encoding: z.literal("base64").optional(),
};

/** POST /v1/elections/{name}/campaign: `{"lease": N, "value"?: "…", "value_encoding"?: "base64"}`. */
export const campaignBodySchema = z.strictObject({ lease: leaseId, ...valueFields });

/**
 * The leader object campaign returned: `{"name"?, "key", "rev", "lease"}` (name, when given,
 * must be the election of the path; lease is needed by proclaim only).
 */
const leaderSchema = z.strictObject({
  name: z.string().optional(),
  key: z.string().min(1),
  rev: revision,
  lease: leaseId.optional(),
});

/** POST /v1/elections/{name}/proclaim: `{"leader": {…}, "value": "…", "value_encoding"?}`. */
export const proclaimBodySchema = z.strictObject({ leader: leaderSchema, ...valueFields });

/** POST /v1/elections/{name}/resign: `{"leader": {…}}`. */
export const resignBodySchema = z.strictObject({ leader: leaderSchema });

/** Parsed leader object. */
export type LeaderJson = z.output<typeof leaderSchema>;

/**
 * The bytes of a value field (empty when absent).
 * @throws CairnError "invalid_argument" on bad base64
 */
export function valueBytes(body: {
  value?: string | undefined;
  value_encoding?: "base64" | undefined;
}): Uint8Array {
  if (body.value === undefined) return new Uint8Array(0);
  if (body.value_encoding !== "base64") return utf8(body.value);
  const bytes = fromBase64(body.value);
  if (bytes === undefined) throw invalidArgument("value: expected base64 (value_encoding is base64)");
  return bytes;
}

/**
 * The `timeout_ms` query parameter of a lock or campaign: DEFAULT_LOCK_WAIT_MS when absent.
 * @throws CairnError "invalid_argument" when not an integer from 1 to MAX_LOCK_WAIT_MS
 */
export function waitTimeoutMs(raw: string | undefined): number {
  const ms = intParam(raw, "timeout_ms") ?? DEFAULT_LOCK_WAIT_MS;
  if (ms < 1 || ms > MAX_LOCK_WAIT_MS) {
    throw invalidArgument(`timeout_ms must be from 1 to ${MAX_LOCK_WAIT_MS}, got ${ms}`);
  }
  return ms;
}
