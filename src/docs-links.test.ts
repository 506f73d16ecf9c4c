// The README and docs/ stay whole: every relative link (pages, images, #anchors) resolves, every
// docs page is linked from the README, and the README stays short enough to read in two minutes.
// The screenshots the docs show are written by e2e/demo-journey.spec.ts; a missing one fails here.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as '-', repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative link targets of a page (inline links and images), outside code blocks and code spans. */
function relativeLinks(markdown: string): string[] {
  const text = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  const links: string[] = [];
  for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = m[1];
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
  }
  return links;
}

describe('README.md and docs/', () => {
  it('the link parser finds links and GitHub anchors as GitHub does', () => {
    expect(relativeLinks('see [a](docs/a.md#x-y) and ![i](img.png "t"), [w](https://x.org), `[c](code.md)`')).toEqual(['docs/a.md#x-y', 'img.png']);
    expect([...headingAnchors('# Data and `import` benchmarks\n## Why? (short)\n## Why? (short)\n```\n# not a heading\n```')]).toEqual([
      'data-and-import-benchmarks',
      'why-short',
      'why-short-1',
    ]);
  });

  for (const page of pages) {
    it(`every relative link in ${page} resolves (files, images and #anchors)`, () => {
      const text = readFileSync(join(root, page), 'utf8');
      const broken: string[] = [];
      for (const link of relativeLinks(text)) {
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const file = path === '' ? join(root, page) : resolve(dirname(join(root, page)), decodeURIComponent(path));
        if (!existsSync(file)) {
          broken.push(`${link}: no ${relative(root, file)}`);
          continue;
        }
        if (anchor !== undefined && file.endsWith('.md') && !headingAnchors(readFileSync(file, 'utf8')).has(anchor)) {
          broken.push(`${link}: no heading #${anchor} in ${relative(root, file)}`);
        }
        if (/\.(png|jpe?g|svg|gif|webp)$/i.test(file)) expect(statSync(file).size, `${link} is empty`).toBeGreaterThan(0);
      }
      expect(broken).toEqual([]);
    });
  }

  it('the README links every docs page and stays under 160 lines, with the two commands verbatim', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const linked = new Set(relativeLinks(readme).map((l) => l.split('#')[0]));
    expect(pages.filter((p) => p.startsWith('docs/') && !linked.has(p))).toEqual([]);
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(160);
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });

  it('the README shows the studio: its first image is a screenshot the suite writes', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const first = /!\[[^\]]*\]\(([^)]+)\)/.exec(readme);
    expect(first?.[1]).toMatch(/^docs\/images\/studio-(light|dark)\.png$/);
    const spec = readFileSync(join(root, 'e2e/demo-journey.spec.ts'), 'utf8');
    expect(spec).toContain(first![1].replace(/^docs\/images\//, ''));
  });
});
