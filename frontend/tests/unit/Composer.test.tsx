import { fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Composer } from '../../src/features/chat/Composer';
import { useLanguage } from '../../src/i18n';

beforeEach(() => useLanguage.getState().setLanguage('en'));

describe('Composer', () => {
  it('Enter sends and clears; Shift+Enter adds a line', async () => {
    const onSend = vi.fn();
    render(<Composer busy={false} onSend={onSend} onStop={vi.fn()} />);
    const box = screen.getByRole('textbox', { name: 'Message' });
    await userEvent.type(box, 'line one{Shift>}{Enter}{/Shift}line two');
    expect(onSend).not.toHaveBeenCalled();
    await userEvent.type(box, '{Enter}');
    expect(onSend).toHaveBeenCalledWith('line one\nline two');
    expect(box).toHaveValue('');
  });

  it('does not send while an IME is composing Hangul', () => {
    const onSend = vi.fn();
    render(<Composer busy={false} onSend={onSend} onStop={vi.fn()} />);
    const box = screen.getByRole('textbox', { name: 'Message' });
    fireEvent.change(box, { target: { value: '안녕' } });
    fireEvent.keyDown(box, { key: 'Enter', isComposing: true });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onSend).toHaveBeenCalledWith('안녕');
  });

  it('does not send blank text', async () => {
    const onSend = vi.fn();
    render(<Composer busy={false} onSend={onSend} onStop={vi.fn()} />);
    await userEvent.type(screen.getByRole('textbox', { name: 'Message' }), '   {Enter}');
    expect(onSend).not.toHaveBeenCalled();
    expect(screen.getByRole('button', { name: 'Send' })).toBeDisabled();
  });

  it('while an answer streams: a stop button, Esc stops, Enter does not send', async () => {
    const onSend = vi.fn();
    const onStop = vi.fn();
    render(<Composer busy onSend={onSend} onStop={onStop} />);
    await userEvent.type(screen.getByRole('textbox', { name: 'Message' }), 'next{Enter}');
    expect(onSend).not.toHaveBeenCalled();
    await userEvent.keyboard('{Escape}');
    expect(onStop).toHaveBeenCalledTimes(1);
    await userEvent.click(screen.getByRole('button', { name: 'Stop' }));
    expect(onStop).toHaveBeenCalledTimes(2);
  });
});
