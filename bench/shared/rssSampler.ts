import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayProcess } from './gatewayProcess.js';

/**
 * Reads the gateway process's RSS every `intervalMs` while the load runs, tagging each reading with
 * the phase the bench is in ("gateway c=16", "raw-sql c=1" — the gateway idles during raw-SQL runs).
 * Short spikes between readings are caught by VmHWM, which the caller reads at the end.
 */
export function createRssSampler(gateway: GatewayProcess, intervalMs = 100) {
  const samples: { phase: string; rssKb: number }[] = [];
  let phase = 'start';
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rssKb } = await gateway.memory().catch(() => ({ rssKb: Number.NaN }));
      if (Number.isFinite(rssKb)) samples.push({ phase, rssKb });
      await sleep(intervalMs);
    }
  })();
  const of = (p: string) => samples.filter((s) => s.phase === p).map((s) => s.rssKb);
  return {
    setPhase: (next: string) => {
      phase = next;
    },
    stop: async () => {
      running = false;
      await loop;
    },
    peakKb: (p: string) => Math.max(...of(p)),
    medianKb: (p: string) => {
      const xs = of(p).sort((a, b) => a - b);
      return xs[Math.floor(xs.length / 2)] ?? Number.NaN;
    },
    count: () => samples.length,
  };
}
