#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { ExitCode, exitCodeOf } from '../errors.js';

const program = buildProgram();
program.exitOverride();
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
