import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@fleet/runtime/config';
import type { Logger } from '@fleet/runtime/logger';
import { AGENT_CREDS_FILE, credsFileContent, newUserKey, verifiedClaims } from '@fleet/runtime/nats-identity';
import type { AgentConfig } from './config';
import { saveCreds } from './rotation';

const JOIN_TIMEOUT_MS = 15_000;

/**
 * The creds the agent logs in with: given outright (FLEET_NATS_CREDS), kept from an earlier join,
 * or made now: a fresh NKey whose seed never leaves this host, its public half traded with the
 * join token for a user JWT (README "Enrolling an agent"). None: a NATS without logins.
 */
export async function agentCreds(
  config: Pick<AgentConfig, 'hostname' | 'natsCreds' | 'identity'>,
  log: Logger,
): Promise<string | undefined> {
  if (config.natsCreds) return config.natsCreds;
  if (!config.identity) return undefined;
  const file = join(config.identity.dir, AGENT_CREDS_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const { joinToken, gatewayUrl, gatewayCaFile } = config.identity;
  if (!joinToken || !gatewayUrl) {
    throw new ConfigError(
      `${file} does not exist yet: to join, set FLEET_AGENT_JOIN_TOKEN (from \`fleet agent join-token ${config.hostname}\`) and ` +
        `FLEET_GATEWAY_URL`,
    );
  }
  const key = newUserKey();
  const userJwt = await requestUserJwt(gatewayUrl, gatewayCaFile, {
    hostname: config.hostname,
    token: joinToken,
    public_key: key.getPublicKey(),
  });
  if (verifiedClaims(userJwt).sub !== key.getPublicKey()) throw new Error('the gateway answered a user JWT for another key');
  const creds = credsFileContent(userJwt, key.getSeed());
  saveCreds(config.identity.dir, creds);
  log.info({ public_key: key.getPublicKey() }, 'joined the fleet: NATS identity made');
  return creds;
}

/**
 * POST /agent/join. An https gateway is verified against `gatewayCaFile` alone when set (a `fleet pki`
 * CA), else the system's CAs; the token travels in the body, never in a URL or a log line.
 */
function requestUserJwt(
  gatewayUrl: string,
  gatewayCaFile: string | undefined,
  body: { hostname: string; token: string; public_key: string },
): Promise<string> {
  const url = new URL('/agent/join', gatewayUrl);
  const payload = JSON.stringify(body);
  const ca = url.protocol === 'https:' && gatewayCaFile ? readFileSync(gatewayCaFile) : undefined;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<string>((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        signal: AbortSignal.timeout(JOIN_TIMEOUT_MS),
        ...(ca ? { ca } : {}),
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () => {
          const status = incoming.statusCode ?? 502;
          let answer: { user_jwt?: string; error?: string; details?: string } = {};
          try {
            answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            // not JSON: reported by status alone
          }
          if (status < 200 || status >= 300 || !answer.user_jwt) {
            reject(
              new ConfigError(
                `the gateway refused to let ${body.hostname} join (${status}): ${answer.details ?? answer.error ?? 'no reason given'}`,
              ),
            );
          } else resolve(answer.user_jwt);
        });
      },
    );
    outgoing.on('error', (err) => reject(new Error(`joining through ${url.origin} failed: ${err.message}`)));
    outgoing.end(payload);
  });
}
