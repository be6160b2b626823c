/**
 * X.509 certificates for the peer (and client) mutual TLS of a Cairn cluster: a cluster CA and
 * certificates it signs, made with @peculiar/x509 over WebCrypto (`globalThis.crypto`, present in
 * Node.js 20 and Bun). Keys are ECDSA P-256 with SHA-256 signatures, private keys exported as PKCS#8
 * PEM. Extension profile after RFC 5280 §4.2 (basicConstraints, keyUsage, extKeyUsage,
 * subjectAltName, subject/authority key identifiers), which is what Node's TLS and Go's crypto/x509
 * (etcd) check.
 */
// @peculiar/x509 needs a Reflect metadata polyfill (its dependency tsyringe throws at import time
// without one); it must be evaluated before @peculiar/x509.
import "reflect-metadata";
import type { webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";
import { invalidArgument } from "../util/errors.ts";

/** PEM text of a certificate and its private key (PKCS#8, "-----BEGIN PRIVATE KEY-----"). */
export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

/** What a certificate may be used for (RFC 5280 §4.2.1.12 extendedKeyUsage id-kp-serverAuth / id-kp-clientAuth). */
export type CertificateUsage = "server" | "client";

/** Default validity of a CA in days (10 years: a dev cluster CA should outlive the cluster). */
export const DEFAULT_CA_VALID_DAYS = 3650;

/** Default validity of a member/client certificate in days (etcd's docs generate 1-year peer certs; 5 years for dev). */
export const DEFAULT_CERT_VALID_DAYS = 1825;

/** Most days a certificate may be valid (100 years); guards against a typo producing a Date overflow. */
const MAX_VALID_DAYS = 36_500;

/** Backdating of notBefore so a peer whose clock is slightly behind accepts a freshly issued certificate. */
const NOT_BEFORE_SKEW_MS = 5 * 60 * 1000;

const MS_PER_DAY = 24 * 60 * 60 * 1000;

/** ECDSA P-256 with SHA-256 (the signature algorithm of keys and certificates made here). */
const EC_ALGORITHM: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
};

/** Options of {@link generateCa}. */
export interface GenerateCaOptions {
  /** Subject common name, e.g. "cairn-dev-ca". Must be non-empty. */
  commonName: string;
  /** Days from now until notAfter; default {@link DEFAULT_CA_VALID_DAYS}. */
  validDays?: number;
}

/** Options of {@link issueCertificate}. */
export interface IssueCertificateOptions {
  /** Subject common name, e.g. the member name. Must be non-empty. */
  commonName: string;
  /** subjectAltName dNSName entries, e.g. ["localhost"]. */
  dnsNames?: string[];
  /** subjectAltName iPAddress entries, IPv4 or IPv6 text, e.g. ["127.0.0.1", "::1"]. */
  ipAddresses?: string[];
  /** Days from now until notAfter; default {@link DEFAULT_CERT_VALID_DAYS}. */
  validDays?: number;
  /** extendedKeyUsage: "server" → serverAuth, "client" → clientAuth. At least one. */
  usages: CertificateUsage[];
}

/**
 * Creates a self-signed CA certificate (basicConstraints CA:true, pathLen 0, keyUsage
 * keyCertSign|cRLSign, RFC 5280 §4.2.1.9/§4.2.1.3) with a fresh ECDSA P-256 key.
 * @returns the CA certificate and its PKCS#8 private key, both PEM
 * @throws CairnError invalid_argument on an empty common name or a validDays outside 1..36500
 */
export async function generateCa(opts: GenerateCaOptions): Promise<CertificateAndKey> {
  const name = subjectName(opts.commonName);
  const { notBefore, notAfter } = validity(opts.validDays ?? DEFAULT_CA_VALID_DAYS);
  const keys = await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name,
    keys,
    notBefore,
    notAfter,
    signingAlgorithm: EC_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString("pem")}\n`, keyPem: await exportPkcs8Pem(keys.privateKey) };
}

/**
 * Issues a leaf certificate signed by `ca` with a fresh ECDSA P-256 key: basicConstraints CA:false,
 * keyUsage digitalSignature, extendedKeyUsage from `usages`, subjectAltName from `dnsNames` and
 * `ipAddresses` (TLS clients check the peer's host against the SAN, RFC 6125; Node ignores the CN).
 * @param ca the CA's certificate and PKCS#8 ECDSA P-256 key (as made by {@link generateCa})
 * @returns the certificate and its PKCS#8 private key, both PEM
 * @throws CairnError invalid_argument on an empty common name, no usages, a bad IP address or DNS
 *   name, or a validDays outside 1..36500; Error if the CA PEM cannot be parsed
 */
export async function issueCertificate(
  ca: CertificateAndKey,
  opts: IssueCertificateOptions,
): Promise<CertificateAndKey> {
  const name = subjectName(opts.commonName);
  if (opts.usages.length === 0) throw invalidArgument("a certificate needs at least one usage");
  const altNames = subjectAltNames(opts.dnsNames ?? [], opts.ipAddresses ?? []);
  const { notBefore, notAfter } = validity(opts.validDays ?? DEFAULT_CERT_VALID_DAYS);

  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPkcs8Pem(ca.keyPem);
  const keys = await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);

  const extendedUsages = [...new Set(opts.usages)].map((u) =>
    u === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
  );
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(extendedUsages, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false));

  const cert = await x509.X509CertificateGenerator.create({
    subject: name,
    issuer: caCert.subject,
    publicKey: keys.publicKey,
    signingKey: caKey,
    notBefore,
    notAfter,
    signingAlgorithm: EC_ALGORITHM,
    extensions,
  });
  return { certPem: `${cert.toString("pem")}\n`, keyPem: await exportPkcs8Pem(keys.privateKey) };
}

function subjectName(commonName: string): string {
  if (commonName.trim() === "") throw invalidArgument("certificate common name must not be empty");
  // x509.Name parses an RFC 4514 string; escape the characters that would split it.
  return `CN=${commonName.replace(/([,+"\\<>;=#])/g, "\\$1")}`;
}

function validity(validDays: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(validDays) || validDays < 1 || validDays > MAX_VALID_DAYS) {
    throw invalidArgument(`validDays must be an integer in 1..${MAX_VALID_DAYS}, got ${validDays}`);
  }
  const now = Date.now();
  return { notBefore: new Date(now - NOT_BEFORE_SKEW_MS), notAfter: new Date(now + validDays * MS_PER_DAY) };
}

function subjectAltNames(dnsNames: string[], ipAddresses: string[]): x509.JsonGeneralNames {
  const names: x509.JsonGeneralNames = [];
  for (const dns of dnsNames) {
    if (!/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(dns))
      throw invalidArgument(`invalid DNS name "${dns}"`);
    names.push({ type: "dns", value: dns });
  }
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw invalidArgument(`invalid IP address "${ip}"`);
    names.push({ type: "ip", value: ip });
  }
  return names;
}

async function exportPkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return `${x509.PemConverter.encode(der, "PRIVATE KEY")}\n`;
}

async function importPkcs8Pem(pem: string): Promise<webcrypto.CryptoKey> {
  const [der] = x509.PemConverter.decode(pem);
  if (der === undefined) throw invalidArgument("CA key PEM holds no key");
  return crypto.subtle.importKey("pkcs8", der, EC_ALGORITHM, false, ["sign"]);
}

export { type DevCertificates, ensureDevCertificates } from "./dev-certs.ts";
