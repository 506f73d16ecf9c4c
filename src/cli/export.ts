// `cli export --format F ...`: one command for every export format; each format parses its own flags
// (src/export/<format>/command.ts) so that a flag one format takes is refused by name by another.
import { UsageError } from './args';

type FormatCommand = () => Promise<{ run: (format: string, args: string[]) => Promise<number> }>;

const formats: Record<string, FormatCommand> = {
  onnx: () => import('../export/onnx/command'),
  gguf: () => import('../export/gguf/command'),
  'gguf-adapter': () => import('../export/gguf/command'),
  recipe: () => import('../export/recipe/command'),
};

/** The value of `--format` (either `--format X` or `--format=X`), or undefined. */
function formatOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--format') return args[i + 1];
    if (args[i].startsWith('--format=')) return args[i].slice('--format='.length);
  }
  return undefined;
}

export async function run(args: string[]): Promise<number> {
  const format = formatOf(args);
  const load = format !== undefined && Object.hasOwn(formats, format) ? formats[format] : undefined;
  if (!load) {
    throw new UsageError(`export: --format must be one of ${Object.keys(formats).join(', ')}${format === undefined ? '' : ` (got ${JSON.stringify(format)})`}`);
  }
  return (await load()).run(format!, args);
}
