/**
 * Peer URLs: `https://host:port` (etcd's --listen-peer-urls / --initial-advertise-peer-urls form;
 * IPv6 hosts in brackets, e.g. https://[::1]:2380).
 */
import { invalidArgument } from "../util/errors.ts";

/** A parsed peer URL. */
export interface PeerUrl {
  /** `https://host:port`, as passed to http2.connect. */
  origin: string;
  /** Host without IPv6 brackets, as passed to listen(). */
  host: string;
  /** TCP port; 0 means "any free port" for a listen URL. */
  port: number;
}

/**
 * Parses a peer URL. The scheme must be https (peers always use mutual TLS); a path other than "/"
 * is not allowed; a missing port means 443.
 * @throws CairnError invalid_argument on anything else
 */
export function parsePeerUrl(text: string): PeerUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidArgument(`invalid peer URL "${text}"`);
  }
  if (url.protocol !== "https:") throw invalidArgument(`peer URL "${text}" must use https`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.username !== "") {
    throw invalidArgument(`peer URL "${text}" must be of the form https://host:port`);
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? 443 : Number(url.port);
  return { origin: url.origin, host, port };
}
