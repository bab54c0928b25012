// npm run db:migrate — applies pending migrations to MIGRATION_DATABASE_URL (or DATABASE_URL).
import { MigrationError, migrateUrl } from '../src/db/migrator.js';

const url = process.env.MIGRATION_DATABASE_URL || process.env.DATABASE_URL;
if (!url) {
  console.error('db:migrate: set DATABASE_URL (or MIGRATION_DATABASE_URL) to a postgresql:// URL');
  process.exit(2);
}

try {
  const applied = await migrateUrl(url, {
    onApplied: (name, ms) => console.log(`applied ${name} (${ms.toFixed(0)} ms)`),
  });
  console.log(applied.length === 0 ? 'database is up to date' : `applied ${applied.length} migration(s)`);
} catch (error) {
  const message = error instanceof MigrationError ? error.message : String(error);
  console.error(`db:migrate: ${message}`);
  process.exit(1);
}
