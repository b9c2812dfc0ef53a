import { readFileSync } from 'node:fs';

/** A bad setting, named with its value and what it must be; printed at start-up. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The exit status of a service refusing its configuration (sysexits.h EX_CONFIG). */
export const EX_CONFIG = 78;

/** Secrets come from `NAME` or from the file named by `NAME_FILE`, so they need not sit in the environment. */
export function readSecret(env: NodeJS.ProcessEnv, name: string, required: boolean): string | undefined {
  const file = env[`${name}_FILE`];
  const value = file ? readFileSync(file, 'utf8').trim() : env[name];
  if (required && !value) throw new ConfigError(`${name} or ${name}_FILE must be set`);
  if (name === 'FLEET_JWT_SECRET' && value && value.length < 32) {
    throw new ConfigError(`${name} must be at least 32 characters`);
  }
  return value;
}
