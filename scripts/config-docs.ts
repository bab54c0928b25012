// npm run docs:config — writes docs/configuration.md from the environment schema in src/config/config.ts.
import { writeFile } from 'node:fs/promises';
import { configDocsPath, generateConfigDocs } from '../src/config/configDocs.js';

await writeFile(configDocsPath, await generateConfigDocs());
console.log(`wrote ${configDocsPath}`);
