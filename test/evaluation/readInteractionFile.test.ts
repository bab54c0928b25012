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
    // MovieLens's header, other names for the columns, and a header naming only some (the rest by place).
    const cases = [
      ['userId,movieId,rating,timestamp', '1,10,5,881250949\n1,11,3,881250950'],
      ['user_id,item_id,rating,ts', '1,10,5,881250949\n1,11,3,881250950'],
      ['u,i,t,rating', '1,10,881250949,5\n1,11,881250950,3'],
    ];
    for (const [header, rows] of cases) {
      const data = await readInteractionFile(await file('ml.csv', `${header}\n${rows}\n`), 4);
      expect([data.nUsers, data.nItems, data.rowsRead, data.rowsDropped]).toEqual([1, 2, 2, 1]);
      expect(Array.from(data.time)).toEqual([881_250_949_000]);
    }
  });

  it("reads the importer's interactions file: its likes in any case, with target as the item", async () => {
    const at = await file(
      'interactions.csv',
      'user,type,target,createdAt\n' +
        'u1,LIKE,l-1,1998-01-01T00:00:00Z\nu1,view,l-2,1998-01-02T00:00:00Z\n' +
        'u2,like,l-2,1998-01-03T00:00:00Z\nu2,follow,u1,1998-01-04T00:00:00Z\n',
    );
    const data = await readInteractionFile(at);
    expect([data.nUsers, data.nItems, data.rowsRead, data.rowsDropped]).toEqual([2, 2, 4, 2]);
    expect(Array.from(data.itemIndex)).toEqual([0, 1]);
    expect(Array.from(data.userIndex)).toEqual([0, 1]);
    await expect(readInteractionFile(at, 4)).rejects.toThrow(/have no ratings .* leave out --min-rating/);
  });

  it('refuses a first line that is neither data nor a header, and a timestamp that is not a time', async () => {
    await expect(
      readInteractionFile(await file('other.csv', 'who,what,when\nu,i,1998-01-01\n')),
    ).rejects.toThrow(
      'other.csv:1: "when" is not a time (epoch seconds, milliseconds or an ISO 8601 date), and as a header ' +
        'the line names no column',
    );
    // Ids in the third column: Date.parse had read this one as the year 1659.
    await expect(
      readInteractionFile(await file('shifted.csv', 'u1,like,l-0001659\nu1,like,l-0000022\n')),
    ).rejects.toThrow('shifted.csv:1: "l-0001659" is not a time');
    await expect(readInteractionFile(await file('us-date.csv', 'u1,i1,01/02/1998\n'))).rejects.toThrow(
      'us-date.csv:1: "01/02/1998" is not a time',
    );
    // A header that leaves the timestamp's place to another column.
    await expect(readInteractionFile(await file('no-time.csv', 'rating,user,item\n5,u,i\n'))).rejects.toThrow(
      'no-time.csv:1: the header names no timestamp column',
    );
    await expect(
      readInteractionFile(
        await file('bad-row.csv', 'user,item,timestamp\nu1,i1,1998-01-01\nu1,i2,l-0001659\n'),
      ),
    ).rejects.toThrow('bad-row.csv:3: timestamp l-0001659 is not a time');
  });
});
