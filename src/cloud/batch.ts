/**
 * Many hosts' jobs, one API call: each job asks for its server alone and waits; the asks that arrive together
 * (within `delayMs` of the last one, at most `maxWaitMs` after the first, at most `max` a call) go in one call of
 * a batch API. The fleet runner keeps its own semantics (window, waves, error budget, journal) per host; the
 * cloud sees chunks instead of one call per server.
 */
export interface BatchOptions {
  /** Servers a call takes at most (the API's own limit). */
  max: number;
  /** Quiet time after the last ask before the call goes. */
  delayMs: number;
  /** The longest the first ask of a call waits. */
  maxWaitMs: number;
}

export class Batcher<R> {
  private waiting = new Map<string, { ids: string[]; resolvers: ((r: R) => void)[]; first: number; timer: NodeJS.Timeout | null; run: (ids: string[]) => Promise<Map<string, R>> }>();

  /** `failed`: each id's result when a call's `run` throws (it should say each id's result itself). */
  constructor(private readonly o: BatchOptions, private readonly failed: (e: unknown) => R) {}

  /**
   * Asks for one server in the batch named `key` (asks with the same key share a call); `run` makes the call for
   * the ids of a chunk and says each id's result (every id must be in the map it returns).
   */
  ask(key: string, id: string, run: (ids: string[]) => Promise<Map<string, R>>): Promise<R> {
    return new Promise<R>((resolve) => {
      let b = this.waiting.get(key);
      if (!b) {
        b = { ids: [], resolvers: [], first: Date.now(), timer: null, run };
        this.waiting.set(key, b);
      }
      b.ids.push(id);
      b.resolvers.push(resolve);
      if (b.timer) clearTimeout(b.timer);
      if (b.ids.length >= this.o.max) {
        this.flush(key);
        return;
      }
      const wait = Math.max(0, Math.min(this.o.delayMs, b.first + this.o.maxWaitMs - Date.now()));
      b.timer = setTimeout(() => this.flush(key), wait);
    });
  }

  private flush(key: string): void {
    const b = this.waiting.get(key);
    if (!b) return;
    this.waiting.delete(key);
    if (b.timer) clearTimeout(b.timer);
    const { ids, resolvers } = b;
    b.run(ids).then(
      (results) => ids.forEach((id, i) => resolvers[i]!(results.get(id) ?? this.failed(new Error(`the call said nothing of ${id}`)))),
      (e: unknown) => resolvers.forEach((r) => r(this.failed(e))),
    );
  }
}
