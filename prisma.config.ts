// Prisma CLI configuration (Prisma 7: the connection URL lives here, not in schema.prisma).
//
// DATABASE_URL is read directly from process.env rather than with `env()` from prisma/config,
// which throws when the variable is unset: `prisma generate` needs no database and must work
// without it. Commands that do need a database (migrate, db, studio) report a missing URL
// themselves. Prisma 7 does not load .env files: export DATABASE_URL in the shell.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: {
    path: 'prisma/migrations',
  },
  datasource: {
    url: process.env.DATABASE_URL,
  },
});
