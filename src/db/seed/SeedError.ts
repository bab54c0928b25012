/**
 * A problem the person running the seeder can fix (bad options, unmigrated or non-empty
 * database). The CLI prints only the message for these; anything else is a bug and gets a stack.
 */
export class SeedError extends Error {
  override readonly name = 'SeedError';
}
