/**
 * Ctrl-C for the long-running client commands (`watch`, `lock`, `elect`): they must clean up
 * (release the lock, resign, revoke the lease) instead of dying on SIGINT.
 */
import type { CliIo } from "./io.ts";

/** A signal that aborts on Ctrl-C, and the function that stops listening. */
export interface Interrupt {
  signal: AbortSignal;
  dispose(): void;
}

/**
 * The signal that ends a long-running command: `io.signal` when given (tests, embedding), else
 * the process's SIGINT / SIGTERM. A second SIGINT or SIGTERM while the command is still cleaning
 * up exits at once with 130 (the shell's code for an interrupt).
 */
export function interruptSignal(io: CliIo): Interrupt {
  if (io.signal) return { signal: io.signal, dispose: () => {} };
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
