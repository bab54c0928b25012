import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateUrl } from '../../src/db/migrator.js';
import { databaseUrl, testDatabaseAdminUrl } from './env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

async function withAdmin(fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const admin = new pg.Client({ connectionString: testDatabaseAdminUrl });
  await admin.connect();
  try {
    await fn(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Builds the console's bundle; migrates a template database once per run; every test file clones it (fast, isolated). The name is
 * unique per run, so two runs on one cluster never touch each other's template.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The ops console's bundle as `npm run build` makes it, once, before the files that serve it run.
  await promisify(execFile)('npm', ['run', '--silent', 'build:console']);
  const template = `lodestar_tpl_${randomBytes(5).toString('hex')}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${template}`));
  await migrateUrl(databaseUrl(template));
  project.provide('templateDatabase', template);
  return () => withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`));
}
