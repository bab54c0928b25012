import { ago, bar, bytes, el, fmt, pct, section, table, button } from '../dom.js';
import type { PageDef } from '../page.js';
import { remedyButton } from './overview.js';

export const vectors: PageDef = {
  title: 'Vectors',
  question: 'Do the tables have their embeddings, and are the vector indexes sized right and accurate?',
  charts: false,
  async render(ctx) {
    const { vectorHealth: health, backfill } = (await ctx.run('ConsoleVectors', {})).ops;
    const coverage = health.coverage.map((c) => [
      c.table,
      el(
        'span',
        { className: 'with-bar' },
        bar(c.share ?? 0, `${pct(c.share)} with an embedding`),
        pct(c.share),
      ),
      `${fmt(c.withEmbedding)} / ${fmt(c.rows)}`,
      c.plannerCondition ? 'yes' : 'no (under 5%)',
    ]);
    const indexes = health.indexes.map((i) => {
      const lists = i.options.find((o) => o.startsWith('lists='));
      // Offered where pgvector's rule for today's rows differs from the lists the index was built with.
      const rebuild =
        i.method === 'ivfflat' && i.suggestedLists !== null && lists !== `lists=${i.suggestedLists}`
          ? button(`Rebuild with lists=${i.suggestedLists}`, () => {
              void ctx.act({
                title: `Rebuild ${i.name}?`,
                detail: `Builds ${i.name} again CONCURRENTLY with lists=${i.suggestedLists} (now ${lists ?? i.options.join(', ')}, ${fmt(i.rows)} rows) and swaps it in. Reads keep working meanwhile.`,
                name: 'ConsoleRebuildVectorIndex',
                variables: (reason) => ({ index: i.name, lists: i.suggestedLists, reason }),
                done: (r) =>
                  `${r.rebuildVectorIndex.index} rebuilt: ${r.rebuildVectorIndex.previousOptions.join(', ')} → ${r.rebuildVectorIndex.options.join(', ')} (audit #${r.rebuildVectorIndex.auditId})`,
              });
            })
          : null;
      return [
        i.name,
        `${i.method} ${i.options.join(', ')}`,
        bytes(i.sizeBytes),
        `${fmt(i.rows)}${i.rowsAtBuild !== null ? ` (built at ${fmt(i.rowsAtBuild)})` : ''}`,
        i.suggestedLists === null ? '—' : String(i.suggestedLists),
        i.recall === null ? '—' : `${fmt(i.recall)} (${ago(i.recallMeasuredAt)})`,
        !i.valid ? 'INVALID' : i.needsRebuild ? 'needs rebuild' : 'ok',
        rebuild,
      ];
    });
    const progress = backfill
      ? el(
          'div',
          {},
          el(
            'p',
            { className: 'with-bar' },
            bar(backfill.total > 0 ? backfill.processed / backfill.total : 1, 'backfill progress'),
            `${fmt(backfill.processed)} of ${fmt(backfill.total)} profiles, ${fmt(backfill.remaining)} remaining — ${backfill.done ? `finished ${ago(backfill.finishedAt)}` : `started ${ago(backfill.startedAt)}`}`,
          ),
        )
      : el('p', { className: 'empty', text: 'No backfill has run.' });
    return [
      section(
        `pgvector ${health.installed ? (health.version ?? '') : 'NOT INSTALLED'}`,
        el('h3', { text: 'Embedding coverage' }),
        table(['table', 'share', 'rows', 'index usable'], coverage, 'embedding coverage'),
      ),
      section(
        'Vector indexes',
        table(
          ['index', 'method', 'size', 'rows', 'suggested lists', 'recall@20', 'state', ''],
          indexes,
          'vector indexes',
        ),
        el(
          'div',
          { className: 'actions' },
          remedyButton(
            ctx,
            'measureVectorRecall',
            'Measures recall@20 of every vector index against exact search (200 samples each).',
          ),
        ),
      ),
      section(
        'Profile embedding backfill',
        progress,
        el(
          'div',
          { className: 'actions' },
          remedyButton(
            ctx,
            'backfillProfileEmbeddings',
            'Computes missing profile embeddings in batches of 1,000; resumes where the last run stopped.',
          ),
        ),
      ),
    ];
  },
};
