import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInteractionFile } from '../../scripts/eval-embeddings/readInteractionFile.js';

describe('npm run eval:embeddings --file reads interactions as they are, or refuses them', () => {
  let dir: string;
  const file = async (name: string, text: string): Promise<string> => {
    const at = path.join(dir, name);
    await writeFile(at, text);
    return at;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lodestar-interactions-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a header in any order, and rows by position without one', async () => {
    const named = await readInteractionFile(
      await file(
        'named.csv',
        'timestamp,rating,item,user\n1998-01-02T00:00:00Z,5,i1,u1\n883000000,3,i2,u1\n',
      ),
    );
    const plain = await readInteractionFile(
      await file('plain.csv', 'u1,i1,1998-01-02T00:00:00Z\nu1,i2,883000000\n'),
    );
    for (const data of [named, plain]) {
      expect([data.nUsers, data.nItems, data.rowsRead]).toEqual([1, 2, 2]);
      expect(Array.from(data.time)).toEqual([Date.parse('1998-01-02T00:00:00Z'), 883_000_000_000]);
    }
    const rated = await readInteractionFile(
      await file('rated.csv', 'user,item,timestamp,rating\nu,a,1,5\nu,b,2,3\n'),
      4,
    );
    expect([rated.itemIndex.length, rated.rowsDropped]).toEqual([1, 1]);
  });

  it("reads the importer's interactions file: its likes, with target as the item", async () => {
    const data = await readInteractionFile(
      await file(
        'interactions.csv',
        'user,type,target,createdAt\n' +
          'u1,like,l-1,1998-01-01T00:00:00Z\nu1,view,l-2,1998-01-02T00:00:00Z\n' +
          'u2,like,l-2,1998-01-03T00:00:00Z\nu2,follow,u1,1998-01-04T00:00:00Z\n',
      ),
    );
    expect([data.nUsers, data.nItems, data.rowsRead, data.rowsDropped]).toEqual([2, 2, 4, 2]);
    expect(Array.from(data.itemIndex)).toEqual([0, 1]);
    expect(Array.from(data.userIndex)).toEqual([0, 1]);
    await expect(readInteractionFile(path.join(dir, 'interactions.csv'), 4)).rejects.toThrow(
      /have no ratings .* leave out --min-rating/,
    );
  });

  it('refuses a header that names other columns, and a timestamp that is not a time', async () => {
    await expect(
      readInteractionFile(await file('other.csv', 'who,what,when\nu,i,1998-01-01\n')),
    ).rejects.toThrow('other.csv:1: the header names "who,what,when"; it must name user, item and timestamp');
    // Ids in the third column: once read as the year 1659.
    await expect(
      readInteractionFile(await file('shifted.csv', 'u1,like,l-0001659\nu1,like,l-0000022\n')),
    ).rejects.toThrow('shifted.csv:1: the header names');
    await expect(readInteractionFile(await file('bad-time.csv', 'u1,i1,l-0001659\n'))).rejects.toThrow(
      /the header names/,
    );
    await expect(
      readInteractionFile(
        await file('bad-row.csv', 'user,item,timestamp\nu1,i1,1998-01-01\nu1,i2,l-0001659\n'),
      ),
    ).rejects.toThrow('bad-row.csv:3: timestamp l-0001659 is not a time');
  });
});
