# Expected renders + generation spans computed by Python jinja2 the way transformers does
# (trim_blocks, lstrip_blocks, a {% generation %} extension recording output offsets).
import json
import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

class AssistantTracker(Extension):
    tags = {"generation"}
    def __init__(self, environment):
        super().__init__(environment)
        self.blocks = None
        self.indices = None
    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_gen"), [], [], body).set_lineno(lineno)
    @jinja2.pass_eval_context
    def _gen(self, context, caller):
        rv = caller()
        start = len("".join(self.blocks))
        self.indices.append((start, start + len(rv)))
        return rv

def raise_exception(m):
    raise jinja2.exceptions.TemplateError(m)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
env.globals["raise_exception"] = raise_exception
tracker = next(e for e in env.extensions.values() if isinstance(e, AssistantTracker))

def u16(s, i):
    return len(s[:i].encode("utf-16-le")) // 2

templates = [
    # whitespace control around the tags, indented blocks
    """{%- for m in messages %}
    {%- if m.role == 'assistant' %}
        {{- '<|im_start|>assistant\\n' }}
        {%- generation %}
{{ m.content }}{{ eos_token }}
        {%- endgeneration %}

    {%- else %}
{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>' }}
    {% endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
""",
    # tags on their own lines without '-', generation wrapping the trailing newline
    """{% for m in messages %}
{% if m.role == 'assistant' %}
<assistant>
{% generation %}
{{ m.content | trim }}</s>
{% endgeneration %}
{% else %}
<{{ m.role }}>{{ m.content }}
{% endif %}
{% endfor %}""",
    # Llama-3 like with bos_token and -%} right strip
    """{{- bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}{% if message['role'] == 'assistant' %}{% generation -%}
   {{ message['content'] | trim + '<|eot_id|>' }}
{%- endgeneration %}{% else %}{{ message['content'] | trim + '<|eot_id|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}""",
]
convs = [
    [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "  Hello! 😀 "}],
    [{"role": "system", "content": "sys"}, {"role": "user", "content": "a\nb"}, {"role": "assistant", "content": "c"},
     {"role": "user", "content": "d"}, {"role": "assistant", "content": "e\n"}],
]
out = []
for t in templates:
    compiled = env.from_string(t)
    for c in convs:
        for gp in [False, True]:
            msgs = c if not gp else c[:-1]
            tracker.blocks = []
            tracker.indices = []
            for block in compiled.generate(messages=msgs, add_generation_prompt=gp, bos_token="<s>", eos_token="</s>"):
                tracker.blocks.append(block)
            text = "".join(tracker.blocks)
            out.append({"template": t, "messages": msgs, "add_generation_prompt": gp, "text": text,
                        "spans": [[u16(text, a), u16(text, b)] for a, b in tracker.indices]})
json.dump(out, open("__file__.replace(".py", ".json")", "w"), indent=1, ensure_ascii=False)
print(len(out))
for o in out[:4]: print(repr(o["text"]), o["spans"])
