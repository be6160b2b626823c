/**
 * Registration of `cairn watch`, `cairn lock` and `cairn elect` on the commander program
 * (src/cli/program.ts), kept here so the program file stays a list.
 */
import type { Command } from "commander";
import type { CommandContext } from "./commands/context.ts";
import { runElect } from "./commands/elect.ts";
import { DEFAULT_LOCK_TTL_SECONDS, runLock } from "./commands/lock.ts";
import { runWatch } from "./commands/watch.ts";

/** Adds the three commands to `program`; `ctx` builds a command's context from its options. */
export function registerWatchLockElect(program: Command, ctx: (cmd: Command) => CommandContext): void {
  program
    .command("watch")
    .description("watch a key, a range or a prefix and print its events until Ctrl-C")
    .argument("<key>")
    .argument("[range_end]", "exclusive end of the range [key, range_end)")
    .option("--prefix", "watch the keys with the prefix KEY")
    .option("--rev <revision>", "revision to start watching from (0: from now)")
    .option("--prev-kv", "print the previous key-value of each event")
    .action(async (key: string, rangeEnd: string | undefined, opts, cmd: Command) =>
      runWatch(ctx(cmd), key, rangeEnd, opts),
    );

  program
    .command("lock")
    .description(
      "acquire a named lock and hold it until Ctrl-C, or run a command while holding it " +
        "(env ETCD_LOCK_KEY, ETCD_LOCK_REV, CAIRN_LOCK_KEY, CAIRN_LOCK_REV, CAIRN_LOCK_FENCING_TOKEN); " +
        "put -- before a command with options of its own",
    )
    .argument("<lockname>")
    .argument("[command...]", "command to run while the lock is held; exits with its code")
    .option("--ttl <seconds>", `TTL of the lock's lease (default ${DEFAULT_LOCK_TTL_SECONDS})`)
    .allowUnknownOption()
    .action(async (name: string, command: string[], opts, cmd: Command) =>
      runLock(ctx(cmd), name, command, opts),
    );

  program
    .command("elect")
    .description("campaign in an election with PROPOSAL and stay leader until Ctrl-C, or observe its leaders")
    .argument("<election-name>")
    .argument("[proposal]", "value of this candidate; without it, print the leaders as they change")
    .option("-l, --listen", "observation mode (also without PROPOSAL)")
    .option("--ttl <seconds>", "TTL of the candidate's lease (default 60)")
    .action(async (name: string, proposal: string | undefined, opts, cmd: Command) =>
      runElect(ctx(cmd), name, proposal, opts),
    );
}
