/**
 * npm run bench: the feed (`suggestions`) through the real gateway vs. the same SQL issued directly,
 * on a 100k-listing database (the feed phase), the feature store's cached / uncached / Redis-down
 * modes (the features phase), likeListing with and without its idempotency key and rate limits
 * (the likes phase), and the queue worker's throughput and queue age (the workers phase). See
 * bench/README.md for what is measured and how to read it.
 */
import os from 'node:os';
import { signToken } from '../src/auth/signToken.js';
import { loadConfig } from '../src/config/config.js';
import { runEmbeddedPhase, type EmbeddedResults } from './embedded/embeddedPhase.js';
import { runFeaturesPhase } from './features/featuresPhase.js';
import type { FeaturesResults } from './features/featuresReport.js';
import { runFeedPhase } from './feed/feedPhase.js';
import type { BenchResults } from './feed/feedReport.js';
import { runLikesPhase } from './likes/likesPhase.js';
import { runReadsPhase } from './reads/readsPhase.js';
import { runScalePhase } from './scale/scalePhase.js';
import type { ScaleResults } from './scale/scaleReport.js';
import type { ReadsResults } from './reads/readsReport.js';
import type { LikesResults } from './likes/likesReport.js';
import { writeResults } from './report.js';
import { pickViewers, prepareBenchDatabase } from './shared/database.js';
import { buildGateway } from './shared/gatewayProcess.js';
import { gatewayEnv, readSettings } from './shared/settings.js';
import { runValidationPhase, type ValidationResults } from './validation/validationPhase.js';
import { runWorkersPhase } from './workers/workersPhase.js';
import type { WorkersResults } from './workers/workersReport.js';

async function main(): Promise<number> {
  const settings = readSettings();
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  console.log(`phases: ${[...settings.phases].join(', ')} (BENCH_PHASES)`);
  // The validation and embedded phases need no data of the big database (each has a small one of its
  // own): alone, they skip it.
  const ownData = ['validation', 'embedded', 'scale'];
  const onlyValidation = [...settings.phases].every((phase) => ownData.includes(phase));
  const dataset = onlyValidation ? null : await prepareBenchDatabase(settings);
  const env = gatewayEnv(settings);
  // What the gateway process will read from the same environment: token settings, pool sizes, feed knobs.
  const config = loadConfig({ ...env, PORT: '0' });
  const runFeed = settings.phases.has('feed');
  const runFeatures = settings.phases.has('features');
  const runLikes = settings.phases.has('likes');
  // The feed phase's raw-SQL runs serve viewers of their own (the next `viewers` users), so they do not
  // use up the cached candidates of the gateway's viewers between its runs (bench/feed/loadRuns.ts).
  const wanted = Math.max(runFeed ? 2 * settings.viewers : 0, runFeatures ? settings.featuresViewers : 0);
  // The likes phase picks users of its own; the viewers are only the feed's and the features'.
  const viewers = wanted > 0 ? await pickViewers(settings.benchUrl, wanted) : [];
  const tokens = await Promise.all(
    viewers.map((sub) => signToken(config.auth, { sub, role: 'user' }, { expiresIn: '2h' })),
  );
  if (viewers.length > 0)
    console.log(`viewers: ${viewers.length} users with profile embeddings, tokens signed`);

  let build = 'not rebuilt (BENCH_SKIP_BUILD)';
  if (!settings.skipBuild) {
    console.log('build: npm run build');
    build = `built with npm run build in ${(await buildGateway()).toFixed(1)} s`;
  }

  let feed: BenchResults | null = null;
  if (runFeed && dataset) {
    const feedViewers = viewers.slice(0, settings.viewers);
    const feedTokens = tokens.slice(0, settings.viewers);
    const others = viewers.slice(settings.viewers, 2 * settings.viewers);
    feed = await runFeedPhase(env, settings, {
      config,
      viewers: feedViewers,
      // Fewer users with embeddings than twice the viewers: the raw SQL serves the same ones.
      rawViewers: others.length === feedViewers.length ? others : feedViewers,
      tokens: feedTokens,
      startedAt,
      loadAverageAtStart,
      dataset,
      build,
    });
  }
  let features: FeaturesResults | null = null;
  if (runFeatures) {
    const n = settings.featuresViewers;
    features = await runFeaturesPhase(env, settings, viewers.slice(0, n), tokens.slice(0, n));
  }

  let likes: LikesResults | null = null;
  if (runLikes) likes = await runLikesPhase(env, settings, config);

  let workers: WorkersResults | null = null;
  if (settings.phases.has('workers')) workers = await runWorkersPhase(env, settings);

  let validation: ValidationResults | null = null;
  if (settings.phases.has('validation')) validation = await runValidationPhase(env, settings);

  let embedded: EmbeddedResults | null = null;
  if (settings.phases.has('embedded')) embedded = await runEmbeddedPhase(settings);

  let reads: ReadsResults | null = null;
  if (settings.phases.has('reads')) reads = await runReadsPhase(env, settings, config);

  let scale: ScaleResults | null = null;
  if (settings.phases.has('scale')) scale = await runScalePhase(env, settings, config);

  const paths = await writeResults(feed, features, likes, workers, validation, embedded, reads, scale);
  console.log(`\n${paths.markdown}`);
  console.log(`results: ${paths.json}\n         ${paths.latest}\n         ${paths.md}`);
  const runs = [
    ...(feed?.runs ?? []),
    ...(features?.runs ?? []),
    ...(likes?.runs ?? []),
    ...(embedded?.slices ?? []),
    ...(reads?.slices ?? []),
  ];
  const errors = runs.reduce((n, r) => n + r.errors, 0);
  if (errors > 0) console.error(`bench: ${errors} request(s) failed; see firstError in the results`);
  const unrestored = likes !== null && !likes.cleanup.restored;
  if (unrestored) console.error('bench: the likes phase did not leave the like totals as it found them');
  const failedItems = (workers?.drains ?? []).reduce(
    (n, d) => n + d.errorItems,
    workers?.steady?.unfinished ?? 0,
  );
  if (failedItems > 0) console.error(`bench: ${failedItems} queue item(s) ended in error or unfinished`);
  const workersUnrestored = workers !== null && !workers.state.restored;
  if (workersUnrestored) console.error('bench: the workers phase did not leave the database as it found it');
  const validationFailed =
    validation !== null &&
    (validation.healthzFailures > 0 || validation.documents.some((d) => d.unexpected > 0 || d.refused === 0));
  if (validationFailed)
    console.error('bench: the validation phase saw an unrefused document or a failed /healthz');
  const embeddedWriteErrors = (embedded?.slices ?? []).reduce((n, s) => n + (s.writes?.errors ?? 0), 0);
  if (embeddedWriteErrors > 0)
    console.error(`bench: ${embeddedWriteErrors} write(s) of the embedded phase's busy load failed`);
  const scaleErrors = (scale?.rows ?? []).reduce(
    (n, r) => n + [r.feed, r.listingsPage, r.ann].reduce((m, x) => m + x.c1.errors + x.cHigh.errors, 0),
    0,
  );
  if (scaleErrors > 0) console.error(`bench: ${scaleErrors} request(s) of the scale phase failed`);
  return errors > 0 ||
    scaleErrors > 0 ||
    embeddedWriteErrors > 0 ||
    unrestored ||
    failedItems > 0 ||
    workersUnrestored ||
    validationFailed
    ? 1
    : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error('bench: failed:', error);
  process.exitCode = 1;
}
