// A dataset repository's own data files grouped into configs and splits, as the `datasets` library
// does for a repository without a loading script:
// - the README's YAML `configs:` (config_name, data_files: a pattern, a list, or {split, path} items)
//   when it has them;
// - else one config "default", its splits by the file names: a path holds a split's keyword
//   (train/training; validation/valid/val/dev; test/testing/eval/evaluation) between separators
//   (`-._ `, a digit, `/`, or the path's start/end), e.g. train.jsonl, data/train-00000-of-00001.parquet,
//   test/part1.csv; with no keyword anywhere, every data file is "train".
// Only one format is used: the one most files have (as `datasets` infers one builder per config).
// Pure: no network, no Node APIs.

/** The data file types the pipeline reads from the Hub. */
export const DATA_EXTENSIONS = ['parquet', 'jsonl', 'json', 'csv'] as const;

export interface DataConfig<F> {
  name: string;
  splits: { name: string; files: F[] }[];
}

const SPLIT_KEYWORDS: [string, string[]][] = [
  ['train', ['train', 'training']],
  ['validation', ['validation', 'valid', 'val', 'dev']],
  ['test', ['test', 'testing', 'eval', 'evaluation']],
];
const SEP = '[-._ 0-9/]';

const extensionOf = (path: string): string | null => {
  const m = /\.([a-z0-9]+)$/i.exec(path);
  return m ? m[1].toLowerCase() : null;
};

/** Not data: hidden files and folders, and metadata JSON next to the data. */
const isMetadata = (path: string): boolean =>
  path.split('/').some((p) => p.startsWith('.') || p.startsWith('_')) || /(^|\/)(dataset_infos?|dataset_dict|state)\.json$/i.test(path);

/** The split whose keyword the path holds, or null. */
export function splitOfPath(path: string): string | null {
  const p = path.toLowerCase();
  for (const [split, words] of SPLIT_KEYWORDS) {
    for (const w of words) if (new RegExp(`(^|${SEP})${w}(${SEP}|$)`).test(p)) return split;
  }
  return null;
}

/** A `datasets` data_files pattern (`*`, `**`, `?`) as a regular expression over repository paths. */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of folders, `**` anything.
      if (pattern[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i++;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function dataFilesOnly<F extends { path: string }>(files: readonly F[]): F[] {
  const data = files.filter((f) => !isMetadata(f.path) && (DATA_EXTENSIONS as readonly string[]).includes(extensionOf(f.path) ?? ''));
  const counts = new Map<string, number>();
  for (const f of data) counts.set(extensionOf(f.path)!, (counts.get(extensionOf(f.path)!) ?? 0) + 1);
  let best: string | null = null;
  for (const ext of DATA_EXTENSIONS) if ((counts.get(ext) ?? 0) > (best === null ? 0 : counts.get(best)!)) best = ext;
  return data.filter((f) => extensionOf(f.path) === best).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const patterns = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The README's `configs:` (card data) applied to the files, or null when it names none usable. */
function cardConfigs<F extends { path: string }>(files: readonly F[], configs: unknown): DataConfig<F>[] | null {
  if (!Array.isArray(configs)) return null;
  const out: DataConfig<F>[] = [];
  for (const c of configs) {
    if (typeof c !== 'object' || c === null) continue;
    const { config_name: name, data_files: df } = c as { config_name?: unknown; data_files?: unknown };
    if (typeof name !== 'string') continue;
    const entries: { split: string; paths: string[] }[] = Array.isArray(df) && df.some((x) => typeof x === 'object' && x !== null)
      ? df.flatMap((x) => (typeof x === 'object' && x !== null && typeof (x as { split?: unknown }).split === 'string' ? [{ split: (x as { split: string }).split, paths: patterns((x as { path?: unknown }).path) }] : []))
      : [{ split: 'train', paths: patterns(df) }];
    const splits = entries
      .map(({ split, paths }) => {
        const res = paths.map(globToRegExp);
        return { name: split, files: dataFilesOnly(files.filter((f) => res.some((r) => r.test(f.path)))) };
      })
      .filter((s) => s.files.length > 0);
    if (splits.length) out.push({ name, splits });
  }
  return out.length ? out : null;
}

/** Configs and splits of a repository's files; empty when it has no data file. */
export function groupDataFiles<F extends { path: string }>(files: readonly F[], cardConfigsValue?: unknown): DataConfig<F>[] {
  const fromCard = cardConfigs(files, cardConfigsValue);
  if (fromCard) return fromCard;
  const data = dataFilesOnly(files);
  if (!data.length) return [];
  const bySplit = new Map<string, F[]>();
  for (const f of data) {
    const s = splitOfPath(f.path);
    if (s !== null) bySplit.set(s, [...(bySplit.get(s) ?? []), f]);
  }
  if (bySplit.size === 0) return [{ name: 'default', splits: [{ name: 'train', files: data }] }];
  return [{ name: 'default', splits: SPLIT_KEYWORDS.filter(([s]) => bySplit.has(s)).map(([s]) => ({ name: s, files: bySplit.get(s)! })) }];
}
