import { Command } from 'commander';
import { runAudit } from '../audit/run.js';
import { renderHuman } from '../report/human.js';
import { ExitCode } from '../errors.js';
import { addRolloutOptions, observeRun, rolloutOf, type RolloutCliOptions } from './rollout.js';
import { newRunId } from '../lifecycle/run.js';
import { addTargetOptions, connectOptionsOf, emit } from './target-options.js';
import { addCloudOptions, runTargetsOf, type CloudCliOptions } from './cloud-options.js';
import { CloudView } from '../cloud/view.js';

/** `audit` (prerequisite checks + plug-in state) and `status` (plug-in state): read-only on every host. */
export function auditCommand(name: 'audit' | 'status'): Command {
  const cmd = new Command(name)
    .description(
      name === 'audit'
        ? 'check every prerequisite of the plug-in and report its state, per host (changes nothing)'
        : 'report the plug-in\'s state per host: installed, agents, version, running, mode, log4j (changes nothing)',
    )
    .addHelpText(
      'after',
      `\nExamples:\n  resetpwd-fleet ${name} -i var/lab/inventory.ini --known-hosts var/lab/known_hosts --key var/lab/id_ed25519\n` +
        `  HUAWEICLOUD_SDK_AK=… HUAWEICLOUD_SDK_SK=… HUAWEICLOUD_SDK_PROJECT_ID=… resetpwd-fleet ${name} --cloud cn-north-4 --cloud-filter tag=env=prod\n`,
    );
  addRolloutOptions(addCloudOptions(addTargetOptions(cmd)), false).action(async (o: CloudCliOptions & RolloutCliOptions) => {
    const { targets, cloud, cloudSecrets } = await runTargetsOf(o);
    const conn = await connectOptionsOf(o, targets);
    const run = observeRun(o, conn, targets, newRunId(), name, cloud ? { cloud: cloud.api.region, servers: cloud.servers.size } : {}, cloudSecrets);
    run.progress.start(targets.length, name);
    const view = cloud ? new CloudView(cloud) : undefined;
    const doc = await runAudit(name, targets, { ...conn, concurrency: o.concurrency, ...rolloutOf(o, false), signal: run.signal, onWave: run.wave, cloud: view }, run.host).finally(run.close);
    const clean = run.end(doc);
    emit(o, clean, () => renderHuman(clean));
    process.exitCode = doc.stopped ? ExitCode.Stopped : doc.hosts.every((h) => h.outcome === 'ok') ? ExitCode.Ok : ExitCode.HostFailed;
  });
  return cmd;
}
