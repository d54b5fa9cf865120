#!/usr/bin/env node
import { CommanderError, type Command } from 'commander';
import { buildProgram } from './program.js';
import { ExitCode, exitCodeOf } from '../errors.js';

const program = buildProgram();
// Every level, not only the root: a subcommand's own usage error must reach the exit-code map (exit 2).
const override = (c: Command): void => {
  c.exitOverride();
  c.commands.forEach(override);
};
override(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) {
    process.exitCode = ExitCode.Ok;
  } else {
    // commander has already printed its own one-line message; anything else is ours to print.
    if (!(err instanceof CommanderError)) {
      process.stderr.write(`resetpwd-fleet: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = exitCodeOf(err);
  }
}
