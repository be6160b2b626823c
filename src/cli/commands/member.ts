/**
 * `cairn member add|remove|update|promote` and `cairn move-leader` (etcdctl 3.4's verbs, flags
 * and simple output; -w json prints the API's answer). Member ids are given in hex as
 * `member list` prints them (etcdctl parses them with base 16; leading zeros may be left out).
 * The changes go to any endpoint; a member that is not the leader forwards them to the leader.
 */
import { memberAdd, memberPromote, memberRemove, memberUpdate, moveLeader } from "../cluster-api.ts";
import { UsageError } from "../errors.ts";
import { formatJson, formatMemberAdd, formatMemberChange, formatMoveLeader } from "../format.ts";
import { type CommandContext, requireFormat } from "./context.ts";

/**
 * Parses a member id argument: 1 to 16 hex digits, any case.
 * @returns 16 lowercase hex digits (Cairn's form)
 * @throws UsageError as etcdctl words it ("bad member ID arg ..., expecting ID in Hex")
 */
export function parseMemberIdArg(raw: string): string {
  const text = raw.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(text) || /^0+$/.test(text)) {
    throw new UsageError(`bad member ID arg '${raw}', expecting ID in Hex (as member list prints it)`);
  }
  return text.toLowerCase().padStart(16, "0");
}

/**
 * Splits `--peer-urls` (comma-separated) into URLs.
 * @throws UsageError "member peer urls not provided" when absent or empty (etcdctl's words)
 */
export function parsePeerUrlsFlag(raw: string | undefined): string[] {
  const urls = (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (urls.length === 0) throw new UsageError("member peer urls not provided");
  return urls;
}

/** Flags of `member add`. */
export interface MemberAddFlags {
  peerUrls?: string;
  learner?: boolean;
}

/**
 * `member add NAME --peer-urls URL[,URL] [--learner]`: adds the member and prints the settings
 * that start it (formatMemberAdd).
 * @throws UsageError on a missing or unusable name, or missing peer URLs
 */
export async function runMemberAdd(ctx: CommandContext, name: string, flags: MemberAddFlags): Promise<void> {
  const format = requireFormat(ctx, "member add", ["simple", "json"]);
  if (name.trim() === "") throw new UsageError("member name not provided");
  if (/[,=\s]/.test(name)) {
    throw new UsageError(
      `member name '${name}' must not contain ',', '=' or spaces (it goes into --initial-cluster name=url lists)`,
    );
  }
  const peerUrls = parsePeerUrlsFlag(flags.peerUrls);
  const res = await memberAdd(ctx.client, peerUrls, flags.learner === true);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatMemberAdd(name, res));
}

/** `member remove ID`. */
export async function runMemberRemove(ctx: CommandContext, idArg: string): Promise<void> {
  const format = requireFormat(ctx, "member remove", ["simple", "json"]);
  const id = parseMemberIdArg(idArg);
  const res = await memberRemove(ctx.client, id);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatMemberChange("removed from", id, res.cluster_id));
}

/** Flags of `member update`. */
export interface MemberUpdateFlags {
  peerUrls?: string;
}

/** `member update ID --peer-urls URL[,URL]`. */
export async function runMemberUpdate(
  ctx: CommandContext,
  idArg: string,
  flags: MemberUpdateFlags,
): Promise<void> {
  const format = requireFormat(ctx, "member update", ["simple", "json"]);
  const id = parseMemberIdArg(idArg);
  const peerUrls = parsePeerUrlsFlag(flags.peerUrls);
  const res = await memberUpdate(ctx.client, id, peerUrls);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatMemberChange("updated in", id, res.cluster_id));
}

/** `member promote ID`: a learner that has caught up becomes a voter. */
export async function runMemberPromote(ctx: CommandContext, idArg: string): Promise<void> {
  const format = requireFormat(ctx, "member promote", ["simple", "json"]);
  const id = parseMemberIdArg(idArg);
  const res = await memberPromote(ctx.client, id);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatMemberChange("promoted in", id, res.cluster_id));
}

/** `move-leader TARGET_ID`: hands leadership to the voter TARGET_ID and waits until it leads. */
export async function runMoveLeader(ctx: CommandContext, targetArg: string): Promise<void> {
  const format = requireFormat(ctx, "move-leader", ["simple", "json"]);
  const target = parseMemberIdArg(targetArg);
  const res = await moveLeader(ctx.client, target);
  ctx.io.stdout(format === "json" ? formatJson(res) : formatMoveLeader(res.previous_leader, res.leader));
}
