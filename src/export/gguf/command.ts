// Placeholder until the ONNX exporter lands: refuses by name rather than pretending.
export async function run(format: string, _args: string[]): Promise<number> {
  process.stderr.write(`export: --format ${format} is not built yet\n`);
  return 2;
}
