import { render, screen } from '@testing-library/react';
import { ChatSettingsPanel } from '../../src/features/chat/ChatSettingsPanel';
import { useModels, type ModelEntry } from '../../src/features/chat/models';
import { useChatStore } from '../../src/features/chat/store';
import { useLanguage } from '../../src/i18n';

const local: ModelEntry = {
  id: 'default',
  object: 'model',
  created: 1767225600,
  owned_by: 'gpuchat',
  root: 'local',
  ready: true,
  defaults: { temperature: 0.7, top_p: null, max_tokens: 512, repetition_penalty: 1.1, repetition_window: 256, frequency_penalty: null, presence_penalty: null },
  has_system_prompt: true,
  system_prompt: 'Be brief.',
};

beforeEach(() => {
  useLanguage.getState().setLanguage('en');
  useModels.setState({ models: [local], loaded: true, error: null });
  useChatStore.setState({
    conversationId: null,
    options: { model: 'default', systemPrompt: '', temperature: null, topP: null, maxTokens: null },
  });
});

describe('ChatSettingsPanel', () => {
  it("shows the model's defaults where the user left a field empty", () => {
    render(<ChatSettingsPanel onClose={vi.fn()} />);
    expect(screen.getByLabelText('Temperature')).toHaveAttribute('placeholder', 'Model default: 0.7');
    expect(screen.getByLabelText('Top P')).toHaveAttribute('placeholder', 'Default');
    expect(screen.getByLabelText('Max tokens')).toHaveAttribute('placeholder', 'Model default: 512');
  });
});
