/**
 * `cairn member list`, `cairn endpoint status`, `cairn endpoint health` (etcdctl's verbs and
 * output). `--cluster` asks every member found by `member list` on its client URLs instead of
 * the --endpoints list (etcdctl endpointsFromCluster).
 */
import { CommandFailed, UsageError } from "../errors.ts";
import {
  ENDPOINT_HEALTH_HEADERS,
  ENDPOINT_STATUS_HEADERS,
  type EndpointStatusRow,
  endpointHealthJson,
  endpointHealthRows,
  endpointStatusRows,
  formatCommaRows,
  formatEndpointHealthSimple,
  formatJson,
  formatTable,
  MEMBER_LIST_HEADERS,
  memberListRows,
} from "../format.ts";
import { endpointHealth, endpointStatus, memberList } from "../kv-api.ts";
import { type CommandContext, requireFormat } from "./context.ts";

/** `member list`. */
export async function runMemberList(ctx: CommandContext): Promise<void> {
  const format = requireFormat(ctx, "member list", ["simple", "table", "json"]);
  const res = await memberList(ctx.client);
  if (format === "json") ctx.io.stdout(formatJson(res));
  else if (format === "table") ctx.io.stdout(formatTable(MEMBER_LIST_HEADERS, memberListRows(res.members)));
  else ctx.io.stdout(formatCommaRows(memberListRows(res.members)));
}

/** Flags of the endpoint commands. */
export interface EndpointFlags {
  cluster?: boolean;
}

/**
 * The endpoints to ask: --endpoints, or with --cluster the client URLs of every member
 * (deduplicated, in member order).
 * @throws UsageError when --cluster finds no client URL
 */
export async function targetEndpoints(ctx: CommandContext, flags: EndpointFlags): Promise<string[]> {
  if (!flags.cluster) return [...ctx.client.endpoints];
  const res = await memberList(ctx.client);
  const urls = [...new Set(res.members.flatMap((m) => m.client_urls))];
  if (urls.length === 0) throw new UsageError("--cluster: no member publishes a client URL yet");
  return urls;
}

/**
 * `endpoint status`: asks each endpoint for its status. Endpoints that fail are reported on
 * stderr ("Failed to get the status of endpoint ..."), the others printed; exit 1 if any failed.
 */
export async function runEndpointStatus(ctx: CommandContext, flags: EndpointFlags): Promise<void> {
  const format = requireFormat(ctx, "endpoint status", ["simple", "table", "json"]);
  const endpoints = await targetEndpoints(ctx, flags);
  const results = await Promise.all(
    endpoints.map(async (endpoint): Promise<EndpointStatusRow | { endpoint: string; error: string }> => {
      try {
        return { endpoint, status: await endpointStatus(ctx.client, endpoint) };
      } catch (e) {
        return { endpoint, error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
  const ok: EndpointStatusRow[] = [];
  let failed = false;
  for (const r of results) {
    if ("status" in r) ok.push(r);
    else {
      failed = true;
      ctx.io.stderr(`Failed to get the status of endpoint ${r.endpoint} (${r.error})\n`);
    }
  }
  if (format === "json") ctx.io.stdout(formatJson(ok));
  else if (format === "table") ctx.io.stdout(formatTable(ENDPOINT_STATUS_HEADERS, endpointStatusRows(ok)));
  else ctx.io.stdout(formatCommaRows(endpointStatusRows(ok)));
  if (failed) throw new CommandFailed("");
}

/** `endpoint health`: checks every endpoint at once; exit 1 ("unhealthy cluster") if any is unhealthy. */
export async function runEndpointHealth(ctx: CommandContext, flags: EndpointFlags): Promise<void> {
  const format = requireFormat(ctx, "endpoint health", ["simple", "table", "json"]);
  const endpoints = await targetEndpoints(ctx, flags);
  const list = await Promise.all(endpoints.map((ep) => endpointHealth(ctx.client, ep)));
  if (format === "json") ctx.io.stdout(formatJson(endpointHealthJson(list)));
  else if (format === "table") ctx.io.stdout(formatTable(ENDPOINT_HEALTH_HEADERS, endpointHealthRows(list)));
  else {
    const { stdout, stderr } = formatEndpointHealthSimple(list);
    if (stdout !== "") ctx.io.stdout(stdout);
    if (stderr !== "") ctx.io.stderr(stderr);
  }
  if (list.some((h) => !h.health)) throw new CommandFailed("unhealthy cluster");
}
