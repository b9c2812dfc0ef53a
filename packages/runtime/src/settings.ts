import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { isLabel, LABELS_RULE } from '@fleet/contracts/grammar';
import { DEFAULT_REGISTRIES } from '@fleet/contracts/host-access';
import { ConfigError } from './config';

/**
 * One configuration schema per service, validated at start-up. Values come
 * from the environment (the primary source) and, when FLEET_CONFIG_FILE names
 * one, from a JSON or YAML file whose keys are the same variable names; the
 * environment wins. A secret may instead be read from the file named by
 * `<NAME>_FILE` (in the environment or the config file). Every bad value is
 * reported at once, each naming the variable, the value and what it must be.
 */

interface Common {
  /** Read from `<NAME>_FILE` too; its value is never printed. */
  secret?: boolean;
  required?: boolean;
}

export type Setting = Common &
  (
    | { type: 'string'; default?: string | (() => string); pattern?: string; format?: SettingFormat; must?: string }
    | { type: 'integer'; default?: number; minimum: number; maximum: number }
    | { type: 'enum'; values: readonly string[]; default?: string }
  );

export type SettingsSchema = Record<string, Setting>;

/** The value a setting holds after loading: absent only when it has neither default nor value. */
type ValueOf<S extends Setting> = S extends { type: 'integer' }
  ? number
  : S extends { type: 'enum'; values: readonly (infer V)[] }
    ? V
    : string;
type HasValue<S extends Setting> = S extends { default: unknown } ? true : S extends { required: true } ? true : false;

export type Settings<T extends SettingsSchema> = { [K in keyof T as HasValue<T[K]> extends true ? K : never]: ValueOf<T[K]> } & {
  [K in keyof T as HasValue<T[K]> extends true ? never : K]?: ValueOf<T[K]>;
};

/** Names the config file; itself read from the environment only. */
export const CONFIG_FILE_VARIABLE = 'FLEET_CONFIG_FILE';

/** Checks beyond JSON Schema types, each with what it demands, in words. */
const FORMATS = {
  'nats-urls': {
    must: 'one or more comma-separated NATS URLs, e.g. nats://10.0.0.5:4222,nats://10.0.0.6:4222 (schemes nats, tls, ws, wss)',
    valid: (value: string) => {
      const urls = value
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean);
      return urls.length > 0 && urls.every(isNatsUrl);
    },
  },
  'listen-address': {
    must: 'host:port with a port from 0 to 65535, e.g. 127.0.0.1:9464 or [::1]:9464 (port 0 picks a free one)',
    valid: (value: string) => parseListenAddress(value) !== undefined,
  },
  labels: {
    must: `${LABELS_RULE}, e.g. role=web,zone=eu.west`,
    valid: (value: string) => value.split(',').filter(Boolean).every(isLabelPair),
  },
  'registry-list': {
    must:
      'comma-separated registries, each a host or host:port, e.g. docker.io,registry.example.com:5000 (a host without a port admits ' +
      'it on any port)',
    valid: (value: string) =>
      value.split(',').every((entry) => /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$/.test(entry.trim())),
  },
  'byte-size': {
    must: 'a size in bytes, optionally with a unit: 262144, 256kb, 1mb',
    valid: (value: string) => /^[0-9]+(\.[0-9]+)?\s*([kmgtp]?b)?$/i.test(value),
  },
} as const;

export type SettingFormat = keyof typeof FORMATS;

function isLabelPair(pair: string): boolean {
  const [key, value, ...rest] = pair.split('=');
  return rest.length === 0 && value !== undefined && isLabel(key, value);
}

function isNatsUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return ['nats:', 'tls:', 'ws:', 'wss:'].includes(parsed.protocol) && parsed.hostname !== '';
  } catch {
    return false;
  }
}

/** `127.0.0.1:9464`, `[::1]:0`, `metrics.local:9464` → host and port; undefined when it is not one. */
export function parseListenAddress(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) return undefined;
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

interface Candidate {
  value: unknown;
  /** Where the value came from, for the message: `env`, `env FLEET_X_FILE`, the config file's path. */
  source: string;
}

/** Reads, merges and validates the settings of `schema`; throws one ConfigError listing every bad value. */
export function loadSettings<T extends SettingsSchema>(schema: T, env: NodeJS.ProcessEnv = process.env): Settings<T> {
  const problems: string[] = [];
  const file = readConfigFile(env, schema, problems);
  const candidates: Record<string, Candidate> = {};
  for (const [name, setting] of Object.entries(schema)) {
    const candidate = pick(name, setting, env, file, problems);
    if (candidate) candidates[name] = candidate;
    else if (setting.required) problems.push(setting.secret ? `${name} or ${name}_FILE must be set` : `${name} must be set`);
  }
  const values: Record<string, unknown> = Object.fromEntries(
    Object.entries(candidates).map(([name, candidate]) => [name, candidate.value]),
  );
  const validate = compile(schema);
  if (!validate(values)) {
    const reported = new Set<string>();
    for (const error of validate.errors ?? []) {
      const name = nameOf(error);
      if (!name || reported.has(name) || !candidates[name]) continue;
      reported.add(name);
      problems.push(describeProblem(name, schema[name], candidates[name]));
    }
  }
  if (problems.length === 1) throw new ConfigError(problems[0]);
  if (problems.length > 1) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  for (const [name, setting] of Object.entries(schema)) {
    if (values[name] === undefined && setting.default !== undefined) {
      values[name] = typeof setting.default === 'function' ? setting.default() : setting.default;
    }
  }
  return values as Settings<T>;
}

type FileValues = { path: string; values: Record<string, unknown> } | undefined;

