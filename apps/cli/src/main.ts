import { Command } from 'commander';
import { registerLocalFleetCommands } from './commands/local-fleet';
import { registerTokenCommands } from './commands/token';

const program = new Command('fleet').description('Fleet orchestrator for Docker hosts').showHelpAfterError();
registerLocalFleetCommands(program);
registerTokenCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`fleet: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
