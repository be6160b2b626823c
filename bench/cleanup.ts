/**
 * Cleanup of everything a benchmark run starts: child processes and temp dirs are registered here
 * and released on normal completion, on an exception, and on SIGINT/SIGTERM (Ctrl-C), so no
 * cluster member outlives the run.
 */

/** A cleanup step: async for the orderly path, with a synchronous last resort for process exit. */
export interface CleanupStep {
  /** Orderly release (e.g. SIGTERM and wait, then remove the temp dir). */
  release: () => Promise<void>;
  /** Synchronous last resort run from process.on("exit") (e.g. SIGKILL every child by pid). */
  releaseNow: () => void;
}

/** A registered step; `released` is set once its orderly release started (it runs once). */
interface Registered {
  step: CleanupStep;
  released: Promise<void> | null;
}

/** Steps not yet fully released (a step leaves only when its release finished). */
const pending = new Set<Registered>();
let installed = false;
let exiting = false;

/** True once SIGINT/SIGTERM arrived: load loops stop early instead of hammering stopping servers. */
export function isShuttingDown(): boolean {
  return exiting;
}

/**
 * Registers a cleanup step and installs the signal/exit handlers on first use.
 * @returns a function that runs the step's orderly release (once; later calls await the same run)
 */
export function registerCleanup(step: CleanupStep): () => Promise<void> {
  installHandlers();
  const r: Registered = { step, released: null };
  pending.add(r);
  return () => release(r);
}

function release(r: Registered): Promise<void> {
  r.released ??= r.step.release().finally(() => pending.delete(r));
  return r.released;
}

/** Runs the orderly release of every pending step, most recent first. Errors are printed, not thrown. */
export async function releaseAll(): Promise<void> {
  for (const r of [...pending].reverse()) {
    try {
      await release(r);
    } catch (err) {
      process.stderr.write(`cleanup failed: ${String(err)}\n`);
    }
  }
}

/**
 * Runs a benchmark's `main` and exits with its code: 1 (stack printed) when it throws; every
 * registered cleanup step is released before the exit.
 */
export function runMain(main: () => Promise<number>): void {
  main()
    .then(
      (code) => code,
      (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        return 1;
      },
    )
    .then(async (code) => {
      await releaseAll();
      process.exit(code);
    });
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\n${signal}: stopping every process this run started...\n`);
    // Bounded: if the orderly release hangs, exit anyway; the "exit" handler then SIGKILLs.
    setTimeout(() => process.exit(130), 15_000).unref();
    void releaseAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.on("exit", () => {
    for (const r of pending) {
      try {
        r.step.releaseNow();
      } catch {
        // best effort at exit
      }
    }
    pending.clear();
  });
}
