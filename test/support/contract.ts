import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { loadContract, OPERATIONS, type OperationName } from '@fleet/contracts/operations';

/**
 * Checks gateway responses against the OpenAPI document, so a test fails when
 * the product and its contract drift apart.
 */
const contract = loadContract() as {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { responses: Record<string, unknown> };
};
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(contract, 'contract');
const compiled = new Map<string, ValidateFunction>();

function pointer(...segments: string[]): string {
  return segments.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

function validatorFor(name: OperationName, status: number): ValidateFunction {
  const cacheKey = `${name} ${status}`;
  const cached = compiled.get(cacheKey);
  if (cached) return cached;
  const spec = OPERATIONS.find((op) => op.name === name);
  if (!spec) throw new Error(`${name} is not in the contract`);
  const responses = contract.paths[spec.path][spec.method].responses;
  const key = String(status) in responses ? String(status) : 'default';
  if (!(key in responses)) throw new Error(`${name} documents no ${status} response`);
  let location = ['paths', spec.path, spec.method, 'responses', key];
  const response = responses[key] as { $ref?: string };
  if (response.$ref) location = response.$ref.replace(/^#\//, '').split('/');
  const validate = ajv.compile({ $ref: `contract#/${pointer(...location)}/content/application~1json/schema` });
  compiled.set(cacheKey, validate);
  return validate;
}

/** Throws with the schema errors when `body` is not what the contract says `name` answers with `status`. */
export function assertMatchesContract(name: OperationName, status: number, body: unknown): void {
  const validate = validatorFor(name, status);
  if (!validate(body)) {
    throw new Error(
      `${name} ${status} response breaks the contract: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}
