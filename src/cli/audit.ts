import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { runAudit } from '../audit/run.js';
import { resolveTargets, InventoryError } from '../inventory/load.js';
import { renderHuman } from '../report/human.js';
import { ExitCode, UsageError } from '../errors.js';
import { addTargetOptions, connectOptionsOf, type TargetCliOptions } from './target-options.js';

/** `audit` (prerequisite checks + plug-in state) and `status` (plug-in state): read-only on every host. */
export function auditCommand(name: 'audit' | 'status'): Command {
  const cmd = new Command(name)
    .description(
      name === 'audit'
        ? 'check every prerequisite of the plug-in and report its state, per host (changes nothing)'
        : 'report the plug-in\'s state per host: installed, agents, version, running, mode, log4j (changes nothing)',
    )
    .addHelpText('after', `\nExample:\n  resetpwd-fleet ${name} -i var/lab/inventory.ini --known-hosts var/lab/known_hosts --key var/lab/id_ed25519\n`);
  addTargetOptions(cmd).action(async (o: TargetCliOptions) => {
    if (o.report && !/\.json$/i.test(o.report)) throw new UsageError(`--report ${o.report}: only .json reports are written so far`);
    let targets;
    try {
      targets = resolveTargets({ inventory: o.inventory, hosts: o.host, limit: o.limit, user: o.user });
    } catch (e) {
      if (e instanceof InventoryError) throw new UsageError(e.message);
      throw e;
    }
    const conn = await connectOptionsOf(o);
    const doc = await runAudit(name, targets, { ...conn, concurrency: o.concurrency });
    const json = `${JSON.stringify(doc, null, 2)}\n`;
    if (o.report) writeFileSync(o.report, json, { mode: 0o600 });
    process.stdout.write(o.json ? json : renderHuman(doc));
    process.exitCode = doc.hosts.every((h) => h.outcome === 'ok') ? ExitCode.Ok : ExitCode.HostFailed;
  });
  return cmd;
}
