import { Command, Option } from 'commander';
import { CHECK_IDS } from '../platform/index.js';
import { ExitCode, UsageError } from '../errors.js';
import { newRunId, runChange, type ChangeDocument } from '../lifecycle/run.js';
import type { ChangeCommand } from '../core/plan.js';
import { renderChange } from '../report/change.js';
import { failedHosts, findRun } from '../fleet/runs.js';
import { addRolloutOptions, observeRun, rolloutOf, type RolloutCliOptions } from './rollout.js';
import { addTargetOptions, connectOptionsOf, emit, intArg } from './target-options.js';
import { addCloudOptions, runTargetsOf, type CloudCliOptions } from './cloud-options.js';

interface ChangeCliOptions extends CloudCliOptions, RolloutCliOptions {
  resume?: string;
  retryFailed?: string;
  package?: string;
  sha256?: string;
  reinstall?: boolean;
  dryRun?: boolean;
  force?: string[];
  journal?: string;
  settle: number;
}

const DESCRIPTIONS: Record<ChangeCommand, string> = {
  update: 'replace the plug-in on every host with --package (or install it where there is none), safely: verified package, old agent kept aside until the new one runs, automatic rollback',
  install: 'install the plug-in from --package on hosts that have none (--reinstall to replace an existing one)',
  uninstall: 'stop and remove both agents (CloudResetPwdAgent and CloudResetPwdUpdateAgent), their services and folders',
};

const EXAMPLES: Record<ChangeCommand, string> = {
  update:
    '  resetpwd-fleet update -i inventory.ini --package CloudResetPwdAgent.zip --dry-run\n' +
    '  resetpwd-fleet update -i inventory.ini --package CloudResetPwdAgent.zip --sha256 CloudResetPwdAgent.zip.sha256\n' +
    '  resetpwd-fleet update -H root@192.0.2.10 --package CloudResetPwdAgent.zip --reinstall   # one server\n',
  install: '  resetpwd-fleet install -i inventory.ini --package CloudResetPwdAgent.zip\n',
  uninstall: '  resetpwd-fleet uninstall -H root@192.0.2.10 --dry-run\n',
};

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `update`, `install`, `uninstall`: the changing commands. The CLI parses; src/lifecycle does the work. */
export function changeCommand(name: ChangeCommand): Command {
  const cmd = new Command(name).description(DESCRIPTIONS[name]).addHelpText('after', `\nExamples:\n${EXAMPLES[name]}`);
  if (name !== 'uninstall') {
    cmd
      .option('--package <zip>', 'the plug-in package (CloudResetPwdAgent.zip), verified before any host is touched')
      .option('--sha256 <FILE|HEX>', 'its .sha256 file or 64-hex digest (default: <zip>.sha256 beside it)')
      .option('--reinstall', name === 'install' ? 'replace an agent that is already installed' : 'reinstall even where this package already runs');
  }
  cmd
    .option('--dry-run', 'gather facts and print each host\'s plan; change nothing')
    .option('--force <check>', `proceed although this prerequisite check fails (${CHECK_IDS.join(', ')}); repeatable`, collect)
    .option('--journal <file>', 'where the run\'s journal goes (default ~/.local/state/resetpwd-fleet/runs/<run-id>.jsonl)')
    .addOption(new Option('--settle <seconds>', 'how long the new agent must keep running before it counts as running').default(3).argParser(intArg('--settle', 0, 600)))
    .option('--resume <run>', 'continue an interrupted run (its id, or "latest"): finished hosts are not touched again')
    .option('--retry-failed <run>', 'target only the hosts that failed, rolled back or were unreachable in that run');
  addRolloutOptions(addCloudOptions(addTargetOptions(cmd)), true).action(async (o: ChangeCliOptions) => {
    if (name !== 'uninstall' && !o.package) throw new UsageError(`${name}: --package ZIP is required (the plug-in zip, with its .sha256 beside it or --sha256)`);
    if (o.pull === true) throw new UsageError(`${name} --pull: give the URL the hosts download the package from (a mirror, or the official bucket's CloudResetPwdAgent.zip for their region and architecture)`);
    if (typeof o.pull === 'string' && !/^https?:\/\/[^\s'"]+$/.test(o.pull)) throw new UsageError(`--pull ${o.pull}: give an http:// or https:// URL`);
    for (const f of o.force ?? []) {
      if (!CHECK_IDS.includes(f)) throw new UsageError(`--force ${f}: no such check; use one of ${CHECK_IDS.join(', ')}`);
    }
    if (o.resume && o.retryFailed) throw new UsageError('--resume and --retry-failed: give one of them');
    if (o.resume && o.dryRun) throw new UsageError('--resume with --dry-run: a dry run has no journal to continue; drop one of them');
    const fromOptions = await runTargetsOf(o, { changing: true });
    const cloudSecrets = fromOptions.cloudSecrets;
    let targets = fromOptions.targets;
    const resume = o.resume ? findRun(o.resume) : undefined;
    if (o.retryFailed) {
      const run = findRun(o.retryFailed);
      const again = new Set(failedHosts(run));
      targets = targets.filter((t) => again.has(t.name));
      if (targets.length === 0) throw new UsageError(`--retry-failed ${o.retryFailed}: no host of that run failed or was unreachable (among the given targets)`);
    }
    const conn = await connectOptionsOf(o, targets);
    const runId = resume?.id ?? newRunId();
    const run = observeRun(o, conn, targets, runId, name, { package: o.package ?? null, dryRun: !!o.dryRun, resume: o.resume ?? null }, cloudSecrets);
    const doc = await runChange(name, targets, {
      ...conn,
      concurrency: o.concurrency,
      packagePath: o.package,
      sha256: o.sha256,
      reinstall: !!o.reinstall,
      force: o.force ?? [],
      dryRun: !!o.dryRun,
      journalPath: o.journal,
      redact: run.redact,
      settleSeconds: o.settle,
      startWaitSeconds: 20,
      ...rolloutOf(o, true),
      signal: run.signal,
      resume,
      runId,
      onTransition: run.step,
      onReconnect: run.reconnect,
      onHost: run.host,
      onStart: (n) => run.progress.start(n, `${name}${o.dryRun ? ' --dry-run' : ''}`),
      onWave: run.wave,
    }).finally(run.close);
    const clean = run.end(doc);
    emit(o, clean, () => renderChange(clean, !!o.dryRun));
    process.exitCode = exitCodeOfChange(doc);
  });
  return cmd;
}

const SUCCESS = new Set(['unchanged', 'updated', 'installed', 'uninstalled']);

export function exitCodeOfChange(doc: ChangeDocument): ExitCode {
  if (doc.stopped) return ExitCode.Stopped;
  // A dry run's "skipped" hosts are the ones that would change: not a failure.
  return doc.hosts.every((h) => SUCCESS.has(h.outcome) || (h.outcome === 'skipped' && h.plan !== null)) ? ExitCode.Ok : ExitCode.HostFailed;
}
