import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MessageList } from '../../src/features/chat/MessageList';
import type { ChatMessage } from '../../src/features/chat/store';
import { useLanguage } from '../../src/i18n';

function answer(extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    key: 'a',
    id: 2,
    role: 'assistant',
    content: '',
    reasoning: null,
    reasoning_ms: null,
    status: 'complete',
    model: null,
    token_in: null,
    token_out: null,
    ttft_ms: null,
    latency_ms: null,
    tokens_per_s: null,
    error: null,
    ...extra,
  };
}

const noop = () => undefined;
const list = (message: ChatMessage, busy = false) => (
  <MessageList messages={[message]} busy={busy} conversationKey={1} onRegenerate={noop} onEdit={noop} />
);
const thoughtsButton = (name: RegExp | string) => screen.getByRole('button', { name });

beforeEach(() => useLanguage.getState().setLanguage('en'));

describe('ReasoningSection', () => {
  it('is open while the model thinks and closes when the answer begins', async () => {
    const thinking = answer({ id: null, status: 'streaming', reasoning: 'r0 r1' });
    const { rerender } = render(list(thinking, true));
    expect(thoughtsButton('Thinking…')).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByRole('region', { name: 'Thinking…' })).toHaveTextContent('r0 r1');

    rerender(list({ ...thinking, reasoning: 'r0 r1 r2', content: 't0', reasoning_ms: 3240 }, true));
    const header = thoughtsButton('Thought for 3.2 s');
    expect(header).toHaveAttribute('aria-expanded', 'false');
    expect(screen.queryByRole('region')).toBeNull();
    expect(screen.getByText('t0')).toBeInTheDocument();

    await userEvent.click(header);
    expect(screen.getByRole('region', { name: 'Thought for 3.2 s' })).toHaveTextContent('r0 r1 r2');
    await userEvent.click(header);
    expect(screen.queryByRole('region')).toBeNull();
  });

  it('keeps the reader’s choice when the answer begins', async () => {
    const thinking = answer({ id: null, status: 'streaming', reasoning: 'r0' });
    const { rerender } = render(list(thinking, true));
    await userEvent.click(thoughtsButton('Thinking…'));
    expect(screen.queryByRole('region')).toBeNull();
    rerender(list({ ...thinking, content: 't0' }, true));
    await userEvent.click(thoughtsButton('Thoughts'));
    expect(screen.getByRole('region')).toHaveTextContent('r0');
    rerender(list({ ...thinking, content: 't0 t1', status: 'complete', reasoning_ms: 500 }));
    expect(screen.getByRole('region', { name: 'Thought for 0.5 s' })).toHaveTextContent('r0');
  });

  it('shows a stored answer’s thinking collapsed, in Korean too, and copy takes the answer only', async () => {
    useLanguage.getState().setLanguage('ko');
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    render(list(answer({ content: 'The answer.', reasoning: 'Secret *musing*.', reasoning_ms: 12000 })));
    const header = thoughtsButton('12초 동안 생각함');
    expect(header).toHaveAttribute('aria-expanded', 'false');
    expect(screen.queryByText(/musing/)).toBeNull();
    await userEvent.click(header);
    const region = screen.getByRole('region', { name: '12초 동안 생각함' });
    expect(within(region).getByText('musing').tagName).toBe('EM');

    await userEvent.click(screen.getByRole('button', { name: '메시지 복사' }));
    expect(writeText).toHaveBeenCalledWith('The answer.');
  });

  it('adds nothing to an answer without thinking', () => {
    render(list(answer({ content: 'Plain answer.' })));
    expect(screen.queryByRole('button', { name: /Thought|Thinking/ })).toBeNull();
    expect(document.querySelector('.reasoning')).toBeNull();
  });
});
