import { act, render, screen } from '@testing-library/react';
import { EngineChip } from '../../src/features/chat/EngineChip';
import { useModels, type ModelEntry } from '../../src/features/chat/models';
import { useLanguage } from '../../src/i18n';

// What GET /v1/models answers: aliases, each naming its profile (`root`) and whether its
// engine is ready.
const card = (id: string, root: string, ready: boolean): ModelEntry => ({
  id,
  object: 'model',
  created: 1767225600,
  owned_by: 'gpuchat',
  root,
  ready,
  defaults: {},
  has_system_prompt: false,
  system_prompt: null,
});
const models = [card('default', 'local', true), card('local', 'local', true), card('big', 'vllm-70b', false)];

beforeEach(() => {
  useLanguage.getState().setLanguage('en');
  useModels.setState({ models, loaded: true, error: null });
});

describe('EngineChip', () => {
  it.each([
    ['default', 'Ready'],
    ['big', 'Not running'],
    ['missing', 'Unknown model'],
  ])('%s → %s', (model, label) => {
    render(<EngineChip model={model} waiting={null} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent(label);
  });

  it('follows its own request: queue position, then load progress, then the engine ready', () => {
    const { rerender } = render(<EngineChip model="big" waiting={{ kind: 'queue', position: 2, estimatedWaitS: 5 }} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent('Busy · 2 waiting');
    rerender(<EngineChip model="big" waiting={{ kind: 'loading', profile: 'vllm-70b', progress: 0.5, message: '', code: null }} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent('Loading 50%');
    act(() => useModels.setState({ models: [card('big', 'vllm-70b', true)] }));
    rerender(<EngineChip model="big" waiting={null} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent('Ready');
  });

  it('names the profile behind an alias', () => {
    render(<EngineChip model="default" waiting={null} />);
    expect(screen.getByTitle('default → local')).toBeInTheDocument();
  });

  it('speaks Korean', () => {
    useLanguage.getState().setLanguage('ko');
    render(<EngineChip model="default" waiting={null} />);
    expect(screen.getByTestId('engine-chip')).toHaveTextContent('준비됨');
  });
});
