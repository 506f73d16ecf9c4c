// The real chat templates of Phi-3 and Phi-4-mini, as test data (no npm package ships their
// tokenizers). Copied verbatim from the `chat_template` of each model's tokenizer_config.json, as
// quoted (with the Hub URL and date) in guidance-ai/guidance, guidance/chat.py:
//  - microsoft/Phi-3-mini-4k-instruct, tokenizer_config.json#L119 (snapshot of 2024-05-08);
//  - microsoft/Phi-4-mini-instruct, tokenizer_config.json#L104 (snapshot of 2025-06-16).
// The same strings appear in llama.cpp's and mistral.rs's template tests ("checked against python
// transformers"). Both end a conversation with `eos_token` (<|endoftext|>) unless
// add_generation_prompt; neither writes bos_token.

export const PHI3_MINI_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}" +
  "{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}" +
  "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";

export const PHI4_MINI_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and message['tools'] is not none %}" +
  "{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' + '<|end|>' }}" +
  "{% else %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}";
