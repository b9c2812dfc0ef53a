import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Router, type Request, type RequestHandler } from 'express';
import { loadContract, parametersOf, readOperations, type Document, type OperationSpec } from '@fleet/contracts/operations';
import { ApiError, badRequest } from '../api-error';
import { compareBySpecificity, expressPath } from '../routes/node/route-order';

type Json = Record<string, unknown>;

/** What one operation checks, compiled once at start. */
interface OperationChecks {
  /** Path, query and header parameters: strings coerced to the declared types, defaults filled in. */
  parameters: ValidateFunction;
  knownQuery: Set<string>;
  /** Query parameters sent as JSON text (`content: application/json`), parsed before they are checked. */
  jsonQuery: string[];
  /** Array query parameters (`names=a&names=b`): one given once arrives as a lone string and is made a list of one. */
  arrayQuery: string[];
  /** The JSON body, exactly as sent (no coercion); absent when the operation declares none. */
  body?: ValidateFunction;
  bodyRequired: boolean;
  /** The body is a file of this media type (`application/x-tar`), streamed on by the route, never parsed here. */
  uploadMediaType?: string;
}

const CONTRACT_ID = 'fleet-contract';

/** Every operation of the contract, each with its validators compiled once, when the gateway starts. */
export interface ContractValidation {
  /**
   * The validator of one operation, mounted first on the operation's own route: the route is
   * looked up once per request, by express' router.
   */
  forOperation(op: Pick<OperationSpec, 'method' | 'path'>): RequestHandler;
  /** A path the contract knows, called with a method it does not: a 405 naming the methods it declares. */
  methodNotAllowed(): Router;
}

/**
 * Validates requests against the contract (README "Responses": a 400 names the bad field).
 * Each operation's parameters and body are compiled by ajv once, when the gateway starts, and
 * mounted on an express route of the operation's path (patterns compiled once), so a request is
 * checked by its own operation's compiled validators only.
 */
export function compileContractValidation(contract: Json = loadContract()): ContractValidation {
  const parametersAjv = newAjv(true);
  const bodyAjv = newAjv(false);
  // Literal segments before parameters (`…/docker/image` before `…/docker/{id}`), as the routes themselves are mounted.
  const operations = [...readOperations(contract)].sort((a, b) => compareBySpecificity(a.path, b.path));
  const checks = new Map(operations.map((op) => [operationKey(op), compileOperation(contract, op, parametersAjv, bodyAjv)]));
  const checksOf = (op: Pick<OperationSpec, 'method' | 'path'>) => {
    const found = checks.get(operationKey(op));
    if (!found) throw new Error(`${op.method.toUpperCase()} ${op.path} is no operation of the contract`);
    return found;
  };
  return {
    forOperation: (op) => validator(checksOf(op)),
    methodNotAllowed: () => methodNotAllowed(operations),
  };
}

function methodNotAllowed(operations: OperationSpec[]): Router {
  const router = Router();
  const methodsByPath = new Map<string, string[]>();
  for (const op of operations) methodsByPath.set(op.path, [...(methodsByPath.get(op.path) ?? []), op.method.toUpperCase()]);
  for (const [path, methods] of methodsByPath) {
    // A declared method that reaches this far has no route on this gateway (GET /metrics without metrics): unknown, not 405.
    const declared = new Set(methods.includes('GET') ? [...methods, 'HEAD'] : methods);
    router.all(expressPath(path), (req, res, next) => {
      if (declared.has(req.method)) return next();
      res.set('Allow', methods.join(', '));
      throw new ApiError('method_not_allowed', `${req.method} method not allowed`);
    });
  }
  return router;
}

function operationKey(op: Pick<OperationSpec, 'method' | 'path'>): string {
  return `${op.method} ${op.path}`;
}

/** Options as express-openapi-validator used them, so the same requests pass and fail with the same messages. */
function newAjv(coerce: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    strict: false,
    strictNumbers: true,
    strictTuples: true,
    allowUnionTypes: false,
    validateSchema: false,
    coerceTypes: coerce,
    useDefaults: true,
    removeAdditional: false,
  });
  addFormats(ajv);
  return ajv;
}

