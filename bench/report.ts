import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { embeddedMarkdown, type EmbeddedResults } from './embedded/embeddedPhase.js';
import { toMarkdown, type BenchResults } from './feed/feedReport.js';
import { featuresMarkdown, type FeaturesResults } from './features/featuresReport.js';
import { likesMarkdown, type LikesResults } from './likes/likesReport.js';
import { readsMarkdown, type ReadsResults } from './reads/readsReport.js';
import { scaleMarkdown, type ScaleResults } from './scale/scaleReport.js';
import { validationMarkdown, type ValidationResults } from './validation/validationPhase.js';
import { workersMarkdown, type WorkersResults } from './workers/workersReport.js';

/** Written through prettier with the project's settings, so `npm run lint` stays clean after a run. */
async function writeFormatted(path: string, text: string): Promise<void> {
  const options = (await prettier.resolveConfig(path)) ?? {};
  await writeFile(path, await prettier.format(text, { ...options, filepath: path }));
}

/**
 * latest.json: the feed results at the top (as before the other phases), the features phase under
 * `features`, the likes phase under `likes`, the workers phase under `workers`.
 */
export type LatestResults = Partial<BenchResults> & {
  features?: FeaturesResults;
  likes?: LikesResults;
  workers?: WorkersResults;
  validation?: ValidationResults;
  embedded?: EmbeddedResults;
  reads?: ReadsResults;
  scale?: ScaleResults;
};

type Ran = {
  feed: boolean;
  features: boolean;
  likes: boolean;
  workers: boolean;
  validation: boolean;
  embedded: boolean;
  reads: boolean;
  scale: boolean;
};

const isFeedResults = (r: LatestResults): r is BenchResults & { features?: FeaturesResults } =>
  Array.isArray(r.runs) && Array.isArray(r.statements) && r.rss !== undefined;

/** Every section; one this run skipped (BENCH_PHASES) comes from the previous latest.json, said so. */
export function latestMarkdown(latest: LatestResults, ran: Ran): string {
  const parts: string[] = [];
  const carried = (what: keyof Ran) =>
    ran[what] ? '' : `_Carried over from an earlier run: this run had BENCH_PHASES without ${what}._\n`;
  if (isFeedResults(latest)) parts.push(`${carried('feed')}${toMarkdown(latest)}`);
  if (latest.features) parts.push(`${carried('features')}${featuresMarkdown(latest.features)}`);
  if (latest.likes) parts.push(`${carried('likes')}${likesMarkdown(latest.likes)}`);
  if (latest.workers) parts.push(`${carried('workers')}${workersMarkdown(latest.workers)}`);
  if (latest.validation) parts.push(`${carried('validation')}${validationMarkdown(latest.validation)}`);
  if (latest.embedded) parts.push(`${carried('embedded')}${embeddedMarkdown(latest.embedded)}`);
  if (latest.reads) parts.push(`${carried('reads')}${readsMarkdown(latest.reads)}`);
  if (latest.scale) parts.push(`${carried('scale')}${scaleMarkdown(latest.scale)}`);
  return parts.join('\n');
}

/**
 * Writes this run's results to feed-<timestamp>.json (whichever phases ran; the name .gitignore
 * expects), and latest.json / latest.md, keeping the previous latest's section of a skipped phase.
 */
export async function writeResults(
  feed: BenchResults | null,
  features: FeaturesResults | null,
  likes: LikesResults | null,
  workers: WorkersResults | null,
  validation: ValidationResults | null = null,
  embedded: EmbeddedResults | null = null,
  reads: ReadsResults | null = null,
  scale: ScaleResults | null = null,
): Promise<{ json: string; latest: string; md: string; markdown: string }> {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const date =
    feed?.date ??
    features?.date ??
    likes?.date ??
    workers?.date ??
    validation?.date ??
    embedded?.date ??
    reads?.date ??
    scale?.date ??
    new Date().toISOString();
  const paths = {
    json: `${dir}feed-${date.replace(/[:.]/g, '-')}.json`,
    latest: `${dir}latest.json`,
    md: `${dir}latest.md`,
  };
  const previous: LatestResults = await readFile(paths.latest, 'utf8')
    .then((text) => JSON.parse(text) as LatestResults)
    .catch(() => ({}));
  const run: LatestResults = {
    ...(feed ?? {}),
    ...(features ? { features } : {}),
    ...(likes ? { likes } : {}),
    ...(workers ? { workers } : {}),
    ...(validation ? { validation } : {}),
    ...(embedded ? { embedded } : {}),
    ...(reads ? { reads } : {}),
    ...(scale ? { scale } : {}),
  };
  const {
    features: previousFeatures,
    likes: previousLikes,
    workers: previousWorkers,
    validation: previousValidation,
    embedded: previousEmbedded,
    reads: previousReads,
    scale: previousScale,
    ...previousFeed
  } = previous;
  const latest: LatestResults = {
    ...(feed ? {} : previousFeed),
    ...run,
    ...(features ? {} : { features: previousFeatures }),
    ...(likes ? {} : { likes: previousLikes }),
    ...(workers ? {} : { workers: previousWorkers }),
    ...(validation ? {} : { validation: previousValidation }),
    ...(embedded ? {} : { embedded: previousEmbedded }),
    ...(reads ? {} : { reads: previousReads }),
    ...(scale ? {} : { scale: previousScale }),
  };
  const ran = {
    feed: feed !== null,
    features: features !== null,
    likes: likes !== null,
    workers: workers !== null,
    validation: validation !== null,
    embedded: embedded !== null,
    reads: reads !== null,
    scale: scale !== null,
  };
  const markdown = latestMarkdown(latest, ran);
  await writeFormatted(paths.json, JSON.stringify(run, null, 2));
  await writeFormatted(paths.latest, JSON.stringify(latest, null, 2));
  await writeFormatted(paths.md, markdown);
  return { ...paths, markdown };
}
