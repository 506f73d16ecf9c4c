// `npm run lint:layers`: the layer rules of .dependency-cruiser.cjs (docs/architecture.md) over
// src/, e2e/ and scripts/.
//
// Why the copy: dependency-cruiser parses TypeScript through the `typescript` package's JS API,
// which TypeScript 7 (this project's compiler, a native binary) no longer has. So the sources are
// first stripped to JavaScript with oxc (rolldown's transform, the one Vite uses), into a cache
// folder that mirrors the tree, and dependency-cruiser checks those files. Two graphs are checked:
//   runtime  what runs (type-only imports removed, as Vite does): every rule;
//   types    `import type` kept as an import: the layer rules only (a type-only import of an
//            upper layer still couples a lower one to it; a type-only cycle is harmless).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'rolldown/experimental';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, 'node_modules/.cache/lint-layers');
const ROOTS = ['src', 'e2e', 'scripts'];

function* sources(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** Relative specifiers written with `.ts`/`.tsx` point at the copies' `.js`/`.jsx`. */
const retarget = (code) => code.replace(/((?:from|import)\s*["']\.{1,2}\/[^"']*?)\.(ts|tsx)(["'])/g, (_, a, ext, q) => `${a}.${ext === 'ts' ? 'js' : 'jsx'}${q}`);

/** `import type …` / `export type … from` as plain imports, so the graph keeps them as edges. */
const keepTypeImports = (code) => code.replace(/^(\s*)import\s+type\s+(?=[{*\w])/gm, '$1import ').replace(/^(\s*)export\s+type\s+(?=[{*])/gm, '$1export ');

function strip(pass) {
  const out = join(cache, pass);
  rmSync(out, { recursive: true, force: true });
  let failed = 0;
  for (const top of ROOTS) {
    for (const file of sources(join(root, top))) {
      const rel = relative(root, file);
      const text = readFileSync(file, 'utf8');
      const lang = file.endsWith('.tsx') ? 'tsx' : 'ts';
      const r = transformSync(file, pass === 'types' ? keepTypeImports(text) : text, {
        lang,
        jsx: { runtime: 'automatic' },
        typescript: { onlyRemoveTypeImports: pass === 'types' },
      });
      if (r.errors.length) {
        failed++;
        process.stderr.write(`lint-layers: ${rel}: ${r.errors.map((e) => e.message).join('; ')}\n`);
        continue;
      }
      const dest = join(out, rel.replace(/\.ts$/, '.js').replace(/\.tsx$/, '.jsx'));
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSync(dest, retarget(r.code));
    }
  }
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
  if (failed) process.exit(2);
  return out;
}

let status = 0;
for (const pass of ['runtime', 'types']) {
  const dir = strip(pass);
  try {
    const report = execFileSync(
      process.execPath,
      [join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), '--config', join(root, '.dependency-cruiser.cjs'), '--output-type', 'err', ...ROOTS],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, LINT_LAYERS_PASS: pass } },
    );
    process.stdout.write(`lint-layers (${pass} imports): ${report.trim().split('\n').pop()}\n`);
  } catch (e) {
    status = 1;
    process.stdout.write(`lint-layers (${pass} imports):\n${(e.stdout ?? '').replace(/\.jsx?(?=[\s:→]|$)/gm, (m) => (m === '.jsx' ? '.tsx' : '.ts'))}${e.stderr ?? ''}\n`);
  }
}
process.exit(status);