function compileOperation(contract: Json, op: OperationSpec, parametersAjv: Ajv2020, bodyAjv: Ajv2020): OperationChecks {
  const operation = (contract.paths as Record<string, Json>)[op.path][op.method] as Json;
  const parameters = parametersOf(contract as Document, op.path, op.method);
  const groups = { query: objectSchema(), headers: objectSchema(), params: objectSchema() };
  const jsonQuery: string[] = [];
  const arrayQuery: string[] = [];
  for (const parameter of parameters) {
    const group =
      parameter.in === 'query'
        ? groups.query
        : parameter.in === 'header'
          ? groups.headers
          : parameter.in === 'path'
            ? groups.params
            : undefined;
    if (!group) continue;
    const name = parameter.in === 'header' ? parameter.name.toLowerCase() : parameter.name;
    const json = parameter.content?.['application/json'];
    if (json && parameter.in === 'query') jsonQuery.push(name);
    if (!json && parameter.in === 'query' && parameter.schema?.type === 'array') arrayQuery.push(name);
    group.properties[name] = withContractRefs((json ? json.schema : (parameter.schema as Json | undefined)) ?? {});
    if (parameter.required) group.required.push(name);
  }
  const requestBody = operation.requestBody as { required?: boolean; content?: Record<string, { schema?: Json }> } | undefined;
  const bodySchema = requestBody?.content?.['application/json']?.schema;
  ensureContract(parametersAjv, contract);
  ensureContract(bodyAjv, contract);
  return {
    parameters: parametersAjv.compile({ type: 'object', properties: groups }),
    knownQuery: new Set(Object.keys(groups.query.properties)),
    jsonQuery,
    arrayQuery,
    body: bodySchema
      ? bodyAjv.compile({
          type: 'object',
          properties: { body: withContractRefs(bodySchema) },
          ...(requestBody?.required ? { required: ['body'] } : {}),
        })
      : undefined,
    bodyRequired: requestBody?.required === true,
    uploadMediaType: op.uploadMediaType,
  };
}

function validator(checks: OperationChecks): RequestHandler {
  return (req, _res, next) => {
    const query = { ...(req.query as Json) };
    for (const name of Object.keys(query)) {
      if (!checks.knownQuery.has(name)) throw badRequest(`query.${name} Unknown query parameter '${name}'`);
    }
    for (const name of checks.jsonQuery) query[name] = parseJsonText(query[name]);
    for (const name of checks.arrayQuery) if (typeof query[name] === 'string') query[name] = [query[name]];
    if (!checks.parameters({ query, headers: req.headers, params: req.params })) throw invalid(checks.parameters.errors);
    if (checks.uploadMediaType) checkFileMediaType(req, checks.uploadMediaType);
    if (checks.body) {
      checkMediaType(req, checks.bodyRequired);
      if (!checks.body({ body: req.body })) throw invalid(checks.body.errors);
    }
    // Express 5 parses req.query afresh on every read: the coerced values, with their defaults, replace it.
    Object.defineProperty(req, 'query', { value: query, writable: true, configurable: true, enumerable: true });
    next();
  };
}

/** A body the contract declares must come as JSON; with none declared required, no content type means no body. */
function checkMediaType(req: Request, required: boolean): void {
  const mediaType = req.get('content-type')?.split(';')[0].trim().toLowerCase();
  if (mediaType === 'application/json') return;
  if (!mediaType && !required) return;
  throw new ApiError('unsupported_media_type', mediaType ? `unsupported media type ${mediaType}` : 'media type not specified');
}

/** A file body must say what it is: a tar sent as anything else (or as nothing) is refused before a byte is read. */
function checkFileMediaType(req: Request, expected: string): void {
  const mediaType = req.get('content-type')?.split(';')[0].trim().toLowerCase();
  if (mediaType === expected) return;
  throw new ApiError(
    'unsupported_media_type',
    `${mediaType ? `unsupported media type ${mediaType}` : 'media type not specified'}: the body must be ${expected}`,
  );
}

/** Text that is not JSON stays text, and fails the schema with its own message. */
function parseJsonText(value: unknown): unknown {
  if (typeof value !== 'string' || value === '') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** `query.limit must be <= 100`: where, then what, for each problem ajv found. */
function invalid(errors: ErrorObject[] | null | undefined): ApiError {
  const details = (errors ?? []).map((error) => `${fieldOf(error)} ${error.message ?? ''}`.trim()).join('; ');
  return badRequest(details || 'request rejected');
}

function fieldOf(error: ErrorObject): string {
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const child = params.missingProperty ?? params.additionalProperty;
  const path = child === undefined ? error.instancePath : `${error.instancePath}/${child}`;
  return path.replace(/^\//, '').replace(/\//g, '.');
}

function objectSchema(): { type: 'object'; properties: Record<string, Json>; required: string[] } {
  return { type: 'object', properties: {}, required: [] };
}

/** The contract's components, added once so that `#/components/...` references resolve. */
function ensureContract(ajv: Ajv2020, contract: Json): void {
  if (!ajv.getSchema(CONTRACT_ID)) ajv.addSchema({ components: contract.components }, CONTRACT_ID);
}

/** A schema taken out of the document points into it by `#/...`; from outside, that is `fleet-contract#/...`. */
function withContractRefs(schema: Json): Json {
  return JSON.parse(JSON.stringify(schema), (key, value: unknown) =>
    key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${CONTRACT_ID}${value}` : value,
  ) as Json;
}
