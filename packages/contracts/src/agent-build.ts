import { createHash, sign, verify, type KeyObject } from 'node:crypto';

/**
 * A signed agent build (README "Upgrading agents"): one file, a header line of JSON
 * `{"manifest": {...}, "signature": "<base64>"}` then the agent bundle's bytes. The signature is the
 * fleet release key's Ed25519 signature of the manifest's canonical bytes; the manifest names the
 * bundle's SHA-256 and size. The gateway checks it before storing a build and every agent checks it
 * again, with its own copy of the public key, before staging one: no key travels with a build.
 */
export interface BuildManifest {
  version: string;
  /** Hex SHA-256 of the bundle. */
  sha256: string;
  /** The bundle's bytes. */
  size: number;
  created_at: string;
}

export interface SignedBuild {
  manifest: BuildManifest;
  bundle: Buffer;
}

/** A version a build may have: semantic versioning's `MAJOR.MINOR.PATCH[-pre]`, nothing a path could use. */
const BUILD_VERSION = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(-[0-9A-Za-z]+(\.[0-9A-Za-z]+)*)?$/;
export const BUILD_VERSION_MAX_LENGTH = 64;

/** The largest bundle an upload or an agent takes. */
export const BUILD_MAX_BYTES = 64 * 1024 * 1024;

/** The header line is a small JSON object; a file without a newline in its first bytes is no build. */
const HEADER_MAX_BYTES = 4096;

export function isBuildVersion(version: unknown): version is string {
  return typeof version === 'string' && version.length <= BUILD_VERSION_MAX_LENGTH && BUILD_VERSION.test(version);
}

/** Orders two build versions as semantic versioning does (a pre-release before its release); both must be isBuildVersion. */
export function compareBuildVersions(a: string, b: string): number {
  const [coreA, preA] = splitVersion(a);
  const [coreB, preB] = splitVersion(b);
  for (let i = 0; i < 3; i++) if (coreA[i] !== coreB[i]) return coreA[i] - coreB[i];
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return comparePreRelease(preA, preB);
}

function splitVersion(version: string): [number[], string | undefined] {
  const dash = version.indexOf('-');
  const core = dash < 0 ? version : version.slice(0, dash);
  return [core.split('.').map(Number), dash < 0 ? undefined : version.slice(dash + 1)];
}

function comparePreRelease(a: string, b: string): number {
  const partsA = a.split('.');
  const partsB = b.split('.');
  for (let i = 0; i < Math.min(partsA.length, partsB.length); i++) {
    const [x, y] = [partsA[i], partsB[i]];
    if (x === y) continue;
    const [numX, numY] = [/^\d+$/.test(x), /^\d+$/.test(y)];
    if (numX && numY) return Number(x) - Number(y);
    if (numX !== numY) return numX ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return partsA.length - partsB.length;
}

/** The bytes the signature covers: the manifest's fields in a fixed order. */
export function manifestBytes(manifest: BuildManifest): Buffer {
  const { version, sha256, size, created_at } = manifest;
  return Buffer.from(JSON.stringify({ version, sha256, size, created_at }));
}

/** The signed build file of `bundle` as `version`, signed with the release key's private half. */
export function signBuild(bundle: Buffer, version: string, privateKey: KeyObject, now = new Date()): Buffer {
  if (!isBuildVersion(version)) throw new Error(`"${version}" is not a build version (MAJOR.MINOR.PATCH[-pre])`);
  const manifest: BuildManifest = {
    version,
    sha256: createHash('sha256').update(bundle).digest('hex'),
    size: bundle.length,
    created_at: now.toISOString(),
  };
  const signature = sign(null, manifestBytes(manifest), privateKey).toString('base64');
  return Buffer.concat([Buffer.from(`${JSON.stringify({ manifest, signature })}\n`), bundle]);
}

/**
 * The build in `file` when its signature verifies with `publicKey` and its bundle is what the
 * manifest says; else why not. `version`, when given, is the version the build must have.
 */
export function verifySignedBuild(file: Buffer, publicKey: KeyObject, version?: string): SignedBuild | { refused: string } {
  const newline = file.subarray(0, HEADER_MAX_BYTES).indexOf(0x0a);
  if (newline < 0) return { refused: 'not a signed build: no header line (make one with `fleet agent build sign`)' };
  const header = parseHeader(file.subarray(0, newline));
  if ('refused' in header) return header;
  const { manifest, signature } = header;
  let signed = false;
  try {
    signed = verify(null, manifestBytes(manifest), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    signed = false;
  }
  if (!signed) return { refused: "the signature does not verify with the fleet's release key (unsigned, or signed by another key)" };
  if (version !== undefined && manifest.version !== version) return { refused: `the build is version ${manifest.version}, not ${version}` };
  const bundle = file.subarray(newline + 1);
  if (bundle.length !== manifest.size) return { refused: `the bundle is ${bundle.length} bytes, its manifest says ${manifest.size}` };
  if (createHash('sha256').update(bundle).digest('hex') !== manifest.sha256)
    return { refused: "the bundle's SHA-256 is not its manifest's: it was changed after it was signed" };
  return { manifest, bundle };
}

function parseHeader(line: Buffer): { manifest: BuildManifest; signature: string } | { refused: string } {
  let header: unknown;
  try {
    header = JSON.parse(line.toString('utf8'));
  } catch {
    return { refused: 'not a signed build: its header line is not JSON' };
  }
  const { manifest, signature } = (header ?? {}) as { manifest?: Partial<BuildManifest>; signature?: unknown };
  if (typeof signature !== 'string' || signature === '') return { refused: 'the build is not signed' };
  const valid =
    manifest !== undefined &&
    isBuildVersion(manifest.version) &&
    typeof manifest.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(manifest.sha256) &&
    Number.isSafeInteger(manifest.size) &&
    (manifest.size as number) >= 0 &&
    (manifest.size as number) <= BUILD_MAX_BYTES &&
    typeof manifest.created_at === 'string' &&
    !Number.isNaN(Date.parse(manifest.created_at));
  if (!valid) return { refused: 'the manifest is not {version, sha256, size, created_at} with a build version' };
  return { manifest: manifest as BuildManifest, signature };
}
