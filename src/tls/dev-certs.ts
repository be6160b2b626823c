/**
 * Certificates of the local dev cluster (`cairn dev`): one CA and one certificate per member, kept
 * in a directory and reused by the next run. Every member certificate serves both as the member's
 * TLS server certificate and as its client certificate towards the other members (etcd's
 * --peer-cert-file is used the same way), with SANs 127.0.0.1, ::1 and localhost.
 */
import { createPublicKey, X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { invalidArgument } from "../util/errors.ts";
import { type CertificateAndKey, generateCa, issueCertificate } from "./certs.ts";

/** Paths of the dev certificates (absolute). */
export interface DevCertificates {
  /** PEM of the dev CA certificate (dir/ca.crt). */
  caFile: string;
  /** Member name → its certificate (dir/<name>.crt) and PKCS#8 key (dir/<name>.key). */
  members: Record<string, { certFile: string; keyFile: string }>;
}

/** Common name of the dev CA. */
const DEV_CA_COMMON_NAME = "cairn-dev-ca";

/** SANs of every dev member certificate: the loopback addresses `cairn dev` listens on. */
const DEV_IP_ADDRESSES = ["127.0.0.1", "::1"];
const DEV_DNS_NAMES = ["localhost"];

/** extendedKeyUsage OIDs (RFC 5280 §4.2.1.12) a dev member certificate must carry. */
const SERVER_AUTH_OID = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";

/** A certificate that expires within this margin is replaced instead of reused. */
const RENEW_BEFORE_EXPIRY_MS = 24 * 60 * 60 * 1000;

/** File mode of private keys (owner read/write only). */
const KEY_FILE_MODE = 0o600;
const CERT_FILE_MODE = 0o644;
const DIR_MODE = 0o700;

/** A member name usable as a file name; "ca" is reserved for the CA files. */
const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Makes sure `dir` holds a dev CA (ca.crt, ca.key) and, for each member name, a certificate
 * (<name>.crt, <name>.key) signed by that CA, for server and client use, with SANs 127.0.0.1, ::1,
 * localhost. Existing files are reused when they are valid (parse, the key matches the
 * certificate, signed by the CA, SANs present, not expiring within a day); anything else is
 * (re)issued. When the CA is replaced, every member certificate is reissued. Key files get mode 0600.
 * Files are written to a temporary name and renamed, so a crash never leaves a half-written file.
 * @param dir directory to use; created (mode 0700) if missing
 * @param memberNames member names (1-64 chars of [A-Za-z0-9._-], not starting with . - _, not "ca", unique)
 * @returns absolute paths of the CA certificate and of each member's certificate and key
 * @throws CairnError invalid_argument on a bad or duplicate member name; fs errors as thrown by node:fs
 */
export async function ensureDevCertificates(dir: string, memberNames: string[]): Promise<DevCertificates> {
  for (const name of memberNames) {
    if (!MEMBER_NAME.test(name) || name === "ca") throw invalidArgument(`invalid member name "${name}"`);
  }
  if (new Set(memberNames).size !== memberNames.length) throw invalidArgument("duplicate member name");

  const root = resolve(dir);
  await mkdir(root, { recursive: true, mode: DIR_MODE });
  const caFile = join(root, "ca.crt");
  const caKeyFile = join(root, "ca.key");

  let ca = await readPair(caFile, caKeyFile);
  let caReplaced = false;
  if (ca === null || !isUsableCa(ca)) {
    ca = await generateCa({ commonName: DEV_CA_COMMON_NAME });
    await writePair(caFile, caKeyFile, ca);
    caReplaced = true;
  } else {
    await chmod(caKeyFile, KEY_FILE_MODE);
  }

  const members: DevCertificates["members"] = {};
  for (const name of memberNames) {
    const certFile = join(root, `${name}.crt`);
    const keyFile = join(root, `${name}.key`);
    const existing = caReplaced ? null : await readPair(certFile, keyFile);
    if (existing !== null && isUsableMemberCert(existing, ca.certPem)) {
      await chmod(keyFile, KEY_FILE_MODE);
    } else {
      const issued = await issueCertificate(ca, {
        commonName: name,
        dnsNames: DEV_DNS_NAMES,
        ipAddresses: DEV_IP_ADDRESSES,
        usages: ["server", "client"],
      });
      await writePair(certFile, keyFile, issued);
    }
    members[name] = { certFile, keyFile };
  }
  return { caFile, members };
}

async function readPair(certFile: string, keyFile: string): Promise<CertificateAndKey | null> {
  try {
    const [certPem, keyPem] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
    return { certPem, keyPem };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

async function writePair(certFile: string, keyFile: string, pair: CertificateAndKey): Promise<void> {
  // Key first: a certificate on disk always has its key beside it.
  await writeAtomic(keyFile, pair.keyPem, KEY_FILE_MODE);
  await writeAtomic(certFile, pair.certPem, CERT_FILE_MODE);
}

async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode); // the umask may have narrowed or the file may have existed
  await rename(tmp, file);
}

/** Parses the pair; true when the key belongs to the certificate and it is valid for a while yet. */
function parseMatching(pair: CertificateAndKey): X509Certificate | null {
  try {
    const cert = new X509Certificate(pair.certPem);
    const fromKey = createPublicKey(pair.keyPem).export({ type: "spki", format: "der" });
    const fromCert = cert.publicKey.export({ type: "spki", format: "der" });
    if (!fromKey.equals(fromCert)) return null;
    const now = Date.now();
    if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) - RENEW_BEFORE_EXPIRY_MS < now)
      return null;
    return cert;
  } catch {
    return null;
  }
}

function isUsableCa(pair: CertificateAndKey): boolean {
  const cert = parseMatching(pair);
  return cert?.ca === true;
}

function isUsableMemberCert(pair: CertificateAndKey, caPem: string): boolean {
  const cert = parseMatching(pair);
  if (cert === null) return false;
  try {
    const caCert = new X509Certificate(caPem);
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return false;
  } catch {
    return false;
  }
  const extendedUsages = cert.keyUsage ?? [];
  return (
    [SERVER_AUTH_OID, CLIENT_AUTH_OID].every((oid) => extendedUsages.includes(oid)) &&
    DEV_IP_ADDRESSES.every((ip) => cert.checkIP(ip) !== undefined) &&
    DEV_DNS_NAMES.every((dns) => cert.checkHost(dns) !== undefined)
  );
}
