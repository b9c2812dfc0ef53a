import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { loadContract, OPERATIONS, type OperationSpec } from '@fleet/contracts/operations';

/*
 * A fuzzer driven by the contract: every operation in OPERATIONS (read from openapi.yaml), with its
 * documented path, query and header parameters and its request body, is sent in malformed
 * variants — bad JSON, wrong types, out-of-range and off-pattern values, oversized bodies and
 * headers, odd unicode, path traversal, selector injection, broken HTTP framing. Values come from
 * fast-check with a fixed seed, so a run can be repeated exactly. Whether a variant breaks the
 * contract is decided by validating it against the very schema it came from (ajv): those must be
 * refused with a 4xx; variants the contract allows (odd but valid strings) must merely not be a 5xx.
 * Requests go out over raw sockets, so nothing on the client side normalises them.
 */

type Schema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  /** `schema`, or the JSON schema of a `content: application/json` parameter (sent as JSON text). */
  schema: Schema;
  json: boolean;
}

export interface OperationShape {
  spec: OperationSpec;
  parameters: Parameter[];
  body?: { schema: Schema; required: boolean; example: unknown };
}

export interface HostileRequest {
  operation: string;
  /** What was mutated, e.g. `query:timeout`, `body:bad-json`, `target`, `raw:framing`. */
  kind: string;
  method: string;
  /** As it goes on the wire (already percent-encoded where that was the point). */
  path: string;
  headers: Array<[string, string]>;
  body?: Buffer;
  /** Verbatim bytes instead of method/path/headers/body (broken HTTP framing). */
  raw?: Buffer;
  /** The contract (or HTTP) forbids it: the answer must be 4xx. Otherwise: anything but 5xx. */
  mustReject: boolean;
}

export interface FuzzContext {
  /** Bearer key with every permission, so requests get past authentication to validation. */
  adminKey: string;
  /** Keys that must be refused: expired, signed with another secret. */
  badKeys: string[];
  /** A job id that exists. */
  jobId: string;
  /** Baseline single-host target (a live agent). */
  hostname: string;
  /** `127.0.0.1:<port>` of a registry on loopback: every image a pull or push names lives there, so no traffic leaves the machine. */
  registry: string;
}

/** Operations whose image the engine resolves against a registry, by the parameter naming it. */
const REGISTRY_IMAGE_PARAMS: Record<string, string> = {
  'docker.image.pull': 'fromImage',
  'docker.image.push': 'image',
  'docker.image.distribution': 'image',
};

/** Parameters whose value an engine resolves against a registry: on loopback, or the engine would ask Docker Hub. */
function namesRegistryImage(shape: OperationShape, param: Parameter): boolean {
  return REGISTRY_IMAGE_PARAMS[shape.spec.name] === param.name;
}

const contract = loadContract() as { paths: Record<string, Record<string, Schema>>; components: Record<string, Record<string, Schema>> };

function resolve(node: unknown, depth = 0): unknown {
  if (depth > 32 || node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map((item) => resolve(item, depth + 1));
  const ref = (node as { $ref?: string }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], contract);
    return resolve(target ?? {}, depth + 1);
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolve(value, depth + 1)]));
}

/** Every operation of the contract with its parameters and body, $refs resolved. */
export function operationShapes(): OperationShape[] {
  return OPERATIONS.map((spec) => {
    const item = contract.paths[spec.path];
    const op = item[spec.method] as Schema;
    const declared = [...((item.parameters as unknown as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])].map(
      (p) => resolve(p) as Schema,
    );
    const byKey = new Map<string, Parameter>();
    for (const p of declared) {
      const content = (p.content as Record<string, { schema?: Schema }> | undefined)?.['application/json'];
      byKey.set(`${p.in}:${p.name}`, {
        name: String(p.name),
        in: p.in as Parameter['in'],
        required: p.required === true,
        schema: (content?.schema ?? p.schema ?? {}) as Schema,
        json: content !== undefined,
      });
    }
    const requestBody = op.requestBody ? (resolve(op.requestBody) as Schema) : undefined;
    const media = (requestBody?.content as Record<string, Schema> | undefined)?.['application/json'];
    return {
      spec,
      parameters: [...byKey.values()],
      body: media
        ? { schema: (media.schema ?? {}) as Schema, required: requestBody?.required === true, example: media.example }
        : undefined,
    };
  });
}

