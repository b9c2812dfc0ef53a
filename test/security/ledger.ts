import { existsSync, readFileSync, rmSync } from 'node:fs';
import { type AttackOutcome, LEDGER_FILE } from '../support/attacks';

/** jest globalSetup of the security project: every run starts an empty ledger. */
export function resetLedger(): void {
  rmSync(LEDGER_FILE, { force: true });
}

/** jest globalTeardown of the security project: one plain line for CI logs. */
export function printSummary(): void {
  const outcomes: AttackOutcome[] = existsSync(LEDGER_FILE)
    ? readFileSync(LEDGER_FILE, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AttackOutcome)
    : [];
  const blocked = outcomes.filter((outcome) => outcome.blocked).length;
  process.stdout.write(`[security] ${outcomes.length} attacks, ${blocked} blocked\n`);
  for (const outcome of outcomes.filter((o) => !o.blocked)) process.stdout.write(`[security] NOT blocked: ${outcome.name}\n`);
}
