import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The security suite's ledger. Each attack is a jest test that replays one attack on a real fleet
 * and asserts, on the engines or the broker, that nothing happened: the test passing means the
 * attack was blocked. Every outcome is appended to the ledger, and the suite's global teardown
 * prints `[security] N attacks, N blocked` from it (`printSummary` in test/security/ledger.ts).
 */
export const LEDGER_FILE = process.env.FLEET_SECURITY_LEDGER ?? 'test/artifacts/security-attacks.jsonl';

export interface AttackOutcome {
  name: string;
  blocked: boolean;
}

/** Declares one attack: `replay` performs it and asserts it had no effect. */
export function attack(name: string, replay: () => Promise<void>, timeoutMs?: number): void {
  test(
    `attack: ${name}`,
    async () => {
      try {
        await replay();
      } catch (err) {
        record({ name, blocked: false });
        throw err;
      }
      record({ name, blocked: true });
    },
    timeoutMs,
  );
}

function record(outcome: AttackOutcome): void {
  mkdirSync(dirname(LEDGER_FILE), { recursive: true });
  appendFileSync(LEDGER_FILE, `${JSON.stringify(outcome)}\n`);
}
