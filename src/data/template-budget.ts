// Chat templates are code from strangers (a Hub repo's tokenizer_config.json or chat_template.jinja):
// `{% for i in range(10**9) %}`, nested loops or a string doubled in a loop would hang the worker or
// the CLI. @huggingface/jinja has no budget of its own, so templates run here on its Interpreter
// with three limits, each refused with TemplateBudgetError (the whole dataset, not one record,
// since every record renders with the same template):
//  - a step budget: every node the interpreter evaluates and every block it runs (each loop
//    iteration) counts one step, and range(n) counts n before it allocates anything;
//  - a size cap on every string and list any step produces (so doubling cannot run away);
//  - integers beyond ±2^24 are refused where they appear (so `10**9` never reaches a filter such as
//    indent() or center() that would allocate that much in one step).
// The globals are the library's (setupGlobals is not exported), with range() bounded.

import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { DatasetError } from './errors';

/** Evaluation steps per render: Qwen3's template spends ~55 per message (5,418 for 100), so this allows well over a thousand turns. */
export const MAX_TEMPLATE_STEPS = 100_000;
/** Largest string (UTF-16 units) or list any step may produce. */
export const MAX_TEMPLATE_VALUE = 8 << 20;
/** Largest magnitude of an integer a template may compute. */
export const MAX_TEMPLATE_INT = 2 ** 24;
/** Longest template source accepted (real ones are a few KB). */
export const MAX_TEMPLATE_SOURCE = 1 << 20;

export class TemplateBudgetError extends DatasetError {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateBudgetError';
  }
}

type Parsed = Template['parsed'];
type Statement = Parameters<Interpreter['evaluate']>[0];
type Value = ReturnType<Interpreter['evaluate']>;
/** The part of a filter's AST node the indent check reads. */
interface FilterNode {
  type: string;
  callee?: { value?: unknown };
  args?: unknown[];
}

class BudgetedInterpreter extends Interpreter {
  steps = 0;
  constructor(
    env: Environment,
    readonly what: string,
  ) {
    super(env);
    // Every block run counts too (the private evaluateBlock, wrapped on the instance): a loop with
    // an empty body evaluates no node, yet each iteration runs its body block.
    const self = this as unknown as { evaluateBlock: (statements: unknown, env: Environment) => Value };
    const block = self.evaluateBlock.bind(this);
    self.evaluateBlock = (statements, scope) => {
      this.charge(1);
      return block(statements, scope);
    };
    // indent(width) builds lines × width characters in one step, before evaluate() sees the result:
    // its size is checked first (the private applyFilter, wrapped the same way).
    const filters = this as unknown as {
      applyFilter: (operand: Value, node: FilterNode, env: Environment) => Value;
      evaluateArguments: (args: unknown[], env: Environment) => [Value[], Map<string, Value>];
    };
    const apply = filters.applyFilter.bind(this);
    filters.applyFilter = (operand, node, scope) => {
      const text = operand.value as unknown;
      if (node.type === 'CallExpression' && node.callee?.value === 'indent' && typeof text === 'string') {
        const [args, kwargs] = filters.evaluateArguments(node.args ?? [], scope);
        const width = Number((args[0] ?? kwargs.get('width'))?.value ?? 4);
        let lines = 1;
        for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
        const size = text.length + lines * Math.max(0, width);
        if (size > MAX_TEMPLATE_VALUE) throw new TemplateBudgetError(`${this.what} indents ${lines} lines by ${width}, a string of ${size} characters, more than the ${MAX_TEMPLATE_VALUE} allowed`);
      }
      return apply(operand, node, scope);
    };
  }

  charge(n: number): void {
    this.steps += n;
    if (this.steps > MAX_TEMPLATE_STEPS) {
      throw new TemplateBudgetError(`${this.what} needs more than ${MAX_TEMPLATE_STEPS} steps to render one conversation (a loop that does not end?)`);
    }
  }

  override evaluate(statement: Statement, environment: Environment): Value {
    this.charge(1);
    const v = super.evaluate(statement, environment);
    const raw = v.value as unknown;
    if (typeof raw === 'string' || Array.isArray(raw)) {
      if (raw.length > MAX_TEMPLATE_VALUE) {
        throw new TemplateBudgetError(`${this.what} builds a ${typeof raw === 'string' ? 'string' : 'list'} of ${raw.length} items, more than the ${MAX_TEMPLATE_VALUE} allowed`);
      }
    } else if (typeof raw === 'number' && Number.isInteger(raw) && Math.abs(raw) > MAX_TEMPLATE_INT) {
      throw new TemplateBudgetError(`${this.what} computes the integer ${raw}, beyond the ±${MAX_TEMPLATE_INT} allowed`);
    }
    return v;
  }
}

/** A compiled template rendered with a step budget. `what` names it in refusals. */
export class BudgetedTemplate {
  private readonly parsed: Parsed;
  constructor(
    source: string,
    private readonly what = 'the chat template',
  ) {
    if (source.length > MAX_TEMPLATE_SOURCE) throw new TemplateBudgetError(`${what} has ${source.length} characters, more than the ${MAX_TEMPLATE_SOURCE} allowed`);
    try {
      this.parsed = new Template(source).parsed;
    } catch (e) {
      // The library's parser throws SyntaxError/TypeError for malformed templates.
      throw new DatasetError(`${what} cannot be compiled (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  render(items: Record<string, unknown>): string {
    const env = new Environment();
    const interp = new BudgetedInterpreter(env, this.what);
    const globals: Record<string, unknown> = {
      false: false,
      true: true,
      none: null,
      False: false,
      True: true,
      None: null,
      raise_exception: (msg: unknown) => {
        throw new Error(String(msg));
      },
      range: (start: number, stop?: number, step = 1) => boundedRange(interp, start, stop, step),
      strftime_now: strftimeNow,
    };
    for (const [k, v] of Object.entries(globals)) env.set(k, v);
    for (const [k, v] of Object.entries(items)) env.set(k, v);
    return interp.run(this.parsed).value as string;
  }
}

/** Python's range(), charging its length to the budget before building it. */
function boundedRange(interp: BudgetedInterpreter, start: number, stop: number | undefined, step: number): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  for (const v of [start, stop, step]) if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error('range() takes integers');
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  interp.charge(n);
  if (n > MAX_TEMPLATE_VALUE) throw new TemplateBudgetError(`range() of ${n} items is more than the ${MAX_TEMPLATE_VALUE} allowed`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  return out;
}

/** The library's strftime_now (not exported): %Y %m %d %b %B %H %M %% of the local time. */
function strftimeNow(format: unknown): string {
  const d = new Date();
  const pad2 = (n: number): string => String(n).padStart(2, '0');
  return String(format).replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad2(d.getMonth() + 1);
      case '%d':
        return pad2(d.getDate());
      case '%b':
        return new Intl.DateTimeFormat(undefined, { month: 'short' }).format(d);
      case '%B':
        return new Intl.DateTimeFormat(undefined, { month: 'long' }).format(d);
      case '%H':
        return pad2(d.getHours());
      case '%M':
        return pad2(d.getMinutes());
      default:
        return '%';
    }
  });
}
