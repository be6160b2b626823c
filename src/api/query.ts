/**
 * Parsing of /v1 query parameters and conditional headers. Cheap hand-written checks (no schema
 * library) because GET /v1/kv is the hot path. Every failure is CairnError "invalid_argument"
 * naming the parameter.
 */
import type { ReadConsistency } from "../server/service.ts";
import { invalidArgument } from "../util/errors.ts";

/**
 * A boolean flag: "true"/"1"/"" (bare `?prefix`) → true, "false"/"0" → false, absent → false.
 * @throws CairnError "invalid_argument" for anything else
 */
export function boolParam(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "true" || value === "1" || value === "") return true;
  throw invalidArgument(`query parameter ${name} must be true or false, got "${value}"`);
}

/**
 * A non-negative decimal integer (a revision, a limit, a lease id).
 * @returns undefined when absent
 * @throws CairnError "invalid_argument" when not a non-negative safe integer
 */
export function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw invalidArgument(`query parameter ${name} must be a non-negative integer, got "${value}"`);
  }
  return n;
}

/**
 * One of `choices` (as written in the contract), or undefined when absent.
 * @throws CairnError "invalid_argument" for any other value
 */
export function enumParam<T extends string>(
  value: string | undefined,
  name: string,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw invalidArgument(`query parameter ${name} must be one of ${choices.join("|")}, got "${value}"`);
}

const CONSISTENCIES = ["linearizable", "serializable"] as const;

/** `?consistency=` → ReadConsistency; linearizable when absent (etcd's default). */
export function consistencyParam(value: string | undefined): ReadConsistency {
  return enumParam(value, "consistency", CONSISTENCIES) ?? "linearizable";
}

/** A parsed If-Match / If-None-Match header: `*` or one entity tag holding a mod_revision. */
export type EntityTagCondition = { any: true } | { any: false; modRevision: number };

/**
 * Parses If-Match / If-None-Match (RFC 9110 §13.1.1–2) as Cairn uses them: `*` or one strong
 * entity tag `"<mod_revision>"` (an unquoted number is accepted too). Lists and weak tags are
 * rejected because a single compare cannot express "any of".
 * @returns undefined when the header is absent
 * @throws CairnError "invalid_argument" for anything else
 */
export function parseEntityTag(value: string | undefined, header: string): EntityTagCondition | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === "*") return { any: true };
  const m = /^"?([0-9]{1,16})"?$/.exec(v);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw invalidArgument(
      `${header} must be * or one ETag "<mod_revision>" (a positive integer), got ${value}`,
    );
  }
  return { any: false, modRevision: n };
}
