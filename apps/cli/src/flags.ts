import { type Command, InvalidArgumentError, Option } from 'commander';
import { JOB_TIMEOUT_SECONDS } from '@fleet/contracts/operations';
import type { ParamSpec, Schema } from './contract';
import { DOCKER_SPELLING } from './docker';

/** How a contract field is given on the command line. */
export type Kind = 'boolean' | 'integer' | 'number' | 'string' | 'json' | 'strings' | 'map' | 'complex';

/** A flag bound to a contract field: where its value goes and where commander keeps it. */
export interface Binding {
  field: string;
  /** commander's attribute name for the option. */
  attribute: string;
  kind: Kind;
}

function mainType(schema: Schema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((type) => type !== 'null') : schema.type;
}

export function kindOf(schema: Schema, json = false): Kind {
  if (json) return 'json';
  const type = mainType(schema);
  if (type === 'boolean' || type === 'integer' || type === 'number' || type === 'string') return type;
  if (type === 'array' && schema.items && mainType(schema.items) === 'string') return 'strings';
  const values = schema.additionalProperties;
  if (type === 'object' && !schema.properties && typeof values === 'object' && mainType(values) === 'string') return 'map';
  return 'complex';
}

/** `auto_start` → `auto-start`, `fromImage` → `from-image`, `X-Registry-Auth` → `registry-auth`. */
export function flagName(field: string): string {
  return field
    .replace(/^X-/i, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/_/g, '-')
    .toLowerCase();
}

function parseInteger(schema: Schema) {
  return (raw: string): number => {
    const value = Number(raw);
    const inRange = (schema.minimum === undefined || value >= schema.minimum) && (schema.maximum === undefined || value <= schema.maximum);
    if (!Number.isInteger(value) || !inRange) {
      const from = schema.minimum !== undefined ? ` from ${schema.minimum}` : '';
      const to = schema.maximum !== undefined ? ` to ${schema.maximum}` : '';
      throw new InvalidArgumentError(`a whole number${from}${to}`);
    }
    return value;
  };
}

/** `--timeout`: the job's deadline in the contract's range. */
export function parseJobTimeout(raw: string): number {
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < JOB_TIMEOUT_SECONDS.minimum || seconds > JOB_TIMEOUT_SECONDS.maximum) {
    throw new InvalidArgumentError(`whole seconds from ${JOB_TIMEOUT_SECONDS.minimum} to ${JOB_TIMEOUT_SECONDS.maximum}`);
  }
  return seconds;
}

function parseNumber(raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new InvalidArgumentError('a number');
  return value;
}

export function parseJsonArgument(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new InvalidArgumentError(`not valid JSON (${(err as Error).message})`);
  }
}

/** A comma-separated option's items, trimmed, empty ones left out. */
export function commaList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function collectPair(raw: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('KEY=VALUE');
  return { ...previous, [raw.slice(0, eq)]: raw.slice(eq + 1) };
}

/** Converts a positional argument's text the way its flag would. */
export function parseAs(kind: Kind, schema: Schema, raw: string): unknown {
  if (kind === 'integer') return parseInteger(schema)(raw);
  if (kind === 'number') return parseNumber(raw);
  if (kind === 'json') return parseJsonArgument(raw);
  return raw;
}

function describe(description: string | undefined, schema: Schema): string {
  const text = (description ?? schema.description ?? '').replace(/\s+/g, ' ').trim();
  return schema.default !== undefined && schema.default !== false ? `${text} (default: ${JSON.stringify(schema.default)})` : text;
}

/** A commander option for a contract field, or undefined when the field is too nested for a flag (use --body). */
export function optionFor(field: string, kind: Kind, schema: Schema, description?: string, short?: string): Option | undefined {
  return optionNamed(`${short ? `-${short}, ` : ''}--${flagName(field)}`, kind, schema, describe(description, schema));
}

function optionNamed(names: string, kind: Kind, schema: Schema, text: string): Option | undefined {
  switch (kind) {
    case 'boolean':
      // A field that defaults to true is turned off with --no-<flag>; the default itself is the gateway's.
      return schema.default === true ? new Option(names.replace(/--/, '--no-'), text) : new Option(names, text);
    case 'integer':
      return new Option(`${names} <n>`, text).argParser(parseInteger(schema));
    case 'number':
      return new Option(`${names} <n>`, text).argParser(parseNumber);
    case 'string': {
      const option = new Option(`${names} <value>`, text);
      return schema.enum ? option.choices(schema.enum.map(String)) : option;
    }
    case 'json':
      return new Option(`${names} <json>`, text).argParser(parseJsonArgument);
    case 'strings':
      return new Option(`${names} <value>`, `${text} (repeat for more)`.trim()).argParser(collect);
    case 'map':
      return new Option(`${names} <key=value>`, `${text} (repeat for more)`.trim()).argParser(collectPair);
    default:
      return undefined;
  }
}

function isTaken(command: Command, option: Option): boolean {
  for (let current: Command | null = command; current; current = current.parent) {
    if (current.options.some((existing) => existing.attributeName() === option.attributeName())) return true;
  }
  return false;
}

function shortTaken(command: Command, short: string): boolean {
  for (let current: Command | null = command; current; current = current.parent) {
    if (current.options.some((existing) => existing.short === `-${short}`)) return true;
  }
  return short === 'h';
}

/**
 * The option for `field` unless its flag is taken (here or by a global option), with docker's short flag
 * and docker's long name where they differ (`-t`/`--time` for stop's `t`); answers the bindings that read its values back.
 */
export function addFieldOption(command: Command, field: string, kind: Kind, schema: Schema, description?: string): Binding[] {
  const docker = schema.default === true ? undefined : DOCKER_SPELLING[field];
  const short = docker && !shortTaken(command, docker.short) ? docker.short : undefined;
  const option = optionFor(field, kind, schema, description, short);
  if (!option || isTaken(command, option)) return [];
  command.addOption(option);
  const bindings = [{ field, attribute: option.attributeName(), kind }];
  const alias = docker?.long && optionNamed(`--${docker.long}`, kind, schema, `docker's name for --${flagName(field)}`);
  if (alias && !isTaken(command, alias)) {
    command.addOption(alias);
    bindings.push({ field, attribute: alias.attributeName(), kind });
  }
  return bindings;
}

/** A flag for each of `params` (query or header) but those in `skip`. */
export function addParamOptions(command: Command, params: readonly ParamSpec[], skip: ReadonlySet<string> = new Set()): Binding[] {
  return params
    .filter((param) => !skip.has(param.name))
    .flatMap((param) => addFieldOption(command, param.name, kindOf(param.schema, param.json), param.schema, param.description));
}

/** The values the user actually gave (not commander's defaults), keyed by contract field. */
export function givenValues(command: Command, bindings: readonly Binding[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const opts = command.opts();
  for (const binding of bindings) {
    if (command.getOptionValueSource(binding.attribute) !== 'cli') continue;
    values[binding.field] = merged(values[binding.field], opts[binding.attribute]);
  }
  return values;
}

/** A field given under two names (`--labels` and docker's `--label`) keeps the values of both. */
function merged(previous: unknown, value: unknown): unknown {
  if (Array.isArray(previous) && Array.isArray(value)) return [...previous, ...value];
  if (previous && typeof previous === 'object' && value && typeof value === 'object') return { ...previous, ...value };
  return value;
}
