import { CONTRACT, OPERATIONS } from './operations';

interface SecurityScheme {
  type?: string;
  in?: string;
  name?: string;
}

/**
 * Every request header that carries a credential, lower-cased, as the contract declares them: each
 * security scheme's (a bearer scheme travels in `Authorization`, an API-key scheme in its named
 * header) and each operation's `x-secret-header`. Logs redact exactly these.
 */
export function credentialHeaders(contract: Readonly<Record<string, unknown>> = CONTRACT): string[] {
  const components = (contract.components ?? {}) as { securitySchemes?: Record<string, SecurityScheme> };
  const fromSchemes = Object.values(components.securitySchemes ?? {}).flatMap((scheme) => {
    if (scheme.type === 'http') return ['authorization'];
    return scheme.type === 'apiKey' && scheme.in === 'header' && scheme.name ? [scheme.name.toLowerCase()] : [];
  });
  const fromOperations = OPERATIONS.flatMap((op) => (op.secretHeader ? [op.secretHeader.toLowerCase()] : []));
  return [...new Set([...fromSchemes, ...fromOperations])].sort();
}
