import type { EvaluationReport, MethodResult } from './runEvaluation.js';

/** The SVD options the run was given (none: the importer's), e.g. " (weighting binary, factor scaling none)". */
function fitNote(report: EvaluationReport): string {
  const fit = report.embeddingFit;
  if (!fit) return '';
  const parts = [
    fit.weighting === undefined ? null : `weighting ${fit.weighting}`,
    fit.factorScaling === undefined ? null : `factor scaling ${fit.factorScaling}`,
    fit.popularityDamping === undefined ? null : `popularity damping ${fit.popularityDamping}`,
  ].filter((part) => part !== null);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** The report as markdown: dataset shape, one row per method, timings, the command line. */
export function formatReport(report: EvaluationReport, commandLine: string): string {
  const { dataset: d, k } = report;
  const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;
  const f3 = (x: number): string => x.toFixed(3);
  const lines: string[] = [];
  lines.push(`### Offline evaluation through the feed: ${d.source}`, '');
  lines.push(
    `${d.users} users, ${d.listings} listings (${d.activeListings} active), ${d.likes} likes (density ${pct(d.density)}). ` +
      `Split: per user the last ${pct(report.split.testShare)} of likes by time held out; ` +
      `${d.usersWithEnoughPositives} users with >= ${report.split.minPositives} likes, ${d.scoredUsers} scored` +
      `${report.split.maxUsers === null ? '' : ` (--max-users ${report.split.maxUsers})`}; ` +
      `${d.trainLikes} train likes, ${d.testLikes} held out (${d.testLikesInactive} of the scored users' on inactive listings). ` +
      `Item embeddings: ${report.itemEmbeddings}${fitNote(report)}; declared interests: ${report.interests}.`,
    '',
  );
  lines.push(
    `| method | P@${k} | R@${k} | NDCG@${k} | HR@${k} | coverage | pop. ratio | pop. pct | ms |`,
    '|---|---|---|---|---|---|---|---|---|',
  );
  const row = (m: MethodResult): string =>
    `| ${m.method} | ${f3(m.metrics.precision)} | ${f3(m.metrics.recall)} | ${f3(m.metrics.ndcg)} | ` +
    `${m.metrics.hitRate.toFixed(2)} | ${m.metrics.coverage.toFixed(2)} | ${m.metrics.ratio.toFixed(2)} | ` +
    `${m.metrics.percentile.toFixed(2)} | ${m.ms} |`;
  for (const m of report.methods) lines.push(row(m));
  const feeds = report.methods.filter((m) => m.kind === 'feed');
  if (feeds.length > 0) {
    lines.push(
      '',
      '| variant | overrides | ranker | slots by source (held-out hits) | fallbacks | short pages | profiles with vector | p50 ms | p95 ms |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const m of feeds) {
      const env =
        Object.entries(m.env ?? {})
          .map(([key, v]) => `${key}=${v}`)
          .join(' ') || '(none)';
      const fallbacks =
        Object.entries(m.fallbacks ?? {})
          .map(([key, v]) => `${key} ${v}`)
          .join(', ') || 'none';
      const sources =
        Object.entries(m.sources ?? {})
          .sort((a, b) => b[1].served - a[1].served)
          .map(
            ([key, t]) =>
              `${key} ${t.served} (${t.served === 0 ? 0 : ((100 * t.hits) / t.served).toFixed(1)} %)`,
          )
          .join(', ') || 'none';
      lines.push(
        `| ${m.method.replace(/^feed: /, '')} | ${env} | ${m.ranker ?? ''} | ${sources} | ${fallbacks} | ${m.shortPages ?? 0} | ${m.profilesWithEmbedding ?? 0} | ${m.latencyMs?.p50 ?? 0} | ${m.latencyMs?.p95 ?? 0} |`,
      );
    }
  }
  const fb = report.feedback;
  if (fb) {
    const t = fb.training;
    const outcome = !t.trained
      ? `no model (${t.reason})`
      : t.stored
        ? `a model was stored (holdout log-loss ${t.metrics.learned.logLoss.toFixed(4)} vs the fixed weights' ${t.metrics.defaults.logLoss.toFixed(4)}, AUC ${t.metrics.learned.auc?.toFixed(3) ?? 'n/a'} vs ${t.metrics.defaults.auc?.toFixed(3) ?? 'n/a'})`
        : `the fixed weights stay (${t.reason ?? 'the model did not beat them'})`;
    lines.push(
      '',
      `Feedback round for the learned ranker (train data only): ${fb.heldBackLikes} recent train likes held back, ` +
        `${fb.impressions} impressions logged by the default-weight feed, ${fb.rewarded} rewarded (liked in the held-back slice); ` +
        `ranker_training: ${outcome}.`,
    );
  }
  lines.push(
    '',
    `Timings (ms): ${Object.entries(report.timingsMs)
      .map(([key, v]) => `${key} ${v}`)
      .join(', ')}. ` +
      `Load average ${report.loadAverage.join(' ')} on ${report.cpus} CPUs. ` +
      `Scratch database ${report.scratchDatabase.name}${report.scratchDatabase.kept ? ' (kept)' : ' (dropped)'}.`,
    '',
    `Command: \`${commandLine}\``,
  );
  return `${lines.join('\n')}\n`;
}
