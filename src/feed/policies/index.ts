export * from './epsilonGreedy.js';
export * from './page.js';
export * from './posteriors.js';
export * from './random.js';
export * from './simEnvironment.js';
export * from './simulate.js';
export * from './thompson.js';
export * from './types.js';
