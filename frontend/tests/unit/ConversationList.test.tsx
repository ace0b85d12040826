import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ConversationList } from '../../src/features/chat/ConversationList';
import { useConversations } from '../../src/features/chat/conversations';
import { useLanguage } from '../../src/i18n';
import { jsonResponse } from './helpers';

const conversation = (id: number, title: string, pinned = false) => ({
  id,
  title,
  model: 'default',
  system_prompt: '',
  pinned,
  created: '2026-01-01T00:00:00Z',
  updated: '2026-01-01T00:00:00Z',
});

let calls: { path: string; method: string; body: unknown }[] = [];

beforeEach(() => {
  useLanguage.getState().setLanguage('en');
  useConversations.setState({ items: [], nextBefore: null, q: '' });
  calls = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const path = String(input);
    const method = init?.method ?? 'GET';
    const body = init?.body ? JSON.parse(init.body as string) : undefined;
    calls.push({ path, method, body });
    if (path.startsWith('/api/conversations?')) {
      const q = new URL(path, 'http://x').searchParams.get('q') ?? '';
      const all = [conversation(1, 'Recent'), conversation(2, 'Pinned one', true), conversation(3, '100% <b>literal</b>')];
      return jsonResponse({ data: all.filter((c) => c.title.includes(q)), next_before: null });
    }
    if (method === 'PATCH') return jsonResponse({ ...conversation(Number(path.split('/').pop()), 'x'), ...body });
    if (method === 'DELETE') return new Response(null, { status: 204 });
    return jsonResponse({}, 404);
  });
});
afterEach(() => vi.restoreAllMocks());

const titles = () => screen.getAllByRole('link').map((a) => a.textContent);

describe('ConversationList', () => {
  it('lists pinned first, titles as plain text', async () => {
    render(<ConversationList activeId={1} />);
    await waitFor(() => expect(titles()).toEqual(['Pinned one', 'Recent', '100% <b>literal</b>']));
    expect(screen.getByRole('link', { current: 'page' })).toHaveTextContent('Recent');
  });

  it('searches on the server, the text sent as typed', async () => {
    render(<ConversationList activeId={null} />);
    await userEvent.type(screen.getByRole('searchbox', { name: 'Search conversations' }), '100%');
    await waitFor(() => expect(titles()).toEqual(['100% <b>literal</b>']));
    expect(calls.at(-1)?.path).toBe('/api/conversations?limit=50&q=100%25');
  });

  it('renames, pins and deletes (after confirming)', async () => {
    render(<ConversationList activeId={null} />);
    await waitFor(() => expect(titles()).toHaveLength(3));
    const row = screen.getByRole('link', { name: 'Recent' }).closest('li')!;

    await userEvent.click(within(row).getByRole('button', { name: 'Rename' }));
    const input = screen.getByRole('textbox', { name: 'Rename' });
    await userEvent.clear(input);
    await userEvent.type(input, '새 이름{Enter}');
    expect(calls.find((c) => c.method === 'PATCH')).toEqual({ path: '/api/conversations/1', method: 'PATCH', body: { title: '새 이름' } });

    const renamed = (await screen.findByRole('link', { name: '새 이름' })).closest('li')!;
    await userEvent.click(within(renamed).getByRole('button', { name: 'Pin' }));
    expect(calls.at(-1)).toEqual({ path: '/api/conversations/1', method: 'PATCH', body: { pinned: true } });

    const doomed = screen.getByRole('link', { name: '100% <b>literal</b>' }).closest('li')!;
    await userEvent.click(within(doomed).getByRole('button', { name: 'Delete' }));
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.queryByRole('link', { name: '100% <b>literal</b>' })).toBeNull());
    expect(calls.at(-1)).toMatchObject({ path: '/api/conversations/3', method: 'DELETE' });
  });
});
