// Real chat templates whose tokenizers no npm package ships, as test data: Phi-3, Phi-4-mini and
// Gemma 2. Copied verbatim from the `chat_template` of each model's tokenizer_config.json, as
// quoted (with the Hub URL and date) in guidance-ai/guidance, guidance/chat.py:
//  - microsoft/Phi-3-mini-4k-instruct, tokenizer_config.json#L119 (snapshot of 2024-05-08);
//  - microsoft/Phi-4-mini-instruct, tokenizer_config.json#L104 (snapshot of 2025-06-16);
//  - google/gemma-2-9b-it, tokenizer_config.json#L1747 (the Gemma 2 instruct template).
// The Phi strings also appear in llama.cpp's and mistral.rs's template tests ("checked against
// python transformers"). Both Phi templates end a conversation with `eos_token` (<|endoftext|>)
// unless add_generation_prompt, and neither writes bos_token; Gemma 2's writes it and refuses a
// system message.

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

export const GEMMA2_TEMPLATE =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
  "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
  "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
