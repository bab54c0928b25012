import { timeChart } from '../chart.js';
import { el, fmt, pct, section, table } from '../dom.js';
import type { PageDef } from '../page.js';

const ms = (v: number) => `${fmt(v)} ms`;

export const latency: PageDef = {
  title: 'Latency',
  question: 'How fast is each kernel (p50/p95/p99) and how often does it fail, over time?',
  charts: true,
  async render(ctx) {
    const data = (await ctx.run('ConsoleLatency', { since: ctx.since })).ops;
    const now = data.kernelSlos.map((k) => [
      k.kernel,
      fmt(k.n),
      ms(k.p50Ms),
      ms(k.p95Ms),
      ms(k.p99Ms),
      pct(k.errorRate),
    ]);
    const over = (field: 'p50Ms' | 'p95Ms' | 'p99Ms' | 'errorRate') =>
      data.kernelLatencyHistory.map((s) => ({
        label: s.kernel,
        points: s.points.map((p) => ({ at: p.at, value: p[field] })),
      }));
    return [
      section(
        'Last hour (vw_kernel_slos)',
        now.length > 0
          ? table(['kernel', 'requests', 'p50', 'p95', 'p99', 'errors'], now, 'kernel latency')
          : el('p', { className: 'empty', text: 'No sampled requests in the last hour.' }),
      ),
      section(
        'Over time',
        el(
          'div',
          { className: 'charts' },
          timeChart('p95 by kernel', over('p95Ms'), ms),
          timeChart('p99 by kernel', over('p99Ms'), ms),
          timeChart('p50 by kernel', over('p50Ms'), ms),
          timeChart('error rate by kernel', over('errorRate'), (v) => pct(v)),
        ),
      ),
    ];
  },
};