// Two validators: parameters arrive as strings and are coerced (as the gateway's validator does), bodies are not.
const paramAjv = new Ajv2020({ strict: false, coerceTypes: true, allErrors: false });
const bodyAjv = new Ajv2020({ strict: false, allErrors: false });
addFormats(paramAjv);
addFormats(bodyAjv);
const compiled = new Map<string, ValidateFunction>();

function validator(ajv: Ajv2020, schema: Schema, wrap: boolean): ValidateFunction {
  const key = `${ajv === paramAjv ? 'p' : 'b'}${wrap}:${JSON.stringify(schema)}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(wrap ? { type: 'object', properties: { v: schema }, required: ['v'] } : schema);
    compiled.set(key, validate);
  }
  return validate;
}

/** Would the gateway's validator accept this parameter value? */
function paramAllowed(param: Parameter, raw: string): boolean {
  let value: unknown = raw;
  if (param.json) {
    try {
      value = JSON.parse(raw);
    } catch {
      return false;
    }
  }
  return validator(paramAjv, param.schema, true)({ v: value });
}

function bodyAllowed(schema: Schema, body: unknown): boolean {
  return validator(bodyAjv, schema, false)(body);
}

// ---------------------------------------------------------------- hostile values

/** Selector injection and other target strings no live agent answers to. */
const HOSTILE_TARGETS = [
  'a:b.>',
  '*',
  '>',
  'a:b.*',
  'role:web.>',
  'role:*',
  '_all.>',
  '_all,*',
  'fleet.job.host.web-01',
  '$SYS.>',
  'role:',
  ':web',
  'role::web',
  'role:web..x',
  'role:web,',
  ',',
  'role:web,,zone:eu',
  '..',
  '.',
  '../..',
  '%00',
  'web-01\u0000',
  'web-01 ',
  ' role:web',
  'role:w eb',
  'role:wéb',
  'role:web\u202e',
  '\u200bweb-01',
  'ＷＥＢ-01',
  'web-01/..',
  '_ANY',
  '_none',
  'role:web;rm -rf /',
  "role:'web'",
  'role:"web"',
  'role:web\r\nX: y',
  'a'.repeat(513),
  'role:' + 'x.'.repeat(200) + 'x',
  '%2e%2e',
  'web-01%2F..',
];

/** Strings operators never type: traversal, control characters, bidi overrides, lone surrogates, injections. */
const NASTY_STRINGS = [
  '',
  ' ',
  '..',
  '../../../../etc/passwd',
  '..\\..\\windows',
  '/etc/shadow',
  '%2e%2e%2f',
  '\u0000',
  'a\u0000b',
  '\r\nSet-Cookie: x=1',
  '\u202egnp.exe',
  '\ud800',
  '\udfff',
  '\ufeff',
  '\uffff',
  '💥',
  'ñ',
  '𝕏',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗͒',
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
  "' OR '1'='1",
  '<script>',
  '__proto__',
  'constructor',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '0x10',
  'null',
  'true',
  '[]',
  '{}',
  'x'.repeat(300),
  'é'.repeat(5000),
];

function samples<T>(arbitrary: fc.Arbitrary<T>, seed: number, count: number): T[] {
  return fc.sample(arbitrary, { seed, numRuns: count });
}

/** Values for a parameter: schema-driven wrong types and bounds, then nasty and random unicode strings. */
function parameterValues(param: Parameter, seed: number): string[] {
  const schema = param.schema;
  const values: string[] = [];
  const type = schema.type;
  if (type === 'integer' || type === 'number') {
    values.push('abc', '1.5', '-1', '1e400', '0x1F', ' 7', '', '9'.repeat(400), 'NaN', '[1]');
    if (typeof schema.minimum === 'number') values.push(String(schema.minimum - 1));
    if (typeof schema.maximum === 'number') values.push(String(schema.maximum + 1), String(schema.maximum * 1000));
  }
  if (type === 'boolean') values.push('yes', 'maybe', '2', '', 'truefalse', '"true"', '[true]');
  if (Array.isArray(schema.enum)) values.push('NOPE', String(schema.enum[0]).toUpperCase() + 'x', '');
  if (typeof schema.maxLength === 'number') values.push('x'.repeat(schema.maxLength + 1));
  if (typeof schema.minLength === 'number' && schema.minLength > 0) values.push('');
  if (typeof schema.pattern === 'string') values.push('-leading-dash', 'has space', 'semi;colon', 'slash/inside', 'dot..dot', '.hidden');
  if (schema.format === 'uuid')
    values.push(
      'not-a-uuid',
      '550e8400-e29b-41d4-a716-44665544000',
      '550e8400e29b41d4a716446655440000',
      '../550e8400-e29b-41d4-a716-446655440000',
    );
  if (param.json) {
    values.push(
      '{',
      '{"a":',
      'not json',
      '[]',
      'null',
      '42',
      '"s"',
      '{"status":"running"}',
      '{"status":[1,2]}',
      '{"a":{"b":["c"]}}',
      JSON.stringify({ x: ['y'.repeat(2000)] }),
    );
    values.push(JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, ['v']]))));
    values.push('['.repeat(5000) + ']'.repeat(5000));
    for (const value of samples(fc.jsonValue({ maxDepth: 3 }), seed, 4)) values.push(JSON.stringify(value));
  }
  values.push(...NASTY_STRINGS);
  values.push(...samples(fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }), seed, 6));
  return values;
}

let bigBodyCache: Record<'oversized' | 'huge' | 'deepArray' | 'deepObject' | 'wide' | 'gzipBomb', Buffer> | undefined;

/** The large bodies, built once and shared by every operation: over the 256 kb limit, deep, wide, a decompression bomb. */
function bigBodies(): NonNullable<typeof bigBodyCache> {
  bigBodyCache ??= {
    oversized: Buffer.from(JSON.stringify({ filler: 'x'.repeat(300 * 1024) })),
    huge: Buffer.from(JSON.stringify({ filler: 'x'.repeat(2 * 1024 * 1024) })),
    deepArray: Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)),
    deepObject: Buffer.from('{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)),
    wide: Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])))),
    // 20 MiB of JSON-ish bytes in ~20 KiB of gzip: the parser must stop at its limit, not inflate it all.
    gzipBomb: gzipSync(Buffer.from('x'.repeat(20 * 1024 * 1024))),
  };
  return bigBodyCache;
}

/**
 * Body variants: bad JSON text, wrong top-level types, each property with a wrong type, required fields dropped, extra fields, huge and
 * deep.
 */
function bodyVariants(
  shape: OperationShape,
  seed: number,
): Array<{ kind: string; text: string | Buffer; contentType?: string; encoding?: string }> {
  const body = shape.body;
  const base = (body?.example && typeof body.example === 'object' ? body.example : {}) as Record<string, unknown>;
  const variants: Array<{ kind: string; text: string | Buffer; contentType?: string; encoding?: string }> = [];
  const badJson = [
    '{',
    '{"image":',
    '{"a":1,}',
    "{'a':1}",
    '{"a":NaN}',
    '{"a":undefined}',
    '{"a":1}}',
    '{"a":"\u0000"}',
    'nul',
    '[',
    '{"a":01}',
    '{"a":"\\x41"}',
  ];
  for (const text of badJson) variants.push({ kind: 'body:bad-json', text });
  // Legal JSON that parsers trip over: a BOM, a number beyond double range, a lone surrogate escape, __proto__.
  const base1 = JSON.stringify(base).slice(1, -1);
  const sep = base1 ? ',' : '';
  for (const extra of ['"a":1e999999', '"a":"\\ud800"', '"__proto__":{"admin":true}'])
    variants.push({ kind: 'body:odd-json', text: `{${base1}${sep}${extra}}` });
  variants.push({ kind: 'body:odd-json', text: `\ufeff${JSON.stringify(base)}` });
  for (const text of ['[]', '"string"', '42', 'null', 'true', '[{}]']) variants.push({ kind: 'body:top-level-type', text });
  const properties = (body?.schema.properties ?? {}) as Record<string, Schema>;
  const wrong = samples(
    fc.oneof(
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    ),
    seed,
    12,
  );
  for (const [name] of Object.entries(properties)) {
    for (const value of wrong) variants.push({ kind: `body:${name}`, text: JSON.stringify({ ...base, [name]: value }) });
    for (const value of NASTY_STRINGS.slice(0, 30))
      variants.push({ kind: `body:${name}`, text: JSON.stringify({ ...base, [name]: value }) });
  }
  for (const name of (body?.schema.required as string[] | undefined) ?? []) {
    const { [name]: _dropped, ...rest } = base;
    variants.push({ kind: 'body:missing-required', text: JSON.stringify(rest) });
  }
  variants.push({ kind: 'body:extra-field', text: JSON.stringify({ ...base, 'fuzz-extra': 1 }) });
  variants.push({ kind: 'body:extra-field', text: JSON.stringify({ ...base, constructor: { prototype: { polluted: true } } }) });
  const big = bigBodies();
  variants.push({ kind: 'body:oversized', text: big.oversized });
  variants.push({ kind: 'body:oversized', text: big.huge });
  variants.push({ kind: 'body:deep', text: big.deepArray });
  variants.push({ kind: 'body:deep', text: big.deepObject });
  variants.push({ kind: 'body:wide', text: big.wide });
  variants.push({ kind: 'body:content-type', text: JSON.stringify(base), contentType: 'text/plain' });
  variants.push({ kind: 'body:content-type', text: JSON.stringify(base), contentType: 'application/x-www-form-urlencoded' });
  variants.push({ kind: 'body:content-type', text: JSON.stringify(base), contentType: 'application/json; charset=koi8-r' });
  // A UTF charset the parser decodes: ASCII JSON reads the same in UTF-7, so this one is judged by its body.
  variants.push({ kind: 'body:charset', text: JSON.stringify(base), contentType: 'application/json; charset=utf-7' });
  variants.push({ kind: 'body:content-type', text: JSON.stringify(base), contentType: 'multipart/form-data; boundary=x' });
  variants.push({ kind: 'body:encoding', text: Buffer.from('not gzip at all'), encoding: 'gzip' });
  variants.push({ kind: 'body:encoding', text: big.gzipBomb, encoding: 'gzip' });
  variants.push({ kind: 'body:encoding', text: JSON.stringify(base), encoding: 'br' });
  return variants;
}

// ---------------------------------------------------------------- building requests

/** Valid values for the baseline of each parameter: nothing real is touched (objects do not exist). */
function baselinePath(shape: OperationShape, name: string, ctx: FuzzContext): string {
  if (REGISTRY_IMAGE_PARAMS[shape.spec.name] === name) return pct(`${ctx.registry}/fuzz/ghost:1`);
  switch (name) {
    case 'target':
      return ctx.hostname;
    case 'job_id':
      return ctx.jobId;
    case 'image':
      return encodeURIComponent('fuzz/ghost:1');
    default:
      return 'fuzz-ghost';
  }
}

function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => values[name]);
}

function query(entries: Array<[string, string]>): string {
  return entries.length ? `?${entries.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&')}` : '';
}

/** Percent-encoding that also carries lone surrogates, as the (invalid UTF-8) bytes a careless client would send. */
function pct(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...value]
      .map((char) => {
        const code = char.charCodeAt(0);
        if (char.length === 1 && code >= 0xd800 && code <= 0xdfff) {
          return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
            .map((byte) => `%${byte.toString(16).toUpperCase()}`)
            .join('');
        }
        return encodeURIComponent(char);
      })
      .join('');
  }
}

