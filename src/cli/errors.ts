/**
 * Errors of the CLI that are not server errors. Exit codes follow etcdctl
 * (etcdctl/ctlv3/command/error.go: ExitError = 1, ExitBadArgs = 2... etcdctl uses 1 for failed
 * requests); Cairn uses 2 for every usage error, as POSIX tools do.
 */

/** Exit code of a failed command (server error, unreachable cluster, unhealthy endpoint). */
export const EXIT_ERROR = 1;

/** Exit code of a wrong invocation (missing argument, bad flag value). */
export const EXIT_USAGE = 2;

/** The command line is wrong; shown as "Error: <message>" and exits with {@link EXIT_USAGE}. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * The command ran but failed in a way already reported on stdout/stderr (e.g. an unhealthy
 * endpoint); exits with {@link EXIT_ERROR} and prints its message only when non-empty.
 */
export class CommandFailed extends Error {
  override name = "CommandFailed";
}

/**
 * The command ran and its outcome is an exit code of its own (e.g. `cairn lock NAME cmd…` exits
 * with the command's code); nothing more is printed.
 */
export class ExitStatus extends Error {
  override name = "ExitStatus";
  constructor(readonly code: number) {
    super(`exit status ${code}`);
  }
}
