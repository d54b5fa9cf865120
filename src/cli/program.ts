import { Command } from 'commander';
import { toolVersion } from '../version.js';

/**
 * Builds the commander program. Kept separate from main.ts so tests can drive the CLI in-process
 * (exitOverride + captured output) without spawning a process.
 */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('resetpwd-fleet')
    .description(
      'Audit, install, update and uninstall the cloud one-click password-reset plug-in\n' +
        '(CloudResetPwdAgent / CloudResetPwdUpdateAgent) across fleets of Linux and Windows servers.',
    )
    .version(toolVersion(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  resetpwd-fleet --version\n' +
        '  scripts/lab up && resetpwd-fleet --help   # bring up the local test lab\n',
    );
  return program;
}
