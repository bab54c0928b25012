import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { generateImportData, ISSUE16_PRESET } from '../../scripts/importData/generateImportData.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lodestar-import-sample-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = {
  ...ISSUE16_PRESET,
  out: dir,
  users: 60,
  items: 120,
  interactions: 4000,
  categories: 7,
  interestsPerCategory: 2,
  dim: 16,
};

const csvRows = (file: string): Record<string, string>[] =>
  parse<Record<string, string>>(readFileSync(path.join(dir, file)), {
    columns: true,
    skip_empty_lines: true,
  });
const ndjson = (file: string) =>
  readFileSync(path.join(dir, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('gen-import-data', () => {
  it('writes parseable files with the requested counts, consistent references and unique likes', async () => {
    const counts = await generateImportData(options);
    const categories = csvRows('categories.csv');
    const users = ndjson('users.ndjson');
    const interests = ndjson('interests.ndjson');
    const listings = ndjson('listings.ndjson');
    const userInterests = csvRows('user-interests.csv');
    const interactions = csvRows('interactions.csv');

    expect(categories).toHaveLength(7);
    expect(users).toHaveLength(60);
    expect(interests).toHaveLength(14);
    expect(listings).toHaveLength(120);
    expect(interactions).toHaveLength(4000);
    expect(counts).toMatchObject({
      users: 60,
      listings: 120,
      interests: 14,
      userInterests: userInterests.length,
    });
    expect(counts.likes + counts.views + counts.follows).toBe(4000);

    const slugs = new Set(categories.map((c) => c.slug));
    const userIds = new Set(users.map((u) => u.externalId));
    const listingIds = new Set(listings.map((l) => l.externalId));
    const interestIds = new Set(interests.map((i) => i.externalId));
    for (const u of users) expect(String(u.handle)).toMatch(/^[a-z0-9_]{3,30}$/);
    for (const l of listings) {
      expect(slugs.has(String(l.category))).toBe(true);
      const e = l.embedding as number[];
      expect(e).toHaveLength(16);
      expect(Math.hypot(...e)).toBeCloseTo(1, 3);
      if (typeof l.sellerExternalId === 'string') expect(userIds.has(l.sellerExternalId)).toBe(true);
      else expect(l.sellerExternalId).toBeUndefined();
      expect(Number.isNaN(Date.parse(String(l.createdAt)))).toBe(false);
    }
    for (const i of interests) expect(slugs.has(String(i.category))).toBe(true);
    for (const ui of userInterests) {
      expect(userIds.has(ui.user!)).toBe(true);
      expect(interestIds.has(ui.interest!)).toBe(true);
      expect(Number(ui.affinity)).toBeGreaterThan(0);
      expect(Number(ui.affinity)).toBeLessThanOrEqual(1);
    }
    const likes = new Set<string>();
    const types: Record<string, number> = {};
    for (const r of interactions) {
      types[r.type!] = (types[r.type!] ?? 0) + 1;
      expect(userIds.has(r.user!)).toBe(true);
      expect((r.type === 'follow' ? userIds : listingIds).has(r.target!)).toBe(true);
      if (r.type === 'like') likes.add(`${r.user}:${r.target}`);
      if (r.type === 'follow') expect(r.target).not.toBe(r.user);
    }
    expect(types).toEqual({ like: counts.likes, view: counts.views, follow: counts.follows });
    expect(likes.size).toBe(counts.likes);

    // Deterministic by seed: the same options write the same bytes.
    const first = readFileSync(path.join(dir, 'interactions.csv'), 'utf8');
    await generateImportData(options);
    expect(readFileSync(path.join(dir, 'interactions.csv'), 'utf8')).toBe(first);
    await generateImportData({ ...options, embeddings: false });
    expect(ndjson('listings.ndjson').some((l) => 'embedding' in l)).toBe(false);
  });
});
