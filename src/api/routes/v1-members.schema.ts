/**
 * zod schemas of the /v1 membership bodies (the API contract). Strict objects: an unknown or
 * misspelt field (e.g. "peerUrls") is an error naming it. Peer URLs are validated and
 * canonicalized by src/api/peer-urls.ts; member ids are 16 lowercase hex digits.
 */
import { z } from "zod";
import { CairnError } from "../../util/errors.ts";
import { checkMemberIdV1 } from "../codec/members.ts";
import { canonicalPeerUrls } from "../peer-urls.ts";

/** Runs a CairnError-throwing check inside a zod transform, turning its error into an issue at the field. */
function checked<I, O>(check: (input: I) => O) {
  return (input: I, ctx: z.core.$RefinementCtx<I>): O => {
    try {
      return check(input);
    } catch (e) {
      if (!(e instanceof CairnError)) throw e;
      ctx.issues.push({ code: "custom", message: e.message, input });
      return z.NEVER;
    }
  };
}

/** `peer_urls`: 1 to 16 https://host:port URLs → their canonical forms. */
export const peerUrlsSchema = z.array(z.string()).transform(checked(canonicalPeerUrls));

/** POST /v1/cluster/members: `{"peer_urls":[...],"is_learner":false}` (is_learner optional, default false). */
export const memberAddSchema = z.strictObject({
  peer_urls: peerUrlsSchema,
  is_learner: z.boolean().optional(),
});

/** PUT /v1/cluster/members/{id}: `{"peer_urls":[...]}`. */
export const memberUpdateSchema = z.strictObject({ peer_urls: peerUrlsSchema });

/** POST /v1/cluster/move-leader: `{"target_id":"<16 hex>"}`. */
export const moveLeaderSchema = z.strictObject({
  target_id: z.string().transform(checked((id: string) => checkMemberIdV1("target_id", id))),
});