function readConfigFile(env: NodeJS.ProcessEnv, schema: SettingsSchema, problems: string[]): FileValues {
  const path = env[CONFIG_FILE_VARIABLE];
  if (!path) return undefined;
  let parsed: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both.
    parsed = YAML.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(`${CONFIG_FILE_VARIABLE}='${path}' cannot be read as YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  if (parsed === null || parsed === undefined) return { path, values: {} };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${CONFIG_FILE_VARIABLE}='${path}' must hold a mapping of variable names to values, e.g. FLEET_API_PORT: 8080`);
    return undefined;
  }
  const values = parsed as Record<string, unknown>;
  for (const key of Object.keys(values)) {
    const secretFile = key.endsWith('_FILE') && schema[key.slice(0, -'_FILE'.length)]?.secret;
    if (!schema[key] && !secretFile) {
      problems.push(
        `${CONFIG_FILE_VARIABLE}='${path}': '${key}' is not a setting of this service (known: ${Object.keys(schema).join(', ')})`,
      );
    }
  }
  return { path, values };
}

/** Environment first (a secret's `_FILE` before its value), then the config file the same way. */
function pick(name: string, setting: Setting, env: NodeJS.ProcessEnv, file: FileValues, problems: string[]): Candidate | undefined {
  const layers: Array<{ values: Record<string, unknown>; source: string }> = [{ values: env, source: 'env' }];
  if (file) layers.push({ values: file.values, source: file.path });
  for (const layer of layers) {
    const secretFile = setting.secret ? layer.values[`${name}_FILE`] : undefined;
    if (typeof secretFile === 'string' && secretFile !== '') return readSecretFile(name, secretFile, layer.source, problems);
    const value = layer.values[name];
    if (value !== undefined && value !== null && value !== '') return { value, source: layer.source };
  }
  return undefined;
}

function readSecretFile(name: string, path: string, source: string, problems: string[]): Candidate | undefined {
  try {
    return { value: readFileSync(path, 'utf8').trim(), source: `${name}_FILE='${path}'` };
  } catch (err) {
    problems.push(`${name}_FILE='${path}' (${source}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

function describeProblem(name: string, setting: Setting, candidate: Candidate): string {
  const shown = setting.secret ? `(${String(candidate.value).length} characters, not shown)` : `'${String(candidate.value)}'`;
  const from = candidate.source === 'env' ? '' : ` (from ${candidate.source})`;
  return `${name}=${shown}${from} must be ${mustOf(setting)}`;
}

/** What a value of `setting` must be, in words. */
export function mustOf(setting: Setting): string {
  switch (setting.type) {
    case 'integer':
      return `an integer from ${setting.minimum} to ${setting.maximum}`;
    case 'enum':
      return `one of ${setting.values.join(', ')}`;
    case 'string':
      return setting.must ?? (setting.format ? FORMATS[setting.format].must : 'a non-empty string');
  }
}

function nameOf(error: ErrorObject): string | undefined {
  return error.instancePath.split('/')[1];
}

function compile(schema: SettingsSchema) {
  // Environment values are strings: numbers are coerced ("8080" → 8080), and so is a YAML number for a string setting.
  const ajv = new Ajv({ allErrors: true, coerceTypes: true, strict: true });
  for (const [format, { valid }] of Object.entries(FORMATS)) ajv.addFormat(format, { type: 'string', validate: valid });
  const properties = Object.fromEntries(Object.entries(schema).map(([name, setting]) => [name, jsonSchemaOf(setting)]));
  return ajv.compile<Record<string, unknown>>({ type: 'object', properties });
}

function jsonSchemaOf(setting: Setting): Record<string, unknown> {
  switch (setting.type) {
    case 'integer':
      return { type: 'integer', minimum: setting.minimum, maximum: setting.maximum };
    case 'enum':
      return { type: 'string', enum: [...setting.values] };
    case 'string':
      return {
        type: 'string',
        minLength: 1,
        ...(setting.pattern ? { pattern: setting.pattern } : {}),
        ...(setting.format ? { format: setting.format } : {}),
      };
  }
}

/** A decorated NATS creds file: the user JWT block, then the seed block. */
const NATS_CREDS_PATTERN =
  '-----BEGIN NATS USER JWT-----[\\s\\S]+-----BEGIN USER NKEY SEED-----\\s*SU[A-Z2-7]{56}\\s*-+END USER NKEY SEED-+\\s*$';

/** An NKey seed (operator `SO…` or account `SA…`), as `fleet nats-config` writes it. */
export const NKEY_SEED_PATTERN = '^\\s*S[OA][A-Z2-7]{56}\\s*$';

/** What gateway and agent both read. */
export const COMMON_SETTINGS = {
  FLEET_NATS_URL: { type: 'string', default: 'nats://127.0.0.1:4222', format: 'nats-urls' },
  FLEET_NATS_CREDS: { type: 'string', secret: true, pattern: NATS_CREDS_PATTERN, must: 'a NATS creds file (a user JWT and its NKey seed)' },
  FLEET_NATS_CA_FILE: { type: 'string', must: "the path of the CA certificate (PEM) that signed the NATS server's certificate" },
  FLEET_TLS_EXPIRY_WARNING_DAYS: { type: 'integer', default: 30, minimum: 1, maximum: 3650 },
  FLEET_LOG_LEVEL: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
  // README "Host-level access": a pull, push, login or distribution inspect elsewhere needs docker:host.
  FLEET_REGISTRY_ALLOWLIST: { type: 'string', default: DEFAULT_REGISTRIES.join(','), format: 'registry-list' },
} as const satisfies SettingsSchema;

/** FLEET_REGISTRY_ALLOWLIST as the list host-access.ts compares registries with. */
export function registryAllowlist(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
}
