/**
 * Invariant checks that stay on in production (TigerBeetle style): a broken invariant in a
 * consensus system must stop the process rather than corrupt replicated state.
 */

/** Thrown when an internal invariant is broken. Never caught to continue. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/**
 * Asserts `condition`; throws {@link AssertionError} with `message` otherwise. Each `%s` in
 * `message` is replaced by the next of `a`..`d` (as by String()) only when the assertion fails, so
 * a passing check on a hot path (every Raft message, every WAL append) builds no string: pass the
 * values, not a template literal. A detail that is costly to compute belongs in an
 * `if (!condition) throw new AssertionError(...)` instead.
 * @throws AssertionError
 */
export function assert(
  condition: unknown,
  message: string,
  a?: unknown,
  b?: unknown,
  c?: unknown,
  d?: unknown,
): asserts condition {
  if (!condition) throw new AssertionError(formatAssertion(message, [a, b, c, d]));
}

/** `message` with each `%s` replaced by the next value of `values`. */
function formatAssertion(message: string, values: unknown[]): string {
  let next = 0;
  return message.replace(/%s/g, () => String(values[next++]));
}

/** Marks code that the type system proves unreachable. @throws AssertionError always */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
