// Placeholder until this command lands.
export async function run(_args: string[]): Promise<number> {
  process.stderr.write('prepare: not available yet\n');
  return 2;
}