interface Baseline {
  pathValues: Record<string, string>;
  query: Array<[string, string]>;
  headers: Array<[string, string]>;
  body?: string;
}

function baselineOf(shape: OperationShape, ctx: FuzzContext): Baseline {
  const pathValues: Record<string, string> = {};
  const queryEntries: Array<[string, string]> = [];
  for (const param of shape.parameters) {
    if (param.in === 'path') pathValues[param.name] = baselinePath(shape, param.name, ctx);
    // A short deadline, so a variant that turns out valid ends quickly.
    if (param.in === 'query' && param.name === 'timeout') queryEntries.push(['timeout', '5']);
    if (param.in === 'query' && param.required && param.name !== 'timeout') {
      queryEntries.push([
        param.name,
        namesRegistryImage(shape, param)
          ? `${ctx.registry}/fuzz/ghost`
          : String(param.schema.example ?? param.schema.default ?? 'fuzz-ghost'),
      ]);
    }
  }
  const headers: Array<[string, string]> = [['authorization', `Bearer ${ctx.adminKey}`]];
  const body = shape.body ? JSON.stringify(shape.body.example ?? {}) : undefined;
  return { pathValues, query: queryEntries, headers, body };
}

function request(
  shape: OperationShape,
  base: Baseline,
  change: Partial<Omit<HostileRequest, 'operation'>> & { kind: string; mustReject: boolean },
): HostileRequest {
  const headers = [...base.headers];
  const body = base.body === undefined ? undefined : Buffer.from(base.body);
  if (body) headers.push(['content-type', 'application/json']);
  return {
    operation: shape.spec.name,
    method: shape.spec.method.toUpperCase(),
    path: fillPath(shape.spec.path, base.pathValues) + query(base.query),
    headers,
    body,
    ...change,
  };
}

