import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
const bun = join(root, "node_modules", ".bin", "bun");

/** Bun is a devDependency (DESIGN.md: every node also runs under Bun). Runs under Bun: makes a CA and a member certificate and loads them in Bun's node:tls. */
const script = `
import tls from "node:tls";
import { generateCa, issueCertificate } from "./src/tls/certs.ts";
const ca = await generateCa({ commonName: "bun-ca" });
const cert = await issueCertificate(ca, { commonName: "n1", ipAddresses: ["127.0.0.1"], usages: ["server", "client"] });
tls.createSecureContext({ cert: cert.certPem, key: cert.keyPem, ca: ca.certPem });
const { X509Certificate } = await import("node:crypto");
const x = new X509Certificate(cert.certPem);
console.log(JSON.stringify({ issued: x.checkIssued(new X509Certificate(ca.certPem)), san: x.subjectAltName }));
`;

describe("certificates under Bun", () => {
  it("generates a CA and a certificate that Bun's TLS loads", async () => {
    const { stdout } = await promisify(execFile)(bun, ["--eval", script], { cwd: root, timeout: 20_000 });
    expect(JSON.parse(stdout.trim())).toStrictEqual({ issued: true, san: "IP Address:127.0.0.1" });
  });
});
