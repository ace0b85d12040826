import { Check, Copy } from 'lucide-react';
import { useEffect, useState } from 'react';
import { useT } from '../../i18n';
import { copyText } from './clipboard';

type Highlighter = (code: string, language: string) => string | null;
let highlighter: Promise<Highlighter> | null = null;
const loadHighlighter = () => (highlighter ??= import('./highlight').then((m) => m.highlight));

export function CodeBlock({ code, language }: { code: string; language: string }) {
  const t = useT();
  const [html, setHtml] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  useEffect(() => {
    let live = true;
    if (!language) return;
    void loadHighlighter().then((highlight) => {
      if (live) setHtml(highlight(code, language.toLowerCase()));
    });
    return () => {
      live = false;
    };
  }, [code, language]);

  const copy = async () => {
    if (await copyText(code)) {
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1500);
    }
  };

  return (
    <div className="code-block">
      <div className="code-block-bar">
        <span>{language || t('chat.code')}</span>
        <button type="button" onClick={() => void copy()} aria-label={t('chat.copyCode')}>
          {copied ? <Check aria-hidden className="h-3.5 w-3.5" /> : <Copy aria-hidden className="h-3.5 w-3.5" />}
          <span>{copied ? t('common.copied') : t('common.copy')}</span>
        </button>
      </div>
      <pre>
        {html === null ? (
          <code>{code}</code>
        ) : (
          // highlight.js escapes the code and adds only <span class="hljs-…"> elements.
          <code className="hljs" dangerouslySetInnerHTML={{ __html: html }} />
        )}
      </pre>
    </div>
  );
}
