/**
 * `cairn serve`: runs one member until SIGINT/SIGTERM. Configuration errors and refused starts
 * print one plain message and exit 1 (etcd exits 1 as well).
 */
import { ConfigError, formatServeHelp, parseServeConfig } from "../server/config.ts";
import { StartupError, startServer } from "../server/server.ts";
import { StorageCorruptError } from "../storage/types.ts";

/** Parses `argv` (the words after `serve`) with the CAIRN_* environment and serves. */
export async function runServe(argv: string[]): Promise<void> {
  let config: ReturnType<typeof parseServeConfig>;
  try {
    config = parseServeConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError && err.helpRequested) {
      process.stdout.write(formatServeHelp());
      process.exit(0);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`cairn serve: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  for (const warning of config.warnings) process.stderr.write(`cairn serve: warning: ${warning}\n`);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config);
  } catch (err) {
    if (err instanceof StartupError || err instanceof StorageCorruptError || isAddressInUse(err)) {
      process.stderr.write(`cairn serve: ${(err as Error).message}\n`);
      process.exit(1);
    }
    throw err;
  }
  server.node.on("fatal", (err: Error) => {
    process.stderr.write(`cairn serve: fatal: ${err.message}\n`);
    process.exit(1);
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, "shutting down");
    // SIGTERM is the graceful stop: a leader hands leadership over first (etcd does the same).
    await server.close({ transferLeadership: signal === "SIGTERM" });
    process.exit(0);
  };
  void server.removed.then(async (message) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`cairn serve: ${message}\n`);
    await server.close();
    process.exit(1);
  });
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

function isAddressInUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "EADDRINUSE";
}
