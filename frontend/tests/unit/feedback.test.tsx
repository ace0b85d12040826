import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { nextRating } from '../../src/features/feedback/api';
import { AnswerFeedback } from '../../src/features/feedback/AnswerFeedback';
import { FeedbackPanel } from '../../src/features/feedback/FeedbackPanel';
import { useLanguage } from '../../src/i18n';
import { envelope, jsonResponse } from './helpers';

const stored = (rating: 'up' | 'down', comment = '') => ({ rating, comment, created: '2026-01-02T03:04:05Z', updated: '2026-01-02T03:04:05Z' });

/** fetch answering like the gateway: a PUT echoes the body, a DELETE is 204. */
function gateway() {
  return vi.spyOn(globalThis, 'fetch').mockImplementation(async (_url, init) => {
    if (init?.method === 'DELETE') return new Response(null, { status: 204 });
    const body = JSON.parse(String(init?.body)) as { rating: 'up' | 'down'; comment: string };
    return jsonResponse(stored(body.rating, body.comment), 201);
  });
}

const sent = (fetch: ReturnType<typeof gateway>) =>
  fetch.mock.calls.map(([url, init]) => [init?.method, url, init?.body ? JSON.parse(String(init.body)) : null]);

beforeEach(() => useLanguage.getState().setLanguage('en'));
afterEach(() => vi.restoreAllMocks());

describe('nextRating', () => {
  it('sets a thumb, switches to the other, and takes the pressed one back', () => {
    expect(nextRating(null, 'up')).toBe('up');
    expect(nextRating('up', 'down')).toBe('down');
    expect(nextRating('down', 'down')).toBeNull();
  });
});

describe('AnswerFeedback', () => {
  it('saves a thumbs down at once, then the comment typed in the box that opens', async () => {
    const fetch = gateway();
    render(<AnswerFeedback conversationId={3} messageId={9} initial={null} />);
    const down = screen.getByRole('button', { name: 'Bad answer' });
    expect(down).toHaveAttribute('aria-pressed', 'false');
    await userEvent.click(down);
    const box = await screen.findByRole('textbox', { name: 'What was wrong? (optional)' });
    expect(down).toHaveAttribute('aria-pressed', 'true');
    expect(box).toHaveAttribute('maxlength', '2000');
    await userEvent.type(box, 'It ignored the question');
    await userEvent.click(screen.getByRole('button', { name: 'Send feedback' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Thanks for your feedback.');
    expect(screen.queryByRole('textbox')).toBeNull();
    expect(sent(fetch)).toEqual([
      ['PUT', '/api/conversations/3/messages/9/feedback', { rating: 'down', comment: '' }],
      ['PUT', '/api/conversations/3/messages/9/feedback', { rating: 'down', comment: 'It ignored the question' }],
    ]);
  });

  it('keeps the comment when the thumb changes, and removes the feedback on the pressed thumb', async () => {
    const fetch = gateway();
    render(<AnswerFeedback conversationId={3} messageId={9} initial={{ rating: 'down', comment: 'too short' }} />);
    const up = screen.getByRole('button', { name: 'Good answer' });
    expect(screen.getByRole('button', { name: 'Bad answer' })).toHaveAttribute('aria-pressed', 'true');
    await userEvent.click(up);
    await waitFor(() => expect(up).toHaveAttribute('aria-pressed', 'true'));
    expect(screen.queryByRole('textbox')).toBeNull(); // a thumbs up opens no box by itself
    await userEvent.click(up);
    await waitFor(() => expect(up).toHaveAttribute('aria-pressed', 'false'));
    expect(screen.queryByRole('button', { name: /comment/ })).toBeNull();
    expect(sent(fetch)).toEqual([
      ['PUT', '/api/conversations/3/messages/9/feedback', { rating: 'up', comment: 'too short' }],
      ['DELETE', '/api/conversations/3/messages/9/feedback', null],
    ]);
  });

  it('offers a comment after a thumbs up, on request', async () => {
    gateway();
    render(<AnswerFeedback conversationId={1} messageId={2} initial={null} />);
    await userEvent.click(screen.getByRole('button', { name: 'Good answer' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Add a comment' }));
    expect(screen.getByRole('textbox', { name: 'What was good? (optional)' })).toBeInTheDocument();
  });

  it('shows a refusal and leaves the thumb as it was', async () => {
    vi.spyOn(globalThis, 'fetch').mockResolvedValue(jsonResponse(envelope('Conversation not found', 'not_found_error'), 404));
    render(<AnswerFeedback conversationId={1} messageId={2} initial={null} />);
    const up = screen.getByRole('button', { name: 'Good answer' });
    await userEvent.click(up);
    expect(await screen.findByRole('alert')).toHaveTextContent('Not found.');
    expect(up).toHaveAttribute('aria-pressed', 'false');
  });
});

describe('FeedbackPanel', () => {
  it('lists feedback with its turn, and filters go to the list and the CSV link', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockResolvedValue(
      jsonResponse({
        data: [
          {
            id: 1,
            message_id: 9,
            conversation_id: 3,
            user_id: 2,
            user_email: 'ann@example.com',
            rating: 'down',
            comment: 'It ignored the question',
            model: 'default',
            profile: 'big',
            question: 'What is 2+2?',
            answer: 'Fish.',
            created: '2026-01-02T03:04:05Z',
            updated: '2026-01-02T03:04:05Z',
          },
        ],
        total: 1,
        up: 0,
      }),
    );
    render(<FeedbackPanel />);
    const table = await screen.findByRole('table', { name: 'Feedback on answers' });
    expect(table).toHaveTextContent('It ignored the question');
    expect(table).toHaveTextContent('What is 2+2?');
    expect(table).toHaveTextContent('Fish.');
    expect(screen.getByRole('img', { name: 'Thumbs down' })).toBeInTheDocument();
    expect(screen.getByText('Ratings: 1 · 0 up · 1 down')).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText('Rating'), 'down');
    await userEvent.selectOptions(screen.getByLabelText('Comment'), 'true');
    await waitFor(() => expect(String(fetch.mock.calls.at(-1)![0])).toBe('/api/admin/feedback?rating=down&has_comment=true&limit=50&offset=0'));
    expect(screen.getByRole('link', { name: 'Download CSV' })).toHaveAttribute('href', '/api/admin/feedback.csv?rating=down&has_comment=true');
  });

  it('pages through the list, and a new filter starts again at the first page', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async () => jsonResponse({ data: [], total: 120, up: 60 }));
    render(<FeedbackPanel />);
    await screen.findByText('Ratings: 120 · 60 up · 60 down');
    expect(screen.getByRole('button', { name: 'Previous' })).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Next' }));
    await waitFor(() => expect(String(fetch.mock.calls.at(-1)![0])).toBe('/api/admin/feedback?limit=50&offset=50'));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Previous' })).toBeEnabled());
    await userEvent.selectOptions(screen.getByLabelText('Rating'), 'up');
    await waitFor(() => expect(String(fetch.mock.calls.at(-1)![0])).toBe('/api/admin/feedback?rating=up&limit=50&offset=0'));
    expect(screen.getByRole('button', { name: 'Previous' })).toBeDisabled();
  });
});
