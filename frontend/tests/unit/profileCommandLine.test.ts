import { describe, expect, it } from 'vitest';
import { commandLine, shellQuote, topField } from '../../src/features/profiles/commandLine';

describe('commandLine', () => {
  it('leaves plain words and the port placeholder as they are', () => {
    expect(commandLine(['vllm', 'serve', 'org/model', '--port', '<port>', '--seed=1'])).toBe(
      'vllm serve org/model --port <port> --seed=1',
    );
  });

  it('quotes spaces, quotes and shell characters so a paste means the same argv', () => {
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('$(rm -rf ~)')).toBe("'$(rm -rf ~)'");
    expect(shellQuote('>out')).toBe("'>out'");
    expect(shellQuote('a<b')).toBe("'a<b'");
    expect(shellQuote('http://127.0.0.1:<port>/v1')).toBe('http://127.0.0.1:<port>/v1');
    expect(shellQuote('')).toBe("''");
  });
});

describe('topField', () => {
  it('names the document field an error path starts with', () => {
    expect(topField('vllm.extra_args[2]')).toBe('vllm');
    expect(topField('timeouts')).toBe('timeouts');
    expect(topField(null)).toBeNull();
  });
});
