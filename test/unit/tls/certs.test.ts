import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { type CertificateAndKey, generateCa, issueCertificate } from "../../../src/tls/certs.ts";
import { CairnError } from "../../../src/util/errors.ts";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const DAY_MS = 24 * 60 * 60 * 1000;

let ca: CertificateAndKey;
let member: CertificateAndKey;

beforeAll(async () => {
  ca = await generateCa({ commonName: "test-ca", validDays: 30 });
  member = await issueCertificate(ca, {
    commonName: "node-1",
    dnsNames: ["localhost", "node-1.cairn.internal"],
    ipAddresses: ["127.0.0.1", "::1"],
    usages: ["server", "client"],
  });
});

/**
 * Runs one TLS handshake on 127.0.0.1 between a server demanding a client certificate and a
 * client; resolves whether the server saw an authorized client and the client an authorized server.
 */
async function handshake(
  server: { cert: string; key: string; ca: string },
  client: { cert?: string; key?: string; ca: string; servername?: string },
): Promise<{ serverAuthorized: boolean; clientAuthorized: boolean; error?: string }> {
  let serverAuthorized = false;
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: true }, (socket) => {
    serverAuthorized = socket.authorized;
    socket.end("hello");
  });
  srv.on("tlsClientError", () => {});
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ...client }, () => {
        const clientAuthorized = socket.authorized;
        socket.on("data", () => {
          socket.destroy();
          resolve({ serverAuthorized, clientAuthorized });
        });
      });
      socket.on("error", (err) => resolve({ serverAuthorized, clientAuthorized: false, error: err.message }));
      socket.on("close", () =>
        resolve({ serverAuthorized, clientAuthorized: false, error: "closed before data" }),
      );
    });
  } finally {
    await new Promise((r) => srv.close(r));
  }
}

describe("generateCa", () => {
  it("makes a self-signed CA certificate with an ECDSA P-256 key in PKCS#8 PEM", () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe("CN=test-ca");
    expect(cert.issuer).toBe("CN=test-ca");
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(ca.keyPem.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
    const days = (Date.parse(cert.validTo) - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(30);
  });

  it("refuses an empty common name and absurd validity", async () => {
    await expect(generateCa({ commonName: " " })).rejects.toThrow(CairnError);
    await expect(generateCa({ commonName: "x", validDays: 0 })).rejects.toThrow(CairnError);
    await expect(generateCa({ commonName: "x", validDays: 1.5 })).rejects.toThrow(CairnError);
  });
});

describe("issueCertificate", () => {
  it("signs a leaf certificate with the requested SANs and extended key usages", () => {
    const cert = new X509Certificate(member.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe("CN=node-1");
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe(
      "DNS:localhost, DNS:node-1.cairn.internal, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkHost("localhost")).toBe("localhost");
    expect(cert.keyUsage).toStrictEqual([SERVER_AUTH, CLIENT_AUTH]);
    expect(member.keyPem.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
  });

  it("puts only the asked extended key usage", async () => {
    const serverOnly = await issueCertificate(ca, { commonName: "s", usages: ["server"] });
    const clientOnly = await issueCertificate(ca, { commonName: "c", usages: ["client"] });
    expect(new X509Certificate(serverOnly.certPem).keyUsage).toStrictEqual([SERVER_AUTH]);
    expect(new X509Certificate(clientOnly.certPem).keyUsage).toStrictEqual([CLIENT_AUTH]);
  });

  it("refuses bad input", async () => {
    await expect(issueCertificate(ca, { commonName: "x", usages: [] })).rejects.toThrow(CairnError);
    await expect(
      issueCertificate(ca, { commonName: "x", ipAddresses: ["300.1.1.1"], usages: ["server"] }),
    ).rejects.toThrow(/invalid IP address/);
    await expect(
      issueCertificate(ca, { commonName: "x", dnsNames: ["bad name"], usages: ["server"] }),
    ).rejects.toThrow(/invalid DNS name/);
  });

  it("escapes a common name holding RFC 4514 special characters", async () => {
    const odd = await issueCertificate(ca, { commonName: "a,b=c", usages: ["client"] });
    expect(new X509Certificate(odd.certPem).subject).toBe("CN=a\\,b=c"); // one CN, comma escaped by Node
  });

  it("loads in Node's TLS as certificate, key and CA", () => {
    expect(() =>
      tls.createSecureContext({ cert: member.certPem, key: member.keyPem, ca: ca.certPem }),
    ).not.toThrow();
    expect(() => tls.createSecureContext({ cert: ca.certPem, key: ca.keyPem })).not.toThrow();
  });

  it("works for a mutual TLS handshake, with the client checking the server's IP SAN", async () => {
    const client = await issueCertificate(ca, { commonName: "client", usages: ["client"] });
    const out = await handshake(
      { cert: member.certPem, key: member.keyPem, ca: ca.certPem },
      { cert: client.certPem, key: client.keyPem, ca: ca.certPem },
    );
    expect(out).toStrictEqual({ serverAuthorized: true, clientAuthorized: true });
  });

  it("a certificate of another CA fails the handshake", async () => {
    const otherCa = await generateCa({ commonName: "other" });
    const stranger = await issueCertificate(otherCa, { commonName: "stranger", usages: ["client"] });
    const out = await handshake(
      { cert: member.certPem, key: member.keyPem, ca: ca.certPem },
      { cert: stranger.certPem, key: stranger.keyPem, ca: ca.certPem },
    );
    expect(out.serverAuthorized).toBe(false);
    expect(out.error).toBeDefined();
  });

  it("a server certificate without the dialled IP in its SANs is refused by the client", async () => {
    const noIp = await issueCertificate(ca, {
      commonName: "no-ip",
      dnsNames: ["elsewhere"],
      usages: ["server"],
    });
    const out = await handshake(
      { cert: noIp.certPem, key: noIp.keyPem, ca: ca.certPem },
      { cert: member.certPem, key: member.keyPem, ca: ca.certPem },
    );
    expect(out.error).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
  });
});
