import buildIfStale from '../support/build';
import { resetLedger } from './ledger';

/** The security suite runs the compiled build, as every suite that starts gateways and agents, on an empty ledger. */
export default async function setUp(): Promise<void> {
  resetLedger();
  await buildIfStale();
}
