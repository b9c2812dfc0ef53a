/**
 * Records one bench run's call-path numbers as the "before" or "after" of bench/results/callpath.json,
 * which section 5 of BENCHMARKS.md prints. Run the same quick bench on both codes, e.g.
 *
 *   npm run bench -- --quick --only=real        # on the code before the change, then:
 *   node --import tsx bench/record-callpath.ts before <that run's bench/results/latest.json>
 *   npm run bench -- --quick --only=real        # on the code after it, then:
 *   node --import tsx bench/record-callpath.ts after bench/results/latest.json
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults } from './results';
import { callPathSnapshot, type CallPathRecord } from './sections/callpath';

const [side, file] = process.argv.slice(2);
if ((side !== 'before' && side !== 'after') || !file) {
  process.stderr.write('usage: node --import tsx bench/record-callpath.ts before|after <results.json>\n');
  process.exit(2);
}
const target = join(__dirname, 'results', 'callpath.json');
const record: CallPathRecord = existsSync(target) ? (JSON.parse(readFileSync(target, 'utf8')) as CallPathRecord) : {};
record[side] = callPathSnapshot(JSON.parse(readFileSync(file, 'utf8')) as BenchResults);
writeFileSync(target, `${JSON.stringify(record, null, 2)}\n`);
process.stdout.write(`recorded ${side} in ${target}\n`);
