/**
 * `cairn watch KEY [RANGE_END] [--prefix] [--rev N] [--prev-kv]`: prints events as etcdctl 3.4's
 * simple printer does (per event: the type line "PUT" / "DELETE", then the previous key and value
 * with --prev-kv, then the key and value lines; a DELETE's value line is empty), or with -w json
 * one line per revision `{"revision":N,"events":[…]}` (GET /v1/watch's data, codec/v1-watch.ts).
 * Runs until Ctrl-C (exit 0). A dropped connection resumes on the next endpoint from the revision
 * after the last one printed: nothing is missed or printed twice. Compacted revisions end it with
 * etcdctl's error ("watch was canceled (etcdserver: mvcc: required revision has been compacted)").
 */
import { CairnError } from "../../util/errors.ts";
import type { KvJson } from "../api-schemas.ts";
import { type WatchRevisionJson, watchEvents } from "../coordination-api.ts";
import { CommandFailed, UsageError } from "../errors.ts";
import { formatJson, formatKvs } from "../format.ts";
import { interruptSignal } from "../interrupt.ts";
import { type CommandContext, parseCount, requireFormat } from "./context.ts";

/** Flags of `watch`. */
export interface WatchFlags {
  prefix?: boolean;
  rev?: string;
  prevKv?: boolean;
}

/** A DELETE event's kv has no value: print an empty value line (etcdctl). */
function withValue(kv: KvJson): KvJson {
  return kv.value === undefined ? { ...kv, value: "" } : kv;
}

/** etcdctl simplePrinter.Watch of one revision. */
export function formatWatchSimple(r: WatchRevisionJson): Buffer {
  const parts: Buffer[] = [];
  for (const e of r.events) {
    parts.push(Buffer.from(`${e.type}\n`));
    if (e.prev_kv) parts.push(formatKvs([withValue(e.prev_kv)]));
    parts.push(formatKvs([withValue(e.kv)]));
  }
  return Buffer.concat(parts);
}

/** `watch KEY [RANGE_END]`. */
export async function runWatch(
  ctx: CommandContext,
  key: string,
  rangeEnd: string | undefined,
  flags: WatchFlags,
): Promise<void> {
  const format = requireFormat(ctx, "watch", ["simple", "json"]);
  if (key === "" && !flags.prefix && rangeEnd === undefined) throw new UsageError("key must not be empty");
  if (flags.prefix && rangeEnd !== undefined)
    throw new UsageError("--prefix and RANGE_END cannot be used together");
  const rev = flags.rev !== undefined ? parseCount("--rev", flags.rev) : 0;
  const interrupt = interruptSignal(ctx.io);
  try {
    await watchEvents({
      endpoints: ctx.client.endpoints,
      key,
      ...(flags.prefix ? { prefix: true } : {}),
      ...(rangeEnd !== undefined ? { rangeEnd } : {}),
      ...(flags.prevKv ? { prevKv: true } : {}),
      ...(rev > 0 ? { startRevision: rev } : {}),
      signal: interrupt.signal,
      onRevision: (r) => ctx.io.stdout(format === "json" ? formatJson(r) : formatWatchSimple(r)),
    });
  } catch (e) {
    if (e instanceof CairnError && e.code === "compacted") {
      throw new CommandFailed(`watch was canceled (${e.message})`);
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
}
