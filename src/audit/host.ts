import type { HostResult, StepRecord } from '../core/result.js';
import { stepTimer } from '../core/result.js';
import type { Target } from '../inventory/target.js';
import { failureOf } from '../session/failure.js';
import { openSession, type HostSession } from '../session/open.js';
import type { ConnectOptions } from '../session/options.js';
import type { KnownHosts } from '../transport/known-hosts.js';

/**
 * One host's audit, for every OS: open the session, gather the facts in one round trip, run the host's
 * checks and read the plug-in's state — all through the host's Platform. Never throws: failures are results.
 */
export async function auditHost(t: Target, o: ConnectOptions, knownHosts: KnownHosts, open: () => Promise<HostSession> = () => openSession(t, o, knownHosts)): Promise<HostResult> {
  return (await auditHostSeen(t, o, knownHosts, open)).result;
}

/** One host's audit, and the server id its metadata service gave (for the cloud's server-id check). */
export async function auditHostSeen(
  t: Target,
  o: ConnectOptions,
  knownHosts: KnownHosts,
  open: () => Promise<HostSession> = () => openSession(t, o, knownHosts),
): Promise<{ result: HostResult; serverId: string | null }> {
  const steps: StepRecord[] = [];
  const base: HostResult = {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null,
    checks: [], agent: null, outcome: 'unreachable', steps, error: null,
  };
  const time = stepTimer(steps);
  let s: HostSession | undefined;
  try {
    s = await time('connect', open);
    const p = s.platform;
    const facts = await time('facts', () => p.facts(s!));
    const checks = p.checks(facts, { pull: o.pull, inventoryEip: t.eip, eipFrom: t.vars.server_id ? 'the cloud API' : 'the inventory' });
    const result: HostResult = {
      ...base, reachable: true, os: p.os(facts), checks, agent: p.agent(facts), outcome: checks.some((c) => c.status === 'fail') ? 'failed' : 'ok',
      ...(s.transport.algorithms ? { ssh: s.transport.algorithms } : {}),
    };
    return { result, serverId: p.serverId(facts) };
  } catch (e) {
    return { result: { ...base, ...failureOf(e, t.name, s !== undefined) }, serverId: null };
  } finally {
    await s?.close().catch(() => undefined);
  }
}
