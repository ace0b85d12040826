import { render, screen } from '@testing-library/react';
import { EngineChip } from '../../src/features/chat/EngineChip';
import { useModels } from '../../src/features/chat/models';
import { useLanguage } from '../../src/i18n';

const models = [
  { id: 'default', root: 'local', ready: true },
  { id: 'big', root: 'vllm-70b', ready: false, state: 'starting', progress: 42 },
  { id: 'busy', root: 'local', ready: true, waiting: 3 },
  { id: 'off', root: 'other', ready: false, state: 'stopped' },
];

beforeEach(() => {
  useLanguage.getState().setLanguage('en');
  useModels.setState({ models, loaded: true, error: null });
});

describe('EngineChip', () => {
  it.each([
    ['default', 'Ready'],
    ['big', 'Loading 42%'],
    ['busy', 'Busy · 3 waiting'],
    ['off', 'Not running'],
    ['missing', 'Unknown model'],
  ])('%s → %s', (model, label) => {
    render(<EngineChip model={model} waiting={null} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent(label);
  });

  it('follows the stream: queue position, then load progress', () => {
    const { rerender } = render(<EngineChip model="default" waiting={{ kind: 'queue', position: 2, estimatedWaitS: 5 }} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent('Busy · 2 waiting');
    rerender(<EngineChip model="default" waiting={{ kind: 'loading', profile: 'local', progress: 0.5, message: '' }} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent('Loading 50%');
  });

  it('speaks Korean', () => {
    useLanguage.getState().setLanguage('ko');
    render(<EngineChip model="default" waiting={null} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent('준비됨');
  });
});
