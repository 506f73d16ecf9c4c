// The Ollama Modelfile and the README that go beside the GGUF files.
//
// TEMPLATE: Ollama's templates are Go templates, not Jinja. The two chat formats the studio's models
// use are translated: ChatML (<|im_start|>role ... <|im_end|>, Qwen, SmolLM, the demo model) and
// Llama 3 (<|start_header_id|>role<|end_header_id|> ... <|eot_id|>). Any other template gets no
// TEMPLATE line: Ollama then uses the template it derives from the GGUF's tokenizer.chat_template
// when it recognizes it, and the README says to add one otherwise.

export interface ModelfileInput {
  /** The model GGUF the Modelfile starts FROM (a file in the same folder). */
  from: string;
  /** The adapter GGUF, for an adapter export. */
  adapter?: string;
  chatTemplate: string | null;
  stops: readonly string[];
}

const CHATML = `{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
`;

const LLAMA3 = `{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>

`;

/** The Go template equivalent to a chat template, or null when it is not one of the known formats. */
export function ollamaTemplate(chatTemplate: string | null): string | null {
  if (chatTemplate === null) return null;
  if (chatTemplate.includes('<|im_start|>') && chatTemplate.includes('<|im_end|>')) return CHATML;
  if (chatTemplate.includes('<|start_header_id|>') && chatTemplate.includes('<|eot_id|>')) {
    return chatTemplate.includes('<|begin_of_text|>') ? `<|begin_of_text|>${LLAMA3}` : LLAMA3;
  }
  return null;
}

const quote = (s: string): string => JSON.stringify(s);

export function modelfile(m: ModelfileInput): string {
  const lines = [`FROM ./${m.from}`];
  if (m.adapter) lines.push(`ADAPTER ./${m.adapter}`);
  const t = ollamaTemplate(m.chatTemplate);
  if (t !== null) lines.push(`TEMPLATE """${t}"""`);
  else lines.push('# No TEMPLATE: this chat template is not ChatML or Llama 3; Ollama uses the GGUF\'s own if it knows it.');
  for (const s of m.stops) lines.push(`PARAMETER stop ${quote(s)}`);
  return lines.join('\n') + '\n';
}

export function readme(m: { model: string; adapter?: string; merged: boolean; type: string }): string {
  const name = 'my-lora';
  const lora = m.adapter ? ` --lora ${m.adapter}` : '';
  const what = m.adapter
    ? `\`${m.adapter}\` is the LoRA adapter; it applies on top of \`${m.model}\`, the base model as GGUF ` +
      `(make it with \`npm run --silent cli -- export --format gguf --model BASE_DIR --type ${m.type} --out base\` ` +
      'if it is not here; the adapter must be applied to the same base it was trained on).'
    : m.merged
      ? `\`${m.model}\` is the base model with the LoRA merged in (${m.type}).`
      : `\`${m.model}\` is the base model (${m.type}), without an adapter.`;
  return `# GGUF export (LoRA Studio)

${what}

## Ollama

\`\`\`sh
ollama create ${name} -f Modelfile
ollama run ${name}
\`\`\`

## LM Studio

\`\`\`sh
lms import ${m.model}
\`\`\`
(or drag the .gguf file into LM Studio's "My Models").${m.adapter ? ' LM Studio does not apply separate LoRA files: use the merged export (`--format gguf --adapter ...`) there.' : ''}

## llama.cpp

\`\`\`sh
llama-cli -m ${m.model}${lora} -cnv
llama-server -m ${m.model}${lora}
\`\`\`
`;
}
