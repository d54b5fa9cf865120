#!/usr/bin/env node
import { CommanderError, type Command } from 'commander';
import { buildProgram } from './program.js';
import { ExitCode, exitCodeOf } from '../errors.js';
import { oneLine } from '../report/text.js';

// A reader that went away (`runs list | head -2`) ends the command quietly: there is no one left to tell.
// A closed stderr only silences the progress: hosts in flight still finish and are journaled.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok);
});
process.stderr.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

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
      // One line, printable: an error can quote what a host or a file said.
      process.stderr.write(`resetpwd-fleet: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    }
    process.exitCode = exitCodeOf(err);
  }
}
