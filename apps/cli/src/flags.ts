import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ParamSpec, Schema } from './contract';

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
      throw new InvalidArgumentError(`a whole number${schema.minimum !== undefined ? ` from ${schema.minimum}` : ''}${schema.maximum !== undefined ? ` to ${schema.maximum}` : ''}`);
    }
    return value;
  };
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

function collect(value: string, previous: string[] | undefined): string[] {
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
export function optionFor(field: string, kind: Kind, schema: Schema, description?: string): Option | undefined {
  const flag = flagName(field);
  const text = describe(description, schema);
  switch (kind) {
    case 'boolean':
      // A field that defaults to true is turned off with --no-<flag>; the default itself is the gateway's.
      return schema.default === true ? new Option(`--no-${flag}`, text) : new Option(`--${flag}`, text);
    case 'integer':
      return new Option(`--${flag} <n>`, text).argParser(parseInteger(schema));
    case 'number':
      return new Option(`--${flag} <n>`, text).argParser(parseNumber);
    case 'string': {
      const option = new Option(`--${flag} <value>`, text);
      return schema.enum ? option.choices(schema.enum.map(String)) : option;
    }
    case 'json':
      return new Option(`--${flag} <json>`, text).argParser(parseJsonArgument);
    case 'strings':
      return new Option(`--${flag} <value>`, `${text} (repeat for more)`.trim()).argParser(collect);
    case 'map':
      return new Option(`--${flag} <key=value>`, `${text} (repeat for more)`.trim()).argParser(collectPair);
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

/** Adds the option for `field` unless its flag is taken (here or by a global option); answers the binding to read its value back. */
export function addFieldOption(command: Command, field: string, kind: Kind, schema: Schema, description?: string): Binding | undefined {
  const option = optionFor(field, kind, schema, description);
  if (!option || isTaken(command, option)) return undefined;
  command.addOption(option);
  return { field, attribute: option.attributeName(), kind };
}

/** A flag for each of `params` (query or header) but those in `skip`. */
export function addParamOptions(command: Command, params: readonly ParamSpec[], skip: ReadonlySet<string> = new Set()): Binding[] {
  return params
    .filter((param) => !skip.has(param.name))
    .map((param) => addFieldOption(command, param.name, kindOf(param.schema, param.json), param.schema, param.description))
    .filter((binding): binding is Binding => binding !== undefined);
}

/** The values the user actually gave (not commander's defaults), keyed by contract field. */
export function givenValues(command: Command, bindings: readonly Binding[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const opts = command.opts();
  for (const binding of bindings) {
    if (command.getOptionValueSource(binding.attribute) === 'cli') values[binding.field] = opts[binding.attribute];
  }
  return values;
}
