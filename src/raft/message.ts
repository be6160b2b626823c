/**
 * Construction of Raft messages with every field at its zero value unless given, so that each
 * outgoing message is complete (types.ts Message).
 */
import { type Message, MessageType, type NodeId } from "./types.ts";

/** Fields of a message to build; `type`, `from` and `to` are required, the rest default to zero values. */
export type MessageFields = Partial<Message> & Pick<Message, "type" | "from" | "to">;

/** A complete message from `fields` (term 0, empty entries, no reject... unless given). */
export function makeMessage(fields: MessageFields): Message {
  return messageFrom(fields.from, fields.term ?? 0, fields);
}

/**
 * A complete message from `from`, with `term` unless `fields` gives one. Every message is built
 * with the same fields in the same order (one hidden class for the codec and the transport), and
 * without object spread, which is slow and allocates a temporary object per message.
 */
export function messageFrom(from: NodeId, term: number, fields: Omit<MessageFields, "from">): Message {
  const m: Message = {
    type: fields.type,
    from,
    to: fields.to,
    term: fields.term ?? term,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
  };
  if (fields.snapshot !== undefined) m.snapshot = fields.snapshot;
  if (fields.context !== undefined) m.context = fields.context;
  if (fields.commitOnly === true) m.commitOnly = true;
  return m;
}

/** Messages generated locally (never on the wire): they carry term 0 and skip term checks. */
const LOCAL_TYPES: ReadonlySet<string> = new Set([
  MessageType.Hup,
  MessageType.Beat,
  MessageType.Unreachable,
  MessageType.SnapStatus,
]);

/** True for local-only message types (MsgHup, MsgBeat, MsgUnreachable, MsgSnapStatus). */
export function isLocalMessage(type: MessageType): boolean {
  return LOCAL_TYPES.has(type);
}

/** The response type of a vote request type (MsgVote → MsgVoteResp, MsgPreVote → MsgPreVoteResp). */
export function voteRespType(type: MessageType): MessageType {
  return type === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}

/** All message type values, to validate input. */
export const MESSAGE_TYPES: ReadonlySet<string> = new Set(Object.values(MessageType));
