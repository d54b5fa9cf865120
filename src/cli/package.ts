import { Command } from 'commander';
import { verifyPackage } from '../package/verify.js';
import { renderPackage } from '../report/package.js';
import { printable } from '../report/text.js';

const EXAMPLE =
  '\nExamples:\n' +
  '  resetpwd-fleet package verify packages/CloudResetPwdAgent-2.1.0.zip\n' +
  '  resetpwd-fleet package verify CloudResetPwdAgent.zip --sha256 CloudResetPwdAgent.zip.sha256 --json\n';

/**
 * `package verify`: checks a plug-in package (checksum, soundness, safety, layout) and says what it holds.
 * exitOverride on both levels: a usage error inside a subcommand would otherwise exit 1 before main.ts maps it.
 */
export function packageCommand(): Command {
  const verify = new Command('verify')
    .description('check a plug-in zip against its SHA-256, that it is sound and safe to unpack, and show what it holds')
    .argument('<zip>', 'the plug-in package (CloudResetPwdAgent.zip)')
    .option('--sha256 <FILE|HEX>', 'the .sha256 file or the 64-hex digest (default: <zip>.sha256 beside the zip)')
    .option('--json', 'print the package facts as JSON')
    .addHelpText('after', EXAMPLE)
    .exitOverride()
    .action(async (zip: string, o: { sha256?: string; json?: boolean }) => {
      const info = await verifyPackage(zip, { sha256: o.sha256 });
      process.stdout.write(o.json ? `${JSON.stringify(info, null, 2)}\n` : printable(renderPackage(info)));
    });
  return new Command('package')
    .description('work with plug-in packages (zip + .sha256) before they reach any host')
    .addHelpText('after', EXAMPLE)
    .exitOverride()
    .addCommand(verify);
}
