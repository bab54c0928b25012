// npm run token -- --handle alice | --sub <uuid> [--role user|admin|service] [--expires 1h]
// Mints a development token signed with JWT_SECRET (HS256), accepted by a gateway with the same
// JWT_SECRET/JWT_ISSUER/JWT_AUDIENCE. Production tokens come from your identity provider.
// --role service mints a service token (audience JWT_SERVICE_AUDIENCE); for people the gateway ignores
// the role claim and reads profiles.role, so --role admin does not make anyone an admin.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { signToken } from '../src/auth/signToken.js';

const usage =
  'usage: npm run token -- (--handle HANDLE | --sub UUID) [--role user|admin|service] [--expires 1h]';

function fail(message: string): never {
  console.error(`token: ${message}\n${usage}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      handle: { type: 'string' },
      sub: { type: 'string' },
      role: { type: 'string' },
      expires: { type: 'string', default: '1h' },
    },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

const secret = process.env.JWT_SECRET;
if (!secret || secret.length < 32) fail('JWT_SECRET must be set (32+ characters), the same as the gateway’s');
if (!values.handle && !values.sub) fail('give --handle or --sub');
if (values.role && !['user', 'admin', 'service'].includes(values.role))
  fail(`--role must be user, admin or service`);
if (!/^\d+[smhd]$/.test(values.expires))
  fail(`--expires must look like 30m, 1h or 7d, got "${values.expires}"`);

let sub = values.sub;
let role = values.role as 'user' | 'admin' | 'service' | undefined;
if (values.handle) {
  const url = process.env.MIGRATION_DATABASE_URL || process.env.DATABASE_URL;
  if (!url) fail('--handle needs DATABASE_URL to look the user up');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // token: the user id and role of a handle
    const { rows } = await client.query<{ user_id: string; role: 'user' | 'admin' | 'service' }>(
      'SELECT user_id, role FROM profiles WHERE handle = $1',
      [values.handle.toLowerCase()],
    );
    if (!rows[0]) fail(`there is no user with handle "${values.handle}"`);
    sub = rows[0].user_id;
    role ??= rows[0].role;
  } finally {
    await client.end();
  }
}

const token = await signToken(
  {
    jwtSecret: secret,
    issuer: process.env.JWT_ISSUER || 'lodestar',
    audience: process.env.JWT_AUDIENCE || 'lodestar',
    serviceAudience: process.env.JWT_SERVICE_AUDIENCE || 'lodestar-service',
  },
  { sub: sub ?? '', role: role ?? 'user' },
  { expiresIn: values.expires },
);
console.log(token);
