import { Option, type Command } from 'commander';
import { parseBudget, UNLIMITED, type ErrorBudget } from '../fleet/budget.js';
import { parseCanary, type WaveSpec } from '../fleet/canary.js';
import { intArg } from './target-options.js';

/** Rollout controls shared by every host-touching command (SPEC "Command line"); parsed once, here. */
export interface RolloutCliOptions {
  canary?: WaveSpec;
  maxErrors?: ErrorBudget;
  retries: number;
}

export function addRolloutOptions(cmd: Command, changing: boolean): Command {
  return cmd
    .addOption(new Option('--canary <waves>', 'roll out in waves, e.g. 1,5,20% (the rest is the last wave); each wave must end within the error budget').argParser(parseCanary))
    .addOption(
      new Option('--max-errors <n|n%>', `error budget: failed, rolled-back and unreachable hosts allowed before no new host starts (default ${changing ? '0' : 'unlimited'})`).argParser(parseBudget),
    )
    .addOption(new Option('--retries <n>', 'retries of hosts that could not be reached (never of a half-done change)').default(0).argParser(intArg('--retries', 0, 10)));
}

export function rolloutOf(o: RolloutCliOptions, changing: boolean): { waves: WaveSpec | undefined; budget: ErrorBudget; retries: number } {
  return { waves: o.canary, budget: o.maxErrors ?? (changing ? parseBudget('0') : UNLIMITED), retries: o.retries };
}

/**
 * Ctrl-C once: no new host starts, hosts in flight finish (or roll back), the summary is written, exit 3.
 * Twice: quit at once (host-side changes still finish by themselves; the journal says how far each got).
 */
export function interruptible(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  let count = 0;
  const onInt = () => {
    count++;
    if (count === 1) {
      ac.abort();
      process.stderr.write('\nresetpwd-fleet: interrupted: no new host will start; hosts in flight finish. Ctrl-C again to quit now.\n');
    } else {
      process.stderr.write('resetpwd-fleet: quitting; changes already started finish on their hosts; resume with --resume\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onInt);
    },
  };
}
