import { type Lab, type LabOptions, startLab } from './lab';

/**
 * One lab for the whole suite: built in beforeAll, torn down in afterAll (also after a failed test). Returns a
 * stand-in that forwards to the running lab, so suites write `lab.url` at the top level.
 */
export function useLab(opts?: LabOptions): Lab {
  let current: Lab | undefined;
  beforeAll(async () => {
    const started = Date.now();
    current = await startLab(opts);
    process.stdout.write(`[multihost] lab of ${current.network.hosts.size} hosts up in ${Date.now() - started} ms\n`);
  }, 240_000);
  afterAll(async () => {
    await current?.stop();
  }, 120_000);
  return new Proxy({} as Lab, {
    get(_target, property) {
      if (!current) throw new Error('the lab is used before beforeAll built it');
      const value = Reflect.get(current, property, current);
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
}
