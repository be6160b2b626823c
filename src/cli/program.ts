/**
 * The `cairn` command (commander): `serve` and `dev` start a member (their flags are parsed by
 * src/server/config.ts, so they bypass commander), the client commands talk to a cluster over
 * the /v1 API with etcdctl's verbs, flags and output.
 *
 * Exit codes: 0 success; 1 a failed command (server error, unreachable cluster, unhealthy
 * endpoint), as etcdctl; 2 a usage error (unknown flag, missing argument, bad flag value).
 * Errors are printed as "Error: <message>" on stderr.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../server/config.ts";
import { runEndpointHealth, runEndpointStatus, runMemberList } from "./commands/cluster.ts";
import {
  type CommandContext,
  createContext,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_ENDPOINTS,
} from "./commands/context.ts";
import { runDel, runGet, runPut } from "./commands/kv.ts";
import {
  runCompaction,
  runLeaseGrant,
  runLeaseKeepAlive,
  runLeaseList,
  runLeaseRevoke,
  runLeaseTimeToLive,
} from "./commands/lease.ts";
import {
  runMemberAdd,
  runMemberPromote,
  runMemberRemove,
  runMemberUpdate,
  runMoveLeader,
} from "./commands/member.ts";
import { runTxn } from "./commands/txn.ts";
import { registerWatchLockElect } from "./coordination-commands.ts";
import { CommandFailed, EXIT_ERROR, EXIT_USAGE, ExitStatus, UsageError } from "./errors.ts";
import type { CliIo } from "./io.ts";

/** Version of the package, shown by `cairn --version`. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Subcommands whose arguments go unparsed to their own parser. */
const PASS_THROUGH = new Set(["serve", "dev"]);

/**
 * True when `argv` runs a member (`serve`, `dev`): the process must then stay alive after
 * {@link runCli} returns, since the member runs until a signal stops it.
 */
export function isMemberCommand(argv: readonly string[]): boolean {
  return argv[0] !== undefined && PASS_THROUGH.has(argv[0]);
}

/** Runs `cairn serve` / `cairn dev` with the raw remaining argv (lead's src/cli/serve.ts, dev.ts). */
async function runMemberCommand(name: string, argv: string[]): Promise<number> {
  const result: unknown =
    name === "serve"
      ? await (await import("./serve.ts")).runServe(argv)
      : await (await import("./dev.ts")).runDev(argv);
  return typeof result === "number" ? result : 0;
}

