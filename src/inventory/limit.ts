import type { Target } from './target.js';

/**
 * Ansible --limit patterns: "a:b" or "a,b" (union), "&g" (intersection), "!g" (exclusion); each term a host
 * name, a group, or a glob (*, ?). Order as in Ansible: unions, then intersections, then exclusions.
 */
export function applyLimit(targets: Target[], pattern: string): Target[] {
  const terms = pattern.split(/[:,]/).map((t) => t.trim()).filter(Boolean);
  const re = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const matches = (t: Target, p: string) => {
    const r = re(p);
    return r.test(t.name) || r.test(t.host) || t.groups.some((g) => r.test(g));
  };
  const plus = terms.filter((t) => !t.startsWith('!') && !t.startsWith('&'));
  const and = terms.filter((t) => t.startsWith('&')).map((t) => t.slice(1));
  const not = terms.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
  return targets.filter(
    (t) => (plus.length === 0 || plus.some((p) => matches(t, p))) && and.every((p) => matches(t, p)) && !not.some((p) => matches(t, p)),
  );
}
