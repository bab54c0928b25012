// npx tsx scripts/eval-embeddings/fitTime.ts [--interactions 1000000] [--items 100000] [--users 50000]
//   [--rank 64] [--power-iterations 2]
// Wall and CPU time and memory of one interactionEmbeddings fit on random interactions (users uniform,
// item popularity long-tailed), to check the "1M interactions x 100k items x rank 64 well under a
// minute" budget of issue #15 item 4.
import { parseArgs } from 'node:util';
import {
  DEFAULT_INTERACTION_EMBEDDING_OPTIONS,
  interactionEmbeddings,
} from '../../src/embeddings/interactionEmbeddings.js';
import { seededRandom } from '../../src/embeddings/seededRandom.js';

const { values } = parseArgs({
  options: {
    interactions: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '50000' },
    rank: { type: 'string', default: String(DEFAULT_INTERACTION_EMBEDDING_OPTIONS.rank) },
    'power-iterations': {
      type: 'string',
      default: String(DEFAULT_INTERACTION_EMBEDDING_OPTIONS.powerIterations),
    },
  },
});
const nnz = Number(values.interactions);
const nItems = Number(values.items);
const nUsers = Number(values.users);
const random = seededRandom(1);
const userIndex = new Uint32Array(nnz);
const itemIndex = new Uint32Array(nnz);
const weight = new Float32Array(nnz).fill(1);
for (let e = 0; e < nnz; e += 1) {
  userIndex[e] = random.below(nUsers);
  // u^2.5 piles draws onto low indices: a long popularity tail without Math.pow per draw mattering.
  itemIndex[e] = Math.min(nItems - 1, Math.floor(nItems * Math.pow(random.uniform(), 2.5)));
}
const rssBefore = process.memoryUsage().rss;
const cpuBefore = process.cpuUsage();
const started = performance.now();
const result = interactionEmbeddings(
  { userIndex, itemIndex, weight, nUsers, nItems },
  { rank: Number(values.rank), powerIterations: Number(values['power-iterations']) },
);
const wallMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
console.log(
  `${nnz} interactions, ${nUsers} users, ${nItems} items, rank ${result.rank}, ` +
    `q ${values['power-iterations']}: fit ${(wallMs / 1000).toFixed(1)} s wall, ` +
    `${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU, ${result.embeddedItems} items embedded, ` +
    `RSS ${(rssBefore / 1e6).toFixed(0)} -> ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
);
