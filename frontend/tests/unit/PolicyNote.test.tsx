import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useModels, type ModelEntry } from '../../src/features/chat/models';
import { PolicyNote } from '../../src/features/chat/PolicyNote';
import { useLanguage } from '../../src/i18n';

const card = (id: string, systemPrompt: string | null): ModelEntry => ({
  id,
  object: 'model',
  created: 1767225600,
  owned_by: 'gpuchat',
  root: id,
  ready: true,
  defaults: { temperature: 0.7, top_p: null, max_tokens: 768, repetition_penalty: 1.1, repetition_window: null, frequency_penalty: null, presence_penalty: null },
  has_system_prompt: systemPrompt !== null,
  system_prompt: systemPrompt,
});

beforeEach(() => {
  useLanguage.getState().setLanguage('en');
  useModels.setState({ models: [card('ruled', 'Answer in Korean.'), card('plain', null)], loaded: true, error: null });
});

describe('PolicyNote', () => {
  it('says nothing for a model without an admin system prompt', () => {
    render(<PolicyNote model="plain" />);
    expect(screen.queryByTestId('policy-note')).toBeNull();
  });

  it('shows that there is one, and its text when opened', async () => {
    render(<PolicyNote model="ruled" />);
    await userEvent.click(screen.getByText('Admin instructions'));
    expect(screen.getByTestId('policy-note')).toHaveAttribute('open');
    expect(screen.getByText('Answer in Korean.')).toBeVisible();
    expect(screen.getByText(/comes before your own in every chat/)).toBeVisible();
  });

  it('speaks Korean', () => {
    useLanguage.getState().setLanguage('ko');
    render(<PolicyNote model="ruled" />);
    expect(screen.getByText('관리자 지침')).toBeInTheDocument();
  });
});