/**
 * Every hostile variant for one operation, interleaved across kinds (one of each kind, then the
 * next of each, ...), so that any prefix of the list covers every kind of mutation.
 */
function variantsOf(shape: OperationShape, ctx: FuzzContext, seed: number): HostileRequest[] {
  const byKind = new Map<string, HostileRequest[]>();
  for (const req of allVariantsOf(shape, ctx, seed)) byKind.set(req.kind, [...(byKind.get(req.kind) ?? []), req]);
  const kinds = [...byKind.values()];
  const out: HostileRequest[] = [];
  for (let round = 0; out.length < kinds.reduce((sum, list) => sum + list.length, 0); round++) {
    for (const list of kinds) if (round < list.length) out.push(list[round]);
  }
  return out;
}

function allVariantsOf(shape: OperationShape, ctx: FuzzContext, seed: number): HostileRequest[] {
  const base = baselineOf(shape, ctx);
  const out: HostileRequest[] = [];
  const path = (values: Record<string, string>, q = base.query) => fillPath(shape.spec.path, values) + query(q);

  for (const param of shape.parameters) {
    if (param.in === 'path' && param.name === 'target') {
      for (const value of [...HOSTILE_TARGETS, ...samples(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), seed, 10)]) {
        out.push(request(shape, base, { kind: 'target', path: path({ ...base.pathValues, target: pct(value) }), mustReject: true }));
      }
      continue;
    }
    for (const raw of parameterValues(param, seed + out.length)) {
      const value = namesRegistryImage(shape, param) ? `${ctx.registry}/${raw}` : raw;
      const mustReject = !paramAllowed(param, value);
      if (param.in === 'path') {
        // An empty segment changes the route rather than the parameter; it is still a request no route takes.
        // An empty segment makes it another route (`/agent/` is GET /agent): judged as that route, so never "must reject".
        out.push(
          request(shape, base, {
            kind: `path:${param.name}`,
            path: path({ ...base.pathValues, [param.name]: pct(value) }),
            mustReject: mustReject && raw !== '',
          }),
        );
      } else if (param.in === 'query') {
        const q = [...base.query.filter(([name]) => name !== param.name), [param.name, value] as [string, string]];
        out.push(request(shape, base, { kind: `query:${param.name}`, path: path(base.pathValues, q), mustReject }));
      } else if (/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
        // Header values travel as latin1 bytes; other characters are exercised through the raw framing variants.
        out.push(request(shape, base, { kind: `header:${param.name}`, headers: [...base.headers, [param.name, value]], mustReject }));
      }
    }
  }
  // Undeclared and repeated query parameters. The gateway refuses unknown ones where an operation declares
  // query parameters; where it declares none, its validator ignores them (harmless, but no "must reject").
  const declaresQuery = shape.parameters.some((p) => p.in === 'query');
  for (const name of ['fuzz', '__proto__', 'constructor[prototype][x]', 'a'.repeat(300), 'filters[status]']) {
    if (!shape.parameters.some((p) => p.name === name))
      out.push(
        request(shape, base, {
          kind: 'query:unknown',
          path: path(base.pathValues, [...base.query, [name, '1']]),
          mustReject: declaresQuery,
        }),
      );
  }
  const firstBoolean = shape.parameters.find((p) => p.in === 'query' && p.schema.type === 'boolean');
  if (firstBoolean)
    out.push(
      request(shape, base, {
        kind: 'query:repeated',
        path: path(base.pathValues, [...base.query, [firstBoolean.name, 'true'], [firstBoolean.name, 'false']]),
        mustReject: false,
      }),
    );

  // Bodies.
  const bodyAccepting = shape.body !== undefined;
  for (const variant of bodyVariants(shape, seed)) {
    const text = Buffer.isBuffer(variant.text) ? variant.text : Buffer.from(variant.text);
    const headers: Array<[string, string]> = [...base.headers, ['content-type', variant.contentType ?? 'application/json']];
    if (variant.encoding) headers.push(['content-encoding', variant.encoding]);
    let mustReject = true;
    if (
      variant.kind.startsWith('body:') &&
      !['body:bad-json', 'body:top-level-type', 'body:oversized', 'body:deep', 'body:encoding'].includes(variant.kind)
    ) {
      // Judged by the schema: a valid string in a string field is allowed; a body on a body-less operation is ignored.
      let parsed: unknown;
      try {
        parsed = JSON.parse(text.toString().replace(/^\ufeff/, ''));
      } catch {
        parsed = undefined;
      }
      const refusedMediaType = variant.kind === 'body:content-type';
      mustReject =
        bodyAccepting &&
        (refusedMediaType ? shape.body?.required === true : parsed === undefined || !bodyAllowed(shape.body!.schema, parsed));
    }
    if (!bodyAccepting && (variant.kind === 'body:content-type' || variant.kind === 'body:charset')) continue;
    // Without a body in the contract, a JSON array or object the parser takes is simply ignored.
    if (!bodyAccepting && ['body:top-level-type', 'body:deep'].includes(variant.kind) && /^\s*[[{]/.test(text.toString()))
      mustReject = false;
    out.push({ ...request(shape, base, { kind: variant.kind, mustReject }), headers, body: text });
  }

  // Authentication: no key, a garbage key, unsigned (alg none), expired or foreign keys, a huge key.
  const unauth = base.headers.filter(([name]) => name !== 'authorization');
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', role: 'admin', exp: 9999999999, jti: 'x' })).toString('base64url')}.`;
  const authVariants: Array<Array<[string, string]>> = [
    [],
    [['authorization', 'Bearer']],
    [['authorization', 'Bearer not.a.jwt']],
    [['authorization', `Bearer ${none}`]],
    [['authorization', `Basic ${Buffer.from('admin:admin').toString('base64')}`]],
    [['x-api-key', 'x'.repeat(8000)]],
    [['authorization', `Bearer ${ctx.adminKey.slice(0, -3)}abc`]],
    ...ctx.badKeys.map((key): Array<[string, string]> => [['x-api-key', key]]),
  ];
  if (shape.spec.permission !== 'none')
    for (const auth of authVariants) out.push(request(shape, base, { kind: 'auth', headers: [...unauth, ...auth], mustReject: true }));

  // Headers too large for any server to take, one big or many small.
  out.push(
    request(shape, base, { kind: 'header:oversized', headers: [...base.headers, ['x-fuzz', 'h'.repeat(20_000)]], mustReject: true }),
  );
  out.push(
    request(shape, base, {
      kind: 'header:many',
      headers: [...base.headers, ...Array.from({ length: 1500 }, (_, i): [string, string] => [`x-fuzz-${i}`, 'v'.repeat(10)])],
      mustReject: true,
    }),
  );
  out.push(
    request(shape, base, {
      kind: 'header:prefer',
      headers: [...base.headers, ['prefer', 'respond-async'.repeat(50)]],
      mustReject: shape.parameters.some((p) => p.name === 'Prefer'),
    }),
  );

  // Path traversal and odd paths around the operation's own path.
  const own = fillPath(shape.spec.path, base.pathValues);
  const q = query(base.query);
  for (const [odd, mustReject] of [
    [`${own}/../../../../etc/passwd`, true],
    [`${own}/%2e%2e/%2e%2e/%2e%2e/etc/passwd`, true],
    [`${own}/..%2f..%2f..%2fjob`, true],
    [`/../../..${own}`, true],
    [`${own}%00`, true],
    [`${own}/%zz`, true],
    [`${own};jsessionid=1`, true],
    [`${own}\\..\\..`, true],
    [`${own}/${'x/'.repeat(3000)}`, true],
    [`${own.replace(/\//g, '//')}`, false],
    [`${own}/`, false],
  ] as Array<[string, boolean]>) {
    out.push(request(shape, base, { kind: 'path:traversal', path: odd + q, mustReject }));
  }
  // Methods the path does not have, and nonsense ones.
  for (const method of ['PUT', 'PATCH', 'TRACE', 'FOO', 'GET /x HTTP/1.1\r\nX:']) {
    if (method.toLowerCase() !== shape.spec.method)
      out.push(request(shape, base, { kind: `method:${method.split(' ')[0]}`, method, mustReject: true }));
  }
  // Broken HTTP framing around a valid-looking request.
  const head = `${shape.spec.method.toUpperCase()} ${own}${q} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${ctx.adminKey}\r\n`;
  for (const raw of [
    `${head}content-length: abc\r\n\r\n`,
    `${head}content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
    `${head}transfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    `${head}x-bad\u0001header: 1\r\n\r\n`,
    `${head}bad header line\r\n\r\n`,
    `${shape.spec.method.toUpperCase()} ${own}${q} HTTP/9.9\r\n\r\n`,
    `${shape.spec.method.toUpperCase()} ${own}/\u00e9\u00e8 HTTP/1.1\r\nhost: x\r\n\r\n`,
  ]) {
    out.push({
      operation: shape.spec.name,
      kind: 'raw:framing',
      method: '',
      path: '',
      headers: [],
      raw: Buffer.from(raw, 'latin1'),
      mustReject: true,
    });
  }
  // Bytes beyond ASCII in a header value are legal HTTP (obs-text): not refused, but never a crash.
  const latin1 = `${head}x-unicode: \u00ff\u00fe\u00e9\r\nconnection: close\r\n\r\n`;
  out.push({
    operation: shape.spec.name,
    kind: 'raw:latin1-header',
    method: '',
    path: '',
    headers: [],
    raw: Buffer.from(latin1, 'latin1'),
    mustReject: false,
  });
  return out;
}

/**
 * At least `count` hostile requests, spread round-robin over every operation of the contract so
 * each gets its share; deterministic for a given seed.
 */
export function hostileRequests(ctx: FuzzContext, count: number, seed: number): HostileRequest[] {
  const perOperation = operationShapes().map((shape, index) => variantsOf(shape, ctx, seed + index * 1000));
  const out: HostileRequest[] = [];
  for (let round = 0; out.length < count; round++) {
    let added = false;
    for (const variants of perOperation) {
      if (round < variants.length) {
        out.push(variants[round]);
        added = true;
      }
    }
    if (!added) {
      // Every variant sent once: go round again with the same variants (the seeded values differ per round only in order).
      for (const variants of perOperation) out.push(...variants.slice(0, Math.max(0, count - out.length)));
    }
  }
  return out;
}

// ---------------------------------------------------------------- sending

export interface RawResponse {
  /** HTTP status; 0 when the connection ended without a complete status line; -1 when nothing came in time. */
  status: number;
  headers: Record<string, string>;
  body: string;
  error?: string;
}

/** Bytes of a request as they go on the wire: Connection: close, our own Content-Length. */
export function wireBytes(req: HostileRequest, port: number): Buffer {
  if (req.raw) return req.raw;
  const lines = [
    `${req.method} ${req.path} HTTP/1.1`,
    `host: 127.0.0.1:${port}`,
    'connection: close',
    ...req.headers.map(([name, value]) => `${name}: ${value}`),
  ];
  if (req.body) lines.push(`content-length: ${req.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), req.body ?? Buffer.alloc(0)]);
}

/** Sends one request over its own connection to 127.0.0.1:port and reads the answer (the head only, for event streams). */
export function sendRaw(port: number, bytes: Buffer, timeoutMs: number): Promise<RawResponse> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponse(Buffer.concat(chunks));
      resolve(
        parsed
          ? { ...parsed, error }
          : { status: error === 'no answer in time' ? -1 : 0, headers: {}, body: '', error: error ?? 'closed without an answer' },
      );
    };
    const timer = setTimeout(() => finish('no answer in time'), timeoutMs);
    socket.on('connect', () => {
      socket.write(bytes, () => undefined);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed?.complete) finish();
    });
    // The server may answer (413, 431) and close before it has read everything we send: keep what came.
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    socket.on('close', () => finish());
  });
}

function parseResponse(data: Buffer): (RawResponse & { complete: boolean }) | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...headerLines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = data.subarray(end + 4);
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  const streaming = (headers['content-type'] ?? '').includes('text/event-stream');
  const complete = streaming || (length !== undefined && body.length >= length);
  return { status: Number(match[1]), headers, body: body.toString('utf8'), complete };
}

/**
 * The deadline a request carries, in seconds: its `?timeout=` when the gateway would take it as one
 * (it coerces `0x1F` or ` 7` to numbers), else the 5 s of the baseline (or the gateway's default 30 s).
 */
export function deadlineSecondsOf(req: HostileRequest): number {
  // A raw request carries its path in its request line.
  const path = req.raw ? (req.raw.toString('latin1').split('\r\n', 1)[0].split(' ')[1] ?? '') : req.path;
  const match = /[?&]timeout=([^&\s]*)/.exec(path);
  if (!match) return 30;
  let value = NaN;
  try {
    value = Number(decodeURIComponent(match[1]));
  } catch {
    // not a number anyone would take
  }
  return Number.isInteger(value) && value >= 1 && value <= 300 ? value : 5;
}

/**
 * Sends every request with `concurrency` connections at a time; `onResult` sees each answer. A
 * request gets its own deadline plus `graceMs` to answer; past that it counts as unanswered (hung).
 */
export async function sendAll(
  port: number,
  requests: HostileRequest[],
  opts: {
    concurrency: number;
    graceMs: number;
    onResult: (req: HostileRequest, res: RawResponse, index: number, elapsedMs: number) => void;
  },
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: opts.concurrency }, async () => {
    while (next < requests.length) {
      const index = next++;
      const req = requests[index];
      const started = Date.now();
      const res = await sendRaw(port, wireBytes(req, port), deadlineSecondsOf(req) * 1000 + opts.graceMs);
      opts.onResult(req, res, index, Date.now() - started);
    }
  });
  await Promise.all(workers);
}
