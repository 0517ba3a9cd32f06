import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFilesAtomic, writeFilesTogether } from '../../../../shared/adapters/local/atomic-file.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

let dir: string;

beforeEach(async () => {
  dir = await makeTempDir('rekey-atomic-leftovers-');
  // A folder where a file is to go: no file can be renamed over it.
  await mkdir(join(dir, 'taken'));
});
afterEach(() => removeTempDir(dir));

const temporaries = async () => (await readdir(dir)).filter((n) => n.endsWith('.tmp'));

describe('a rename that fails leaves no temporary file behind', () => {
  it('writeFileAtomic', async () => {
    // Act
    const write = writeFileAtomic(join(dir, 'taken'), 'new');
    // Assess
    await expect(write).rejects.toMatchObject({ code: 'EISDIR' });
    expect(await temporaries()).toEqual([]);
  });

  it('writeFilesAtomic: the others are written', async () => {
    // Act
    const outcomes = await writeFilesAtomic([
      { path: join(dir, 'a'), data: 'a' },
      { path: join(dir, 'taken'), data: 'lost' },
    ]);
    // Assess
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('a');
    expect(await temporaries()).toEqual([]);
  });

  it('writeFilesTogether: the files renamed before it stay, the ones after it are not written', async () => {
    // Act
    const write = writeFilesTogether([
      { path: join(dir, 'first'), data: 'first', mode: 0o600 },
      { path: join(dir, 'taken'), data: 'lost', mode: 0o600 },
      { path: join(dir, 'last'), data: 'last', mode: 0o600 },
    ]);
    // Assess
    await expect(write).rejects.toMatchObject({ code: 'EISDIR' });
    expect(await readFile(join(dir, 'first'), 'utf8')).toBe('first');
    expect((await readdir(dir)).sort()).toEqual(['first', 'taken']);
  });
});
