/**
 * A 200 JSON answer without Hono's per-call objects: `c.json(value)` spreads its headers into a
 * fresh object and builds a fresh init object on every call; this shares one frozen init (the
 * runtimes only read it: @hono/node-server copies the headers before adding Content-Length).
 * Same status, header name and value, and body bytes as `c.json(value)` on a context where no
 * status or header was set, which is how the routes using it answer.
 */

/** What c.json sends: status 200 and `Content-Type: application/json`, in that spelling. */
const JSON_OK: ResponseInit = Object.freeze({
  status: 200,
  headers: Object.freeze({ "Content-Type": "application/json" }),
});

/**
 * 200 with `value` as JSON.
 * @param value a JSON-serializable value (an object: JSON.stringify never answers undefined)
 */
export function jsonOk(value: object): Response {
  return new Response(JSON.stringify(value), JSON_OK);
}
