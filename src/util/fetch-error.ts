/**
 * Reading the failure of a fetch(): undici (Node) puts the connection error code in `cause`,
 * sometimes inside an AggregateError (one error per address tried). Used by the client's
 * transport, the CLI's HTTP client and the server's leader forwarding, which all retry another URL
 * only when the request provably never left this machine.
 */

/**
 * Connection error codes that mean the request was never sent (refused, no route, no DNS, no local
 * address, connect timeout), with Node/undici's names and Bun's (ConnectionRefused,
 * FailedToOpenSocket). Anything after connecting (ECONNRESET, a closed socket) may have delivered it.
 */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  "ConnectionRefused",
  "FailedToOpenSocket",
]);

/** The error code of a failed fetch ("TimeoutError" for an AbortSignal.timeout, "UNKNOWN" when none is found). */
export function fetchErrorCode(error: unknown): string {
  let e: unknown = error;
  for (let depth = 0; depth < 6 && e !== null && typeof e === "object"; depth++) {
    const rec = e as { code?: unknown; cause?: unknown; errors?: unknown; name?: unknown };
    if (typeof rec.code === "string") return rec.code;
    if (rec.name === "TimeoutError") return "TimeoutError";
    if (Array.isArray(rec.errors) && rec.errors.length > 0) e = rec.errors[0];
    else e = rec.cause;
  }
  return "UNKNOWN";
}
