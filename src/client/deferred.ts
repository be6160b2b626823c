/** A promise with its resolve and reject at hand (Promise.withResolvers, which Node 20 lacks). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Calls `onAbort` when `signal` aborts, until `done` settles.
 * @returns true when the signal had already aborted (nothing is registered then)
 */
export function onAbortUntil(
  signal: AbortSignal | undefined,
  done: Promise<unknown>,
  onAbort: () => void,
): boolean {
  if (signal?.aborted) return true;
  if (signal) {
    signal.addEventListener("abort", onAbort, { once: true });
    void done.then(() => signal.removeEventListener("abort", onAbort));
  }
  return false;
}
