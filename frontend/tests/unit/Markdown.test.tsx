import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Markdown, safeUrl } from '../../src/features/chat/Markdown';

function html(text: string) {
  const { container } = render(<Markdown text={text} />);
  return container;
}

describe('Markdown', () => {
  it('renders markdown and GFM tables', () => {
    const root = html('**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |');
    expect(root.querySelector('strong')?.textContent).toBe('bold');
    expect(root.querySelector('code.inline-code')?.textContent).toBe('code');
    expect(root.querySelectorAll('td')).toHaveLength(2);
  });

  it('shows raw HTML as text and never as elements', () => {
    const root = html('<img src=x onerror="alert(1)"> <script>alert(2)</script>\n\n<div onclick="x()">hi</div>');
    expect(root.querySelector('img, script, div[onclick]')).toBeNull();
    const attributes = [...root.querySelectorAll('*')].flatMap((el) => [...el.attributes].map((a) => a.name));
    expect(attributes.filter((name) => name.startsWith('on'))).toEqual([]);
    expect(root.textContent).toContain('<script>alert(2)</script>');
  });

  it('keeps only http(s) and mailto links, opened safely', () => {
    const root = html(
      '[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](data:text/html,x) [d](vbscript:x) [e](/api/keys) [f](https://ok.example/x) [g](mailto:a@b.c)',
    );
    const links = [...root.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://ok.example/x', 'mailto:a@b.c']);
    expect(links[0]!.getAttribute('rel')).toBe('noopener noreferrer nofollow');
    expect(links[0]!.getAttribute('target')).toBe('_blank');
    expect(root.textContent).toContain('a b c d e');
  });

  it('turns images into links, and unsafe image sources into text', () => {
    const root = html('![cat](https://img.example/cat.png) ![x](javascript:alert(1))');
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('a')?.getAttribute('href')).toBe('https://img.example/cat.png');
    expect(root.textContent).toContain('x');
  });

  it('renders fenced code with a copy button that copies the code', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    html('```python\nprint("<b>hi</b>")\n```');
    expect(screen.getByText('python')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: /copy code/i }));
    expect(writeText).toHaveBeenCalledWith('print("<b>hi</b>")');
    expect(document.querySelector('pre b')).toBeNull();
  });

  it('highlights known languages, still without executable markup', async () => {
    const root = html('```html\n<img src=x onerror=alert(1)>\n```');
    await waitFor(() => expect(root.querySelector('code.hljs')).not.toBeNull());
    expect(root.querySelector('code.hljs img')).toBeNull();
    expect(root.querySelector('code.hljs span')).not.toBeNull();
    expect(root.querySelector('code.hljs')?.textContent).toBe('<img src=x onerror=alert(1)>');
  });

  it('safeUrl allows only http, https and mailto', () => {
    expect(safeUrl(' https://a.b ')).toBe('https://a.b');
    expect(safeUrl('javascript:alert(1)')).toBe('');
    expect(safeUrl('java\tscript:alert(1)')).toBe('');
    expect(safeUrl('//evil.example')).toBe('');
  });
});
