/**
 * The client listener: HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge) on the same
 * port, as etcd serves both on --listen-client-urls. The first bytes of a connection decide:
 * the HTTP/2 connection preface starts with "PRI * HTTP/2.0" (RFC 9113 §3.4); no HTTP/1.1
 * method is "PRI". (TLS for clients arrives with a later issue.)
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";

/** A bound client listener. */
export interface ClientListener {
  /** Actual port (useful when listening on port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `app` on `url` (http://host:port).
 * @throws Error when the address is in use or the URL is not http
 */
export async function listenClient(app: Hono, url: string): Promise<ClientListener> {
  const u = new URL(url);
  if (u.protocol !== "http:") throw new Error(`client URL ${url}: only http:// is served for now`);
  const listener = getRequestListener(app.fetch);
  const h1 = http.createServer({ keepAliveTimeout: 65_000 }, listener);
  const h2 = http2.createServer({}, listener as unknown as Parameters<typeof http2.createServer>[1]);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    // Small responses must not wait for Nagle's algorithm (http.createServer does the same).
    socket.setNoDelay(true);
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      const isH2 = chunk.length >= 3 && chunk.toString("latin1", 0, 3) === "PRI";
      if (isH2) {
        h2.emit("connection", replaying(socket, chunk));
      } else {
        socket.unshift(chunk);
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });
  const host = u.hostname.replace(/^\[|\]$/g, "");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: Number(u.port || 80) }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        h1.close();
        h2.close();
        server.close(() => resolve());
      }),
  };
}

/**
 * A duplex over `socket` that first yields `first` (bytes already read to sniff the protocol).
 * Node's HTTP/2 session reads a net.Socket's handle directly, bypassing bytes put back with
 * unshift(), so the h2c path goes through this JS stream instead.
 */
function replaying(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  duplex.push(first);
  socket.on("data", (d: Buffer) => {
    if (!duplex.push(d)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("close", () => duplex.destroy());
  socket.on("error", (err) => duplex.destroy(err));
  socket.resume();
  return duplex;
}
