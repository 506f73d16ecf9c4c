import type { ModelSummary } from '../../worker/protocol';
import { formatBytes, formatCount } from '../common/format';

export function ModelSummaryView({ summary: m }: { summary: ModelSummary }) {
  return (
    <div className="summary" data-testid="model-summary">
      <p>
        <strong>{m.name}</strong> · {m.spec.architecture} · {formatCount(m.params)} parameters · {formatBytes(m.bytes)}
        {m.randomWeights ? <span className="badge warn">random weights (demo)</span> : null}
        {m.quant !== 'none' ? <span className="badge">stored {m.quant}; trained on the {m.quant} weights as stored</span> : null}
      </p>
      <dl className="facts">
        <dt>Layers</dt>
        <dd>{m.spec.numLayers}</dd>
        <dt>Hidden</dt>
        <dd>{m.spec.hiddenSize}</dd>
        <dt>MLP</dt>
        <dd>{m.spec.intermediateSize}</dd>
        <dt>Heads</dt>
        <dd>
          {m.spec.numHeads} ({m.spec.numKvHeads} KV) × {m.spec.headDim}
        </dd>
        <dt>Vocabulary</dt>
        <dd>{m.spec.vocabSize}</dd>
        <dt>Context</dt>
        <dd>{m.spec.maxPositionEmbeddings}</dd>
        <dt>Chat template</dt>
        <dd>{m.hasChatTemplate ? 'yes' : 'no'}</dd>
      </dl>
      {m.randomWeights ? <p className="muted">The demo model's weights are random: it learns the sample data's patterns, not language.</p> : null}
    </div>
  );
}
