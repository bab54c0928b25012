// npm run schema:print — writes the schema's SDL to schema.graphql (the API review file).
import { writeFile } from 'node:fs/promises';
import { printSchemaFile, schemaFilePath } from '../src/schema/printSchemaFile.js';

await writeFile(schemaFilePath, printSchemaFile());
console.log(`wrote ${schemaFilePath}`);
