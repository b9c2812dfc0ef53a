import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type jwt from 'jsonwebtoken';
import { isRole, type Role } from '@fleet/contracts/permissions';
import { readSecret } from '@fleet/runtime/config';
import { clientFor, globalsOf } from '../context';
import { UsageError } from '../exit';
import { write, writeJson } from '../output';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
// Loaded when `token create` runs, not at every start of the CLI (a pipeline pays every module loaded at start).
const apiKeys = () => require('@fleet/api-keys') as typeof import('@fleet/api-keys');
const jsonwebtoken = () => require('jsonwebtoken') as typeof jwt;

/** Where `fleet up` keeps the local fleet's signing secret. */
function localSecretFile(): string {
  const { LOCAL_FLEET_DIR } = require('@fleet/deploy') as typeof import('@fleet/deploy');
  return path.join(LOCAL_FLEET_DIR, 'jwt-secret');
}

/** The gateway's FLEET_MAX_KEY_TTL_SECONDS when set here too (it refuses longer keys), else its default. */
function maxKeyTtlSeconds(): number {
  const configured = Number(process.env.FLEET_MAX_KEY_TTL_SECONDS);
  return Number.isInteger(configured) && configured > 0 ? configured : apiKeys().DEFAULT_MAX_KEY_TTL_SECONDS;
}

/** `30m`, `1h`, `7d` → seconds, at most the maximum key lifetime. */
export function parseTtl(raw: string): number {
  const match = /^(\d+)([smhd])$/.exec(raw);
  const seconds = match ? Number(match[1]) * UNITS[match[2]] : NaN;
  const max = maxKeyTtlSeconds();
  if (!(seconds > 0) || seconds > max)
    throw new InvalidArgumentError(`give a lifetime like 30m, 1h or 7d (at most ${max / 86400}d, FLEET_MAX_KEY_TTL_SECONDS)`);
  return seconds;
}

/** An empty scope would mint an unscoped key: refuse it (leave --scope out for that). */
function parseScopeOption(raw: string): string {
  if (raw.trim() === '')
    throw new InvalidArgumentError('the scope is empty: give a target such as role:web, or leave --scope out for an unscoped key');
  return raw;
}

function parseRole(raw: string): Role {
  if (!isRole(raw)) throw new InvalidArgumentError('one of viewer, operator, admin');
  return raw;
}

function signingSecret(): string {
  const fromEnv = readSecret(process.env, 'FLEET_JWT_SECRET', false);
  if (fromEnv) return fromEnv;
  const localFile = localSecretFile();
  if (existsSync(localFile)) return readSecret({ FLEET_JWT_SECRET_FILE: localFile }, 'FLEET_JWT_SECRET', true) as string;
  throw new Error('no signing secret: set FLEET_JWT_SECRET or FLEET_JWT_SECRET_FILE, or start a local fleet with `fleet up`');
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API keys');
  token
    .command('create')
    .description('mint an API key and print only the key (with --json: the key, its jti and claims)')
    .requiredOption('--role <role>', 'viewer | operator | admin', parseRole)
    .option('--ttl <duration>', 'lifetime, e.g. 30m, 1h, 7d', parseTtl, 3600)
    .option('--subject <name>', 'who the key is for (recorded as the caller of its jobs)')
    .option('--scope <target>', 'limit the key to a hostname or key:value selectors, e.g. role:web', parseScopeOption)
    .action((opts: { role: Role; ttl: number; subject?: string; scope?: string }, command: Command) => {
      let key: string;
      try {
        key = apiKeys().mintToken({
          secret: signingSecret(),
          role: opts.role,
          ttlSeconds: opts.ttl,
          subject: opts.subject,
          scope: opts.scope,
          maxTtlSeconds: maxKeyTtlSeconds(),
        });
      } catch (err) {
        if (err instanceof apiKeys().MintError) throw new UsageError(err.message);
        throw err;
      }
      if (!globalsOf(command).json) {
        process.stdout.write(`${key}\n`);
        return;
      }
      // With --json: the key and its claims, `jti` being what `token revoke` takes.
      const { jti, sub, role, scope, exp } = jsonwebtoken().decode(key) as jwt.JwtPayload;
      writeJson({ key, jti, sub, role, scope, expires_at: new Date((exp ?? 0) * 1000).toISOString() });
    });
  token
    .command('revoke <jti>')
    .description("revoke a key by its id (the JWT's jti): refused from the next request on every gateway replica")
    .action(async (jti: string, _opts: unknown, command: Command) => {
      const revoked = await clientFor(command).tokens.revoke(jti);
      if (globalsOf(command).json) writeJson(revoked);
      else write(`revoked ${revoked.jti}`);
    });
}
