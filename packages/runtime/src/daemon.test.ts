import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const TSX = join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');

/** Runs a tiny daemon in its own process: `body` is what its start function does after making its logger. */
function runScript(body: string): { status: number | null; stdout: string; stderr: string } {
  const script = `
    const { runDaemon } = require(${JSON.stringify(join(__dirname, 'daemon'))});
    const { createLogger } = require(${JSON.stringify(join(__dirname, 'logger'))});
    runDaemon('test-daemon', async () => {
      const log = createLogger('test-daemon', 'info');
      ${body}
      return { log, stop: async () => undefined };
    });
  `;
  const result = spawnSync(TSX, ['--eval', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('runDaemon', () => {
  it('logs an unhandled rejection as a fatal structured line and exits 1', () => {
    const run = runScript("setTimeout(() => { Promise.reject(new Error('lost promise')); }, 10);");
    expect(run.status).toBe(1);
    const fatal = run.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .find((entry) => entry.level === 60);
    expect(fatal).toMatchObject({ msg: 'unhandled rejection', service: 'test-daemon', err: { message: 'lost promise' } });
  });

  it('stops on SIGTERM with exit 0', () => {
    const run = runScript("setTimeout(() => process.kill(process.pid, 'SIGTERM'), 10); setInterval(() => undefined, 1000);");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('test-daemon shutting down');
  });

  it('exits 78 with the reason on stderr when the configuration is bad', () => {
    const run = runScript(
      `const { ConfigError } = require(${JSON.stringify(join(__dirname, 'config'))}); throw new ConfigError('FLEET_X must be a number');`,
    );
    expect(run.status).toBe(78);
    expect(run.stderr).toContain('test-daemon: FLEET_X must be a number');
  });
});
