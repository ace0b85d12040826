/**
 * One user's data in memory (the chat on screen, the conversation list, the models a
 * key sees) must not outlive their session: the next person to sign in on this tab would
 * see it. Every store holding such data registers its reset here, and the session runs
 * them all whenever who is signed in changes (sign-in, sign-out, an expired session).
 */
const resets = new Set<() => void>();

export function onUserChange(reset: () => void): void {
  resets.add(reset);
}

export function resetUserData(): void {
  for (const reset of resets) reset();
}
