import { Command } from 'commander';
import { toolVersion } from '../version.js';
import { auditCommand } from './audit.js';
import { changeCommand } from './change.js';
import { runsCommand } from './runs.js';
import { packageCommand } from './package.js';
import { resetCommand } from './reset.js';

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
        '  resetpwd-fleet audit -i inventory.ini --key ~/.ssh/id_ed25519\n' +
        '  resetpwd-fleet status -H root@192.0.2.10 --json\n',
    );
  program.addCommand(auditCommand('audit'));
  program.addCommand(auditCommand('status'));
  program.addCommand(changeCommand('update'));
  program.addCommand(changeCommand('install'));
  program.addCommand(changeCommand('uninstall'));
  program.addCommand(resetCommand());
  program.addCommand(runsCommand());
  program.addCommand(packageCommand());
  return program;
}
