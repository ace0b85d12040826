import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MessageList, WINDOW } from '../../src/features/chat/MessageList';
import type { ChatMessage } from '../../src/features/chat/store';
import { useLanguage } from '../../src/i18n';

function message(id: number, role: ChatMessage['role'], content: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    key: `k${id}`,
    id,
    role,
    content,
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
beforeEach(() => useLanguage.getState().setLanguage('en'));

describe('MessageList', () => {
  it('shows token counts and speed under an answer', () => {
    const messages = [
      message(1, 'user', 'Hi'),
      message(2, 'assistant', 'Hello', { model: 'default', token_in: 12, token_out: 345, tokens_per_s: 41.25, ttft_ms: 180 }),
    ];
    render(<MessageList messages={messages} busy={false} conversationKey={1} onRegenerate={noop} onEdit={noop} />);
    expect(screen.getByText('default · 12 in · 345 out · 41.3 tok/s · first token 180 ms')).toBeInTheDocument();
  });

  it('offers regenerate on the last answer only, and not while streaming', async () => {
    const onRegenerate = vi.fn();
    const messages = [message(1, 'user', 'a'), message(2, 'assistant', 'b'), message(3, 'user', 'c'), message(4, 'assistant', 'd')];
    const { rerender } = render(<MessageList messages={messages} busy={false} conversationKey={1} onRegenerate={onRegenerate} onEdit={noop} />);
    const buttons = screen.getAllByRole('button', { name: 'Regenerate' });
    expect(buttons).toHaveLength(1);
    await userEvent.click(buttons[0]!);
    expect(onRegenerate).toHaveBeenCalledOnce();
    rerender(<MessageList messages={messages} busy conversationKey={1} onRegenerate={onRegenerate} onEdit={noop} />);
    expect(screen.queryByRole('button', { name: 'Regenerate' })).toBeNull();
  });

  it('edits a question and resends it', async () => {
    const onEdit = vi.fn();
    render(<MessageList messages={[message(7, 'user', 'old'), message(8, 'assistant', 'x')]} busy={false} conversationKey={1} onRegenerate={noop} onEdit={onEdit} />);
    await userEvent.click(screen.getByRole('button', { name: 'Edit message' }));
    const box = screen.getByRole('textbox', { name: 'Edit message' });
    await userEvent.clear(box);
    await userEvent.type(box, 'new');
    await userEvent.click(screen.getByRole('button', { name: 'Send' }));
    expect(onEdit).toHaveBeenCalledWith(7, 'new');
  });

  it('marks a stopped answer and shows an error with retry', async () => {
    const onRegenerate = vi.fn();
    const { ApiError } = await import('../../src/api/errors');
    const error = new ApiError({ message: 'upstream broke', type: 'server_error', code: null, param: null });
    render(
      <MessageList
        messages={[message(1, 'user', 'q'), message(2, 'assistant', 'partial', { status: 'interrupted' }), message(3, 'user', 'q2'), message(4, 'assistant', '', { status: 'error', error })]}
        busy={false}
        conversationKey={1}
        onRegenerate={onRegenerate}
        onEdit={noop}
      />,
    );
    expect(screen.getByText('Stopped — this answer is incomplete.')).toBeInTheDocument();
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent('The server could not complete the request. (upstream broke)');
    await userEvent.click(within(alert).getByRole('button', { name: 'Retry' }));
    expect(onRegenerate).toHaveBeenCalledOnce();
  });

  it('renders only the latest window of a long conversation, and more on request', async () => {
    const messages = Array.from({ length: WINDOW * 2 + 10 }, (_, i) => message(i + 1, i % 2 ? 'assistant' : 'user', `m${i + 1}`));
    const { container } = render(<MessageList messages={messages} busy={false} conversationKey={1} onRegenerate={noop} onEdit={noop} />);
    expect(container.querySelectorAll('li[data-role]')).toHaveLength(WINDOW);
    await userEvent.click(screen.getByRole('button', { name: `Show earlier messages (${WINDOW + 10})` }));
    expect(container.querySelectorAll('li[data-role]')).toHaveLength(WINDOW * 2);
    expect(screen.queryByText('m1')).toBeNull();
  });
});
