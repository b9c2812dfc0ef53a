import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { STACK_NAME } from '@fleet/contracts/compose';
import type { AppliedStack } from './reconcile';

/**
 * The revision each stack was last asked to run on this host, kept as one JSON file per stack (0600) in the agent's
 * state directory so that a restarted agent still knows what to keep true. Without a directory it keeps them in
 * memory only (README "Stacks on the agents").
 */
export class StackStore {
  private readonly stacks = new Map<string, AppliedStack>();

  constructor(private readonly dir: string | undefined) {}

  /** Reads what an earlier run kept; a file that is not a stack is left alone and named in the answer. */
  async load(): Promise<string[]> {
    if (!this.dir) return [];
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const unreadable: string[] = [];
    for (const file of await readdir(this.dir)) {
      const name = file.replace(/\.json$/, '');
      if (!file.endsWith('.json') || !STACK_NAME.test(name)) continue;
      try {
        this.stacks.set(name, JSON.parse(await readFile(path.join(this.dir, file), 'utf8')) as AppliedStack);
      } catch {
        unreadable.push(file);
      }
    }
    return unreadable;
  }

  get(name: string): AppliedStack | undefined {
    return this.stacks.get(name);
  }

  names(): string[] {
    return [...this.stacks.keys()].sort();
  }

  /** Written whole to a temporary file, then renamed: a crash leaves the old revision or the new one, never half. */
  async save(name: string, applied: AppliedStack): Promise<void> {
    this.stacks.set(name, applied);
    if (!this.dir) return;
    const file = path.join(this.dir, `${name}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(applied), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  async forget(name: string): Promise<void> {
    this.stacks.delete(name);
    if (this.dir) await rm(path.join(this.dir, `${name}.json`), { force: true });
  }
}
