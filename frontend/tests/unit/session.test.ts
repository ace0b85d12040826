import { useSession } from '../../src/features/auth/session';
import { useModels } from '../../src/features/chat/models';
import { useConversations } from '../../src/features/chat/conversations';
import { useChatStore } from '../../src/features/chat/store';
import { jsonResponse } from './helpers';

const me = (id: number, email: string) => ({
  id,
  email,
  role: 'user',
  disabled: false,
  settings: { system_prompt: `secret prompt of ${email}` },
  limits: null,
  created: '2026-01-01T00:00:00Z',
});

/** What user A leaves in memory: an open conversation, the list, the models. */
function leaveUserData() {
  const conversation = { id: 7, title: 'A’s plan', model: 'm', system_prompt: '', pinned: false, created: '', updated: '' };
  useChatStore.setState({
    conversationId: 7,
    conversation,
    messages: [{ key: 'k', id: 1, role: 'user', content: 'A’s secret', reasoning: null, reasoning_ms: null, status: 'complete', model: null, token_in: null, token_out: null, ttft_ms: null, latency_ms: null, tokens_per_s: null, error: null }],
  });
  useConversations.setState({ items: [conversation] });
  useModels.setState({ models: [{ id: 'a-only', object: 'model', created: 1767225600, owned_by: 'gpuchat', root: 'a-only', ready: true, defaults: {}, has_system_prompt: false, system_prompt: null }], loaded: true });
}

function expectNothingOfA() {
  const chat = useChatStore.getState();
  expect(chat.messages).toEqual([]);
  expect(chat.conversationId).toBeNull();
  expect(chat.conversation).toBeNull();
  expect(chat.options.systemPrompt).not.toContain('a@example.com');
  expect(useConversations.getState().items).toEqual([]);
  expect(useModels.getState().models).toEqual([]);
}

beforeEach(() => {
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const path = String(input);
    if (path === '/api/auth/login') return jsonResponse({ user: me(2, 'b@example.com') });
    if (path === '/api/me') return jsonResponse(me(2, 'b@example.com'));
    if (path.startsWith('/api/auth/logout')) return new Response(null, { status: 204 });
    return jsonResponse({}, 404);
  });
  useSession.setState({ status: 'ready', me: me(1, 'a@example.com') as never });
});
afterEach(() => vi.restoreAllMocks());

describe('session changes', () => {
  it('sign-out forgets the previous user’s chat, conversations and models', async () => {
    leaveUserData();
    await useSession.getState().logout();
    expect(useSession.getState().status).toBe('anonymous');
    expectNothingOfA();
  });

  it('sign-in starts from nothing, whatever the tab still held', async () => {
    leaveUserData();
    useSession.setState({ status: 'anonymous', me: null });
    await useSession.getState().login('b@example.com', 'password-123');
    expect(useSession.getState().me?.email).toBe('b@example.com');
    expectNothingOfA();
  });

  it('an expired session and signing out everywhere forget it too', async () => {
    leaveUserData();
    useSession.getState().expire();
    expectNothingOfA();
    useSession.setState({ status: 'ready', me: me(1, 'a@example.com') as never });
    leaveUserData();
    await useSession.getState().logoutEverywhere();
    expectNothingOfA();
  });
});
