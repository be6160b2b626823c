/**
 * Entry point of the `cairn` command (bin/cairn.mjs imports this module): runs the command line
 * of this process.
 */
import { processIo } from "./io.ts";
import { isMemberCommand, runCli } from "./program.ts";

const argv = process.argv.slice(2);
const code = await runCli(argv, processIo());
if (isMemberCommand(argv)) {
  // `serve` / `dev` return once the member runs; it stops on a signal, so only set the code.
  process.exitCode = code;
} else {
  // Client commands are done: idle keep-alive sockets must not hold the process open. Flush
  // stdout/stderr first (pipes may be asynchronous, e.g. on macOS).
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
  process.exit(code);
}