/** Builds the commander program writing to `io`. Actions run the commands of src/cli/commands. */
export function buildProgram(io: CliIo): Command {
  const program = new Command("cairn");
  program
    .description("Cairn: a distributed, reliable key-value store (etcd's data model, HTTPS JSON API)")
    .version(packageVersion(), "--version", "print the version")
    .option(
      "--endpoints <urls>",
      `comma-separated client URLs of the cluster (env CAIRN_ENDPOINTS, default ${DEFAULT_ENDPOINTS})`,
    )
    .option(
      "--command-timeout <ms>",
      `timeout of a command, retries included, in ms or with unit ms|s|m (env CAIRN_COMMAND_TIMEOUT, default ${DEFAULT_COMMAND_TIMEOUT_MS})`,
    )
    .option("-w, --write-out <format>", "output format: simple, json or table (default simple)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s, write) => write(s.replace(/^error: /, "Error: ")),
    });

  const ctx = (cmd: Command): CommandContext => createContext(io, cmd.optsWithGlobals());

  for (const name of PASS_THROUGH) {
    program
      .command(name)
      .description(
        name === "serve"
          ? "run one member of a cluster (see `cairn serve --help` for its flags)"
          : "run a local development cluster (see `cairn dev --help`)",
      )
      .argument("[flags...]")
      .allowUnknownOption()
      .helpOption(false)
      .action(async (_flags: string[], _opts: unknown, cmd: Command) => {
        const code = await runMemberCommand(name, cmd.args);
        if (code !== 0) throw new CommandFailed("");
      });
  }

  program
    .command("put")
    .description("put a key; the value is read from stdin when VALUE is absent")
    .argument("<key>")
    .argument("[value]")
    .option("--lease <id>", "attach the key to a lease (id in hex, as `lease grant` prints it)")
    .option("--prev-kv", "print the previous key-value")
    .option("--content-type <type>", "content type stored with the value (JSON, YAML and TOML are validated)")
    .action(async (key: string, value: string | undefined, opts, cmd: Command) =>
      runPut(ctx(cmd), key, value, opts),
    );

  program
    .command("get")
    .description("get a key or a range of keys")
    .argument("<key>")
    .argument("[range_end]", "exclusive end of the range [key, range_end)")
    .option("--prefix", "get keys with the prefix KEY")
    .option("--rev <revision>", "read at this revision (0: latest)")
    .option("--limit <n>", "most keys returned (0: no limit)")
    .option("--keys-only", "get only the keys")
    .option("--count-only", "get only the number of keys")
    .option("--print-value-only", "print only the value (simple output)")
    .option("--consistency <l|s>", "linearizable (l, default) or serializable (s) read")
    .action(async (key: string, rangeEnd: string | undefined, opts, cmd: Command) =>
      runGet(ctx(cmd), key, rangeEnd, opts),
    );

  program
    .command("del")
    .description("delete a key or the keys with a prefix")
    .argument("<key>")
    .option("--prefix", "delete keys with the prefix KEY")
    .option("--prev-kv", "print the deleted key-values")
    .action(async (key: string, opts, cmd: Command) => runDel(ctx(cmd), key, opts));

  program
    .command("txn")
    .description("run a transaction: the JSON request of POST /v1/txn, from FILE or stdin")
    .argument("[file]", "file with the JSON request ('-' or absent: stdin)")
    .action(async (file: string | undefined, _opts, cmd: Command) => runTxn(ctx(cmd), file));

  const lease = program
    .command("lease")
    .description("lease grant, revoke, keep-alive, time-to-live and list");
  lease
    .command("grant")
    .description("create a lease with a TTL in seconds (raised to the cluster's minimum) and print its id")
    .argument("<ttl>", "TTL in seconds")
    .action(async (ttl: string, _opts, cmd: Command) => runLeaseGrant(ctx(cmd), ttl));
  lease
    .command("revoke")
    .description("revoke a lease and delete every key attached to it")
    .argument("<id>", "lease id in hex, as lease grant prints it")
    .action(async (id: string, _opts, cmd: Command) => runLeaseRevoke(ctx(cmd), id));
  lease
    .command("keep-alive")
    .description("keep a lease alive (streaming; ends when the lease expires or is revoked)")
    .argument("<id>", "lease id in hex, as lease grant prints it")
    .option("--once", "renew once and exit")
    .action(async (id: string, opts, cmd: Command) => runLeaseKeepAlive(ctx(cmd), id, opts));
  lease
    .command("timetolive")
    .description("print the remaining and granted TTL of a lease")
    .argument("<id>", "lease id in hex, as lease grant prints it")
    .option("--keys", "also print the keys attached to the lease")
    .action(async (id: string, opts, cmd: Command) => runLeaseTimeToLive(ctx(cmd), id, opts));
  lease
    .command("list")
    .description("list every lease")
    .action(async (_opts, cmd: Command) => runLeaseList(ctx(cmd)));

  program
    .command("compaction")
    .description("compact the history up to a revision (older revisions can no longer be read or watched)")
    .argument("<revision>", "revision to compact to")
    .option(
      "--physical",
      "accepted for etcdctl compatibility (Cairn's compaction is always complete at once)",
    )
    .action(async (rev: string, opts, cmd: Command) => runCompaction(ctx(cmd), rev, opts));

  registerWatchLockElect(program, ctx);

  const member = program.command("member").description("cluster membership");
  member
    .command("add")
    .description("add a member (voter, or learner with --learner) and print the settings that start it")
    .argument("<name>", "name of the new member (its --name)")
    .option("--peer-urls <urls>", "comma-separated peer URLs of the new member (https://host:port)")
    .option("--learner", "add the member as a learner (replicates, does not vote; promote it later)")
    .action(async (name: string, opts, cmd: Command) => runMemberAdd(ctx(cmd), name, opts));
  member
    .command("remove")
    .description("remove a member from the cluster")
    .argument("<id>", "member id in hex, as member list prints it")
    .action(async (id: string, _opts, cmd: Command) => runMemberRemove(ctx(cmd), id));
  member
    .command("update")
    .description("replace the peer URLs of a member")
    .argument("<id>", "member id in hex, as member list prints it")
    .option("--peer-urls <urls>", "comma-separated new peer URLs (https://host:port)")
    .action(async (id: string, opts, cmd: Command) => runMemberUpdate(ctx(cmd), id, opts));
  member
    .command("promote")
    .description("promote a learner that has caught up with the leader to a voter")
    .argument("<id>", "member id in hex, as member list prints it")
    .action(async (id: string, _opts, cmd: Command) => runMemberPromote(ctx(cmd), id));
  member
    .command("list")
    .description("list the members of the cluster (STATUS: started, or unstarted until the member runs)")
    .action(async (_opts, cmd: Command) => runMemberList(ctx(cmd)));

  program
    .command("move-leader")
    .description("transfer leadership to another voting member and wait until it leads")
    .argument("<target-id>", "member id in hex, as member list prints it")
    .action(async (id: string, _opts, cmd: Command) => runMoveLeader(ctx(cmd), id));

  const endpoint = program.command("endpoint").description("status and health of endpoints");
  endpoint
    .command("status")
    .description("print the status of each endpoint")
    .option("--cluster", "use every member's client URLs from `member list`")
    .action(async (opts, cmd: Command) => runEndpointStatus(ctx(cmd), opts));
  endpoint
    .command("health")
    .description("check the health of each endpoint")
    .option("--cluster", "use every member's client URLs from `member list`")
    .action(async (opts, cmd: Command) => runEndpointHealth(ctx(cmd), opts));

  return program;
}

/**
 * Runs the `cairn` command line in-process.
 * @param argv the arguments after the program name (process.argv.slice(2))
 * @param io where to write and read
 * @returns the exit code (0, 1 = failed command, 2 = usage error)
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const first = argv[0];
    if (first !== undefined && PASS_THROUGH.has(first)) return await runMemberCommand(first, argv.slice(1));
    await buildProgram(io).parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    return reportError(e, io);
  }
}

/** Prints an error the way etcdctl does and picks the exit code. */
function reportError(e: unknown, io: CliIo): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (help, version or usage error).
    return e.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (e instanceof UsageError || e instanceof ConfigError) {
    io.stderr(`Error: ${e.message}\n`);
    return EXIT_USAGE;
  }
  if (e instanceof ExitStatus) return e.code;
  if (e instanceof CommandFailed) {
    if (e.message !== "") io.stderr(`Error: ${e.message}\n`);
    return EXIT_ERROR;
  }
  io.stderr(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
  return EXIT_ERROR;
}
