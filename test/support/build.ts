/**
 * Jest globalSetup of the suites that start gateways and agents (jest.config.js): they run the compiled
 * programs in dist/, as `fleet up` and the systemd units do, so that a suite tests what ships. Builds first
 * when dist/ is missing or older than the sources, so a suite never runs yesterday's code.
 */
export default async function buildIfStale(): Promise<void> {
  const build = require('../../scripts/build.cjs') as { buildIfStale(): Promise<boolean> };
  await build.buildIfStale();
}
