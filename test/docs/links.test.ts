import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every relative link in the README, docs/*.md and bench/README.md must name a file or folder that
// exists, and a `#anchor` must name a heading of the Markdown file it points to (GitHub's slugs).
// A pure file-system test: no database, no network.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function documents(): string[] {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', 'bench/README.md', ...docs].filter((file) => fs.existsSync(path.join(root, file)));
}

/** The text outside fenced code blocks and inline code spans, line by line. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line.replace(/`[^`]*`/g, '``');
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingSlugs(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const slugs = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading?.[1]) continue;
    const base = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    slugs.add(count === 0 ? base : `${base}-${count}`);
  }
  return slugs;
}

/** Broken relative links of one Markdown file under `base`, as "file:line: target (why)". */
function brokenLinks(base: string, file: string): string[] {
  const problems: string[] = [];
  const source = fs.readFileSync(path.join(base, file), 'utf8');
  prose(source).forEach((line, index) => {
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1] ?? '';
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const [linkPath = '', anchor] = target.split('#', 2);
      const resolved = linkPath
        ? path.relative(base, path.resolve(path.dirname(path.join(base, file)), decodeURIComponent(linkPath)))
        : file;
      const where = `${file}:${index + 1}: ${target}`;
      if (resolved.startsWith('..')) {
        problems.push(`${where} (outside the repository)`);
        continue;
      }
      const absolute = path.join(base, resolved);
      if (!fs.existsSync(absolute)) {
        problems.push(`${where} (no such file)`);
        continue;
      }
      if (
        anchor &&
        resolved.endsWith('.md') &&
        !headingSlugs(fs.readFileSync(absolute, 'utf8')).has(anchor)
      ) {
        problems.push(`${where} (no heading #${anchor} in ${resolved})`);
      }
    }
  });
  return problems;
}

describe('documentation links', () => {
  it('covers the README, bench/README.md and every file in docs/', () => {
    const files = documents();
    expect(files).toContain('README.md');
    expect(files).toContain('bench/README.md');
    expect(files).toContain('docs/architecture.md');
  });

  it('resolves every relative link and anchor', () => {
    const problems = documents().flatMap((file) => brokenLinks(root, file));
    expect(problems).toEqual([]);
  });

  it('reports a missing file, a missing anchor and nothing inside code', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'lodestar-links-'));
    try {
      fs.mkdirSync(path.join(base, 'docs'));
      fs.writeFileSync(
        path.join(base, 'docs/a.md'),
        [
          '# A',
          '## Likes phase: `likeListing` with and without idempotency key',
          '[ok](#likes-phase-likelisting-with-and-without-idempotency-key) [ok](../README.md#top-level)',
          '[gone](missing.md) [bad anchor](#nowhere) [web](https://example.com/x.md)',
          '`[in code](nothing.md)`',
          '```',
          '[in a block](nothing.md)',
          '```',
        ].join('\n'),
      );
      fs.writeFileSync(path.join(base, 'README.md'), '# Top level\n[a](docs/a.md#a)\n');
      expect(brokenLinks(base, 'README.md')).toEqual([]);
      expect(brokenLinks(base, 'docs/a.md')).toEqual([
        'docs/a.md:4: missing.md (no such file)',
        'docs/a.md:4: #nowhere (no heading #nowhere in docs/a.md)',
      ]);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
