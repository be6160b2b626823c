/**
 * Invariant checks that stay on in production (TigerBeetle style): a broken invariant in a
 * consensus system must stop the process rather than corrupt replicated state.
 */

/** Thrown when an internal invariant is broken. Never caught to continue. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/**
 * Asserts `condition`; throws {@link AssertionError} with `message` otherwise.
 * @throws AssertionError
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks code that the type system proves unreachable. @throws AssertionError always */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
