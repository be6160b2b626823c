import { X509Certificate } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureDevCertificates } from "../../../src/tls/certs.ts";
import { CairnError } from "../../../src/util/errors.ts";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-dev-certs-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (file: string) => (await stat(file)).mode & 0o777;
const read = (file: string) => readFile(file, "utf8");

describe("ensureDevCertificates", () => {
  it("creates a CA and one server+client certificate per member, keys readable by the owner only", async () => {
    const out = await ensureDevCertificates(join(dir, "certs"), ["n1", "n2", "n3"]);
    expect(out.caFile).toBe(join(dir, "certs", "ca.crt"));
    expect(Object.keys(out.members)).toStrictEqual(["n1", "n2", "n3"]);
    const caPem = await read(out.caFile);
    const caCert = new X509Certificate(caPem);
    expect(caCert.ca).toBe(true);
    expect(await mode(join(dir, "certs", "ca.key"))).toBe(0o600);
    for (const [name, files] of Object.entries(out.members)) {
      expect(files).toStrictEqual({
        certFile: join(dir, "certs", `${name}.crt`),
        keyFile: join(dir, "certs", `${name}.key`),
      });
      const certPem = await read(files.certFile);
      const keyPem = await read(files.keyFile);
      const cert = new X509Certificate(certPem);
      expect(cert.subject).toBe(`CN=${name}`);
      expect(cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
      expect(cert.keyUsage).toStrictEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
      expect(await mode(files.keyFile)).toBe(0o600);
      expect(() => tls.createSecureContext({ cert: certPem, key: keyPem, ca: caPem })).not.toThrow();
    }
  });

  it("reuses existing files on a second run and adds missing members", async () => {
    const first = await ensureDevCertificates(dir, ["n1", "n2"]);
    const before = { ca: await read(first.caFile), n1: await read(first.members.n1!.certFile) };
    const second = await ensureDevCertificates(dir, ["n1", "n2", "n3"]);
    expect(await read(second.caFile)).toBe(before.ca);
    expect(await read(second.members.n1!.certFile)).toBe(before.n1);
    const n3 = new X509Certificate(await read(second.members.n3!.certFile));
    expect(n3.verify(new X509Certificate(before.ca).publicKey)).toBe(true);
  });

  it("tightens the mode of a reused key file", async () => {
    const out = await ensureDevCertificates(dir, ["n1"]);
    await chmod(out.members.n1!.keyFile, 0o644);
    await ensureDevCertificates(dir, ["n1"]);
    expect(await mode(out.members.n1!.keyFile)).toBe(0o600);
  });

  it("reissues a member whose key no longer matches its certificate", async () => {
    const out = await ensureDevCertificates(dir, ["n1", "n2"]);
    const n1Cert = await read(out.members.n1!.certFile);
    await writeFile(out.members.n1!.keyFile, await read(out.members.n2!.keyFile));
    await ensureDevCertificates(dir, ["n1", "n2"]);
    const certPem = await read(out.members.n1!.certFile);
    expect(certPem).not.toBe(n1Cert);
    const keyPem = await read(out.members.n1!.keyFile);
    expect(() => tls.createSecureContext({ cert: certPem, key: keyPem })).not.toThrow();
  });

  it("replaces a broken CA and reissues every member with it", async () => {
    const out = await ensureDevCertificates(dir, ["n1"]);
    const oldCa = await read(out.caFile);
    await writeFile(out.caFile, "garbage");
    await ensureDevCertificates(dir, ["n1"]);
    const newCa = await read(out.caFile);
    expect(newCa).not.toBe(oldCa);
    const n1 = new X509Certificate(await read(out.members.n1!.certFile));
    expect(n1.verify(new X509Certificate(newCa).publicKey)).toBe(true);
  });

  it("refuses member names that are not file-safe, reserved, or repeated", async () => {
    for (const names of [["../x"], ["ca"], ["a b"], [""], ["n1", "n1"]]) {
      await expect(ensureDevCertificates(dir, names)).rejects.toThrow(CairnError);
    }
  });
});
