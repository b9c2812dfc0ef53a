import { CONTRACT, OPERATIONS, type OperationName, type OperationSpec } from '@fleet/contracts/operations';

/** The parts of a JSON schema the CLI turns into arguments and flags. */
export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
  items?: Schema;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  required?: string[];
  $ref?: string;
  allOf?: Schema[];
}

export interface ParamSpec {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  description?: string;
  schema: Schema;
  /** Declared `content: application/json` (the Engine's `filters`): the value is a JSON document. */
  json: boolean;
}

export interface OperationDetails {
  spec: OperationSpec;
  summary: string;
  params: ParamSpec[];
  /** The JSON request body's schema, when the operation takes one. */
  body?: Schema;
}

interface RawParam {
  name: string;
  in: ParamSpec['in'];
  required?: boolean;
  description?: string;
  schema?: Schema;
  content?: Record<string, { schema: Schema }>;
  $ref?: string;
}

type RawOperation = {
  summary?: string;
  parameters?: RawParam[];
  requestBody?: { content?: Record<string, { schema: Schema }> };
};

const contract = CONTRACT as {
  paths: Record<string, Record<string, unknown> & { parameters?: RawParam[] }>;
  components: Record<string, Record<string, unknown>>;
};

/** Follows `#/components/...` references. */
function deref<T>(value: T & { $ref?: string }): T {
  let current: T & { $ref?: string } = value;
  while (current.$ref) {
    const [, , group, name] = current.$ref.split('/');
    current = contract.components[group][name] as T & { $ref?: string };
  }
  return current;
}

/** A schema with its references and single-member `allOf` wrappers resolved (one level: what flags need). */
export function resolveSchema(schema: Schema): Schema {
  const resolved = deref(schema);
  if (!resolved.allOf) return resolved;
  const { allOf, ...rest } = resolved;
  return Object.assign({}, ...allOf.map(resolveSchema), rest) as Schema;
}

function toParam(raw: RawParam): ParamSpec {
  const param = deref(raw);
  const jsonContent = param.content?.['application/json'];
  return {
    name: param.name,
    in: param.in,
    required: param.required === true,
    description: param.description,
    schema: resolveSchema(jsonContent?.schema ?? param.schema ?? {}),
    json: jsonContent !== undefined,
  };
}

/** What the contract says about operation `spec`: parameters (path-level and its own) and body; streaming is in the spec. */
export function operationDetails(spec: OperationSpec): OperationDetails {
  const item = contract.paths[spec.path];
  const op = item[spec.method] as RawOperation;
  const byName = new Map<string, ParamSpec>();
  for (const raw of [...(item.parameters ?? []), ...(op.parameters ?? [])]) {
    const param = toParam(raw);
    byName.set(`${param.in}:${param.name}`, param);
  }
  const bodySchema = op.requestBody?.content?.['application/json']?.schema;
  return {
    spec,
    summary: op.summary ?? spec.name,
    params: [...byName.values()],
    body: bodySchema ? resolveSchema(bodySchema) : undefined,
  };
}

export function detailsOf(name: OperationName): OperationDetails {
  const spec = OPERATIONS.find((op) => op.name === name);
  if (!spec) throw new Error(`operation ${name} is not in the contract`);
  return operationDetails(spec);
}
