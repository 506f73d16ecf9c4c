import type { ModelSummary } from '../../worker/protocol';
import { formatBytes, formatCount } from '../common/format';

export function ModelSummaryView({ summary: m }: { summary: ModelSummary }) {
  return (
    <div className="summary" data-testid="model-summary">
      <p>
        <strong>{m.name}</strong> · {m.architecture} · {formatCount(m.params)} parameters · {formatBytes(m.bytes)}
        {m.randomWeights ? <span className="badge warn">random weights (demo)</span> : null}
        {m.quant !== 'none' ? <span className="badge">stored {m.quant}; trained on the {m.quant} weights as stored</span> : null}
      </p>
      <dl className="facts">
        <dt>Layers</dt>
        <dd>{m.numLayers}</dd>
        <dt>Hidden</dt>
        <dd>{m.hiddenSize}</dd>
        <dt>MLP</dt>
        <dd>{m.intermediateSize}</dd>
        <dt>Heads</dt>
        <dd>
          {m.numHeads} ({m.numKvHeads} KV) × {m.headDim}
        </dd>
        <dt>Vocabulary</dt>
        <dd>{m.vocabSize}</dd>
        <dt>Context</dt>
        <dd>{m.maxPositionEmbeddings}</dd>
        <dt>Chat template</dt>
        <dd>{m.hasChatTemplate ? 'yes' : 'no'}</dd>
      </dl>
      {m.randomWeights ? <p className="muted">The demo model's weights are random: it learns the sample data's patterns, not language.</p> : null}
    </div>
  );
}
